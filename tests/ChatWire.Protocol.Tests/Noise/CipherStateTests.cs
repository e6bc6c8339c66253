using System.Buffers.Binary;
using System.Security.Cryptography;
using ChatWire.Protocol.Noise;

namespace ChatWire.Protocol.Tests.Noise;

// The CipherState and SymmetricState checked against the BCL's independent AES-GCM and HKDF, plus the nonce rules.
public class CipherStateTests
{
    private static readonly byte[] Key = Convert.FromHexString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    private static readonly byte[] Ad = "header"u8.ToArray();
    private static readonly byte[] Plaintext = "a ChatWire frame stream"u8.ToArray();

    [Fact]
    public void EncryptWithAd_AnyNonce_MatchesBclAesGcmWithNoiseNonceLayout()
    {
        using var cipher = Keyed();
        cipher.SetNonce(0x0102030405060708);
        var ciphertext = new byte[Plaintext.Length + CipherState.TagSize];

        Assert.Equal(ciphertext.Length, cipher.EncryptWithAd(Ad, Plaintext, ciphertext));

        Assert.Equal(BclEncrypt(Key, 0x0102030405060708, Ad, Plaintext), ciphertext);
        Assert.Equal(0x0102030405060709UL, cipher.Nonce);
    }

    [Fact]
    public void EncryptWithAd_InPlace_SameCiphertextAsSeparateBuffers()
    {
        using var cipher = Keyed();
        var buffer = new byte[Plaintext.Length + CipherState.TagSize];
        Plaintext.CopyTo(buffer, 0);

        cipher.EncryptWithAd(Ad, buffer.AsSpan(0, Plaintext.Length), buffer);

        Assert.Equal(BclEncrypt(Key, 0, Ad, Plaintext), buffer);
    }

    [Fact]
    public void DecryptWithAd_FlippedBitAnywhere_FailsAndKeepsNonce()
    {
        var ciphertext = BclEncrypt(Key, 0, Ad, Plaintext);
        for (var bit = 0; bit < ciphertext.Length * 8; bit++)
        {
            using var cipher = Keyed();
            var tampered = (byte[])ciphertext.Clone();
            tampered[bit / 8] ^= (byte)(1 << (bit % 8));
            var output = new byte[Plaintext.Length];

            var error = Assert.Throws<NoiseException>(() => cipher.DecryptWithAd(Ad, tampered, output));

            Assert.Equal(NoiseError.DecryptionFailed, error.Error);
            Assert.Equal(0UL, cipher.Nonce);
            Assert.All(output, b => Assert.Equal(0, b));
        }
    }

    [Fact]
    public void DecryptWithAd_ReplayedCiphertext_FailsOnNonceMismatch()
    {
        using var sender = Keyed();
        using var receiver = Keyed();
        var ciphertext = new byte[Plaintext.Length + CipherState.TagSize];
        var output = new byte[Plaintext.Length];
        sender.EncryptWithAd(Ad, Plaintext, ciphertext);
        receiver.DecryptWithAd(Ad, ciphertext, output);

        var error = Assert.Throws<NoiseException>(() => receiver.DecryptWithAd(Ad, ciphertext, output));

        Assert.Equal(NoiseError.DecryptionFailed, error.Error);
    }

    [Fact]
    public void DecryptWithAd_ShorterThanTag_Fails()
    {
        using var cipher = Keyed();

        var error = Assert.Throws<NoiseException>(() => cipher.DecryptWithAd(Ad, new byte[CipherState.TagSize - 1], new byte[16]));

        Assert.Equal(NoiseError.DecryptionFailed, error.Error);
    }

    [Fact]
    public void EncryptWithAd_NonceAtReservedValue_RefusesAfterLastUsableNonce()
    {
        using var cipher = Keyed();
        cipher.SetNonce(CipherState.ReservedNonce - 1);
        var ciphertext = new byte[Plaintext.Length + CipherState.TagSize];

        cipher.EncryptWithAd(Ad, Plaintext, ciphertext);
        var error = Assert.Throws<NoiseException>(() => cipher.EncryptWithAd(Ad, Plaintext, ciphertext));

        Assert.Equal(NoiseError.NonceExhausted, error.Error);
        Assert.Equal(CipherState.ReservedNonce, cipher.Nonce);
    }

    [Fact]
    public void DecryptWithAd_NonceAtReservedValue_Refuses()
    {
        using var cipher = Keyed();
        cipher.SetNonce(CipherState.ReservedNonce);

        var error = Assert.Throws<NoiseException>(() => cipher.DecryptWithAd(Ad, BclEncrypt(Key, CipherState.ReservedNonce, Ad, Plaintext), new byte[Plaintext.Length]));

        Assert.Equal(NoiseError.NonceExhausted, error.Error);
    }

