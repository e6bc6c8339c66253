using System.Security.Cryptography;
using System.Text;

namespace ChatWire.Crypto.Tests;

public sealed class PrimitivesTests
{
    [Fact]
    public void Agree_BothSides_SameSecret()
    {
        var alice = Primitives.GenerateX25519();
        var bob = Primitives.GenerateX25519();
        var ab = new byte[32];
        var ba = new byte[32];

        Primitives.Agree(alice.PrivateKey, bob.PublicKey, ab);
        Primitives.Agree(bob.PrivateKey, alice.PublicKey, ba);

        Assert.Equal(ab, ba);
        Assert.False(Primitives.IsAllZero(ab));
    }

    [Theory]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("0100000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")]
    public void Agree_LowOrderPublicKey_ThrowsAllZero(string lowOrderPoint)
    {
        var mine = Primitives.GenerateX25519();

        var error = Assert.Throws<ChatWireCryptoException>(() => Primitives.Agree(mine.PrivateKey, Convert.FromHexString(lowOrderPoint), new byte[32]));

        Assert.Equal(CryptoError.AllZeroSharedSecret, error.Error);
    }

    [Fact]
    public void Verify_SignatureOfOtherMessage_False()
    {
        var key = Primitives.GenerateEd25519();
        var signature = Primitives.Sign(key.PrivateKey, "one"u8);

        Assert.True(Primitives.Verify(key.PublicKey, "one"u8, signature));
        Assert.False(Primitives.Verify(key.PublicKey, "two"u8, signature));
        Assert.False(Primitives.Verify(key.PublicKey, "one"u8, signature.AsSpan(0, 63)));
    }

    [Fact]
    public void Ed25519PublicKey_OfGeneratedSeed_MatchesPair()
    {
        var key = Primitives.GenerateEd25519();

        Assert.Equal(key.PublicKey, Primitives.Ed25519PublicKey(key.PrivateKey));
    }

    [Fact]
    public void Open_TamperedAssociatedData_Null()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var nonce = new byte[12];
        var sealedBytes = Primitives.Seal(key, nonce, "aad"u8, "hello"u8);

        Assert.Equal("hello", Encoding.ASCII.GetString(Primitives.Open(key, nonce, "aad"u8, sealedBytes)!));
        Assert.Null(Primitives.Open(key, nonce, "aae"u8, sealedBytes));
        Assert.Null(Primitives.Open(key, nonce, "aad"u8, sealedBytes.AsSpan(0, 15)));
    }

    [Fact]
    public void Hkdf_Rfc5869Case1_MatchesOkm()
    {
        // RFC 5869 Appendix A.1.
        var ikm = Convert.FromHexString("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
        var salt = Convert.FromHexString("000102030405060708090a0b0c");
        var info = Convert.FromHexString("f0f1f2f3f4f5f6f7f8f9");
        var okm = new byte[42];

        Primitives.Hkdf(salt, ikm, info, okm);

        Assert.Equal("077709362C2E32DF0DDC3F0DC47BBA6390B6C73BB50F9C3122EC844AD7C2B3E5", Convert.ToHexString(Primitives.HkdfExtract(salt, ikm)));
        Assert.Equal("3CB25F25FAACD57A90434F64D0362F2A2D2D0A90CF1A5A4C5DB02D56ECC4C5BF34007208D5B887185865", Convert.ToHexString(okm));
    }
}
