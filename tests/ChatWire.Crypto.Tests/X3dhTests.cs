namespace ChatWire.Crypto.Tests;

public sealed class X3dhTests
{
    private static readonly Guid UserA = Guid.CreateVersion7();
    private static readonly Guid DeviceA = Guid.CreateVersion7();
    private static readonly Guid UserB = Guid.CreateVersion7();
    private static readonly Guid DeviceB = Guid.CreateVersion7();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Open_SealedMessage_ReturnsPlaintext(bool withOneTimePrekey)
    {
        var (a, b, bundle, spkPrivate, opkPrivate) = Setup(withOneTimePrekey);

        var sealedMessage = X3dh.Seal(UserA, DeviceA, a, bundle, "seed"u8);
        var ids = X3dh.ReadPrekeyIds(sealedMessage);
        var opened = X3dh.Open(UserB, DeviceB, b, spkPrivate, opkPrivate, UserA, DeviceA, a.Dh.PublicKey, sealedMessage);

        Assert.Equal("seed"u8.ToArray(), opened);
        Assert.Equal((5u, withOneTimePrekey ? 9u : 0u), ids);
    }

    [Fact]
    public void Seal_BadSignedPrekeySignature_ThrowsBadSignature()
    {
        var (a, _, bundle, _, _) = Setup(false);
        var substituted = bundle with { SignedPrekey = bundle.SignedPrekey with { PublicKey = Primitives.GenerateX25519().PublicKey } };

        var error = Assert.Throws<ChatWireCryptoException>(() => X3dh.Seal(UserA, DeviceA, a, substituted, "x"u8));

        Assert.Equal(CryptoError.BadSignature, error.Error);
    }

    [Fact]
    public void Open_OtherClaimedSender_ThrowsDecryptionFailed()
    {
        var (a, b, bundle, spkPrivate, _) = Setup(false);
        var sealedMessage = X3dh.Seal(UserA, DeviceA, a, bundle, "x"u8);

        var error = Assert.Throws<ChatWireCryptoException>(() => X3dh.Open(UserB, DeviceB, b, spkPrivate, [], UserA, Guid.CreateVersion7(), a.Dh.PublicKey, sealedMessage));

        Assert.Equal(CryptoError.DecryptionFailed, error.Error);
    }

    [Fact]
    public void Open_LowOrderEphemeralKey_ThrowsAllZero()
    {
        var (a, b, bundle, spkPrivate, _) = Setup(false);
        var sealedMessage = X3dh.Seal(UserA, DeviceA, a, bundle, "x"u8);
        sealedMessage.AsSpan(1, 32).Clear();

        var error = Assert.Throws<ChatWireCryptoException>(() => X3dh.Open(UserB, DeviceB, b, spkPrivate, [], UserA, DeviceA, a.Dh.PublicKey, sealedMessage));

        Assert.Equal(CryptoError.AllZeroSharedSecret, error.Error);
    }

    [Fact]
    public void Open_OneTimePrekeyNotHeld_ThrowsNoKey()
    {
        var (a, b, bundle, spkPrivate, _) = Setup(true);
        var sealedMessage = X3dh.Seal(UserA, DeviceA, a, bundle, "x"u8);

        var error = Assert.Throws<ChatWireCryptoException>(() => X3dh.Open(UserB, DeviceB, b, spkPrivate, [], UserA, DeviceA, a.Dh.PublicKey, sealedMessage));

        Assert.Equal(CryptoError.NoKeyForChain, error.Error);
    }

    private static (DeviceKeys A, DeviceKeys B, PrekeyBundle Bundle, byte[] SpkPrivate, byte[] OpkPrivate) Setup(bool withOneTimePrekey)
    {
        var a = DeviceKeys.Generate();
        var b = DeviceKeys.Generate();
        var spk = SignedPrekey.Generate(b, DeviceB, 5, out var spkPrivate);
        var opk = Primitives.GenerateX25519();
        var bundle = new PrekeyBundle(UserB, DeviceB, b.Signing.PublicKey, b.Dh.PublicKey, spk, withOneTimePrekey ? new OneTimePrekey(9, opk.PublicKey) : null);
        return (a, b, bundle, spkPrivate, withOneTimePrekey ? opk.PrivateKey : []);
    }
}