    [Fact]
    public void Rekey_BothSides_NewKeyIsSpecRekeyOfOldAndStreamContinues()
    {
        using var sender = Keyed();
        using var receiver = Keyed();
        var ciphertext = new byte[Plaintext.Length + CipherState.TagSize];
        var output = new byte[Plaintext.Length];
        sender.EncryptWithAd(Ad, Plaintext, ciphertext);
        receiver.DecryptWithAd(Ad, ciphertext, output);

        sender.Rekey();
        receiver.Rekey();

        // REKEY(k) = first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zeros), computed here by the BCL.
        var expected = BclEncrypt(Key, CipherState.ReservedNonce, [], new byte[32])[..32];
        Assert.Equal(expected, sender.KeyForTest.ToArray());
        Assert.Equal(expected, receiver.KeyForTest.ToArray());
        Assert.Equal(1UL, sender.Nonce);
        sender.EncryptWithAd(Ad, Plaintext, ciphertext);
        Assert.Equal(BclEncrypt(expected, 1, Ad, Plaintext), ciphertext);
        Assert.Equal(Plaintext.Length, receiver.DecryptWithAd(Ad, ciphertext, output));
        Assert.Equal(Plaintext, output);
    }

    [Fact]
    public void Rekey_OneSideOnly_PeerCannotDecrypt()
    {
        using var sender = Keyed();
        using var receiver = Keyed();
        var ciphertext = new byte[Plaintext.Length + CipherState.TagSize];
        sender.Rekey();
        sender.EncryptWithAd(Ad, Plaintext, ciphertext);

        var error = Assert.Throws<NoiseException>(() => receiver.DecryptWithAd(Ad, ciphertext, new byte[Plaintext.Length]));

        Assert.Equal(NoiseError.DecryptionFailed, error.Error);
    }

    [Fact]
    public void EncryptWithAd_NoKey_PassesPlaintextThrough()
    {
        using var cipher = new CipherState();
        var output = new byte[Plaintext.Length];

        Assert.Equal(Plaintext.Length, cipher.EncryptWithAd(Ad, Plaintext, output));

        Assert.Equal(Plaintext, output);
        Assert.Equal(0UL, cipher.Nonce);
    }

    [Fact]
    public void Dispose_Keyed_ZeroesKeyAndRefusesUse()
    {
        var cipher = Keyed();

        cipher.Dispose();

        Assert.All(cipher.KeyForTest.ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(NoiseError.InvalidState, Assert.Throws<NoiseException>(() => cipher.EncryptWithAd(Ad, Plaintext, new byte[64])).Error);
        Assert.Equal(NoiseError.InvalidState, Assert.Throws<NoiseException>(() => cipher.DecryptWithAd(Ad, new byte[64], new byte[64])).Error);
    }

    [Fact]
    public void Hkdf_ThreeOutputs_EqualsRfc5869WithChainingKeyAsSaltAndNoInfo()
    {
        var chainingKey = RandomNumberGenerator.GetBytes(32);
        var inputKeyMaterial = RandomNumberGenerator.GetBytes(32);
        var outputs = new byte[96];

        SymmetricState.Hkdf(chainingKey, inputKeyMaterial, outputs.AsSpan(0, 32), outputs.AsSpan(32, 32), outputs.AsSpan(64, 32));

        Assert.Equal(HKDF.DeriveKey(HashAlgorithmName.SHA256, inputKeyMaterial, 96, chainingKey, []), outputs);
    }

    [Fact]
    public void MixKeyAndHash_Ikm_SetsKeyFromThirdOutputAndHashesSecond()
    {
        var name = "Noise_XXpsk0_25519_AESGCM_SHA256"u8.ToArray();
        using var state = new SymmetricState(name);
        var inputKeyMaterial = RandomNumberGenerator.GetBytes(32);
        var hashBefore = state.HandshakeHash.ToArray();

        state.MixKeyAndHash(inputKeyMaterial);

        // The name is exactly 32 bytes, so h = ck = the name itself (§5.2, no hashing and no padding).
        Assert.Equal(name, hashBefore);
        var outputs = HKDF.DeriveKey(HashAlgorithmName.SHA256, inputKeyMaterial, 96, name, []);
        Assert.Equal(SHA256.HashData([.. hashBefore, .. outputs[32..64]]), state.HandshakeHash.ToArray());
        Assert.Equal(outputs[64..96], state.Cipher.KeyForTest.ToArray());
    }

    private static CipherState Keyed()
    {
        var cipher = new CipherState();
        cipher.InitializeKey(Key);
        return cipher;
    }

    private static byte[] BclEncrypt(byte[] key, ulong n, byte[] ad, byte[] plaintext)
    {
        var nonce = new byte[12];
        BinaryPrimitives.WriteUInt64BigEndian(nonce.AsSpan(4), n);
        var output = new byte[plaintext.Length + 16];
        using var aes = new AesGcm(key, 16);
        aes.Encrypt(nonce, plaintext, output.AsSpan(0, plaintext.Length), output.AsSpan(plaintext.Length), ad);
        return output;
    }
}
