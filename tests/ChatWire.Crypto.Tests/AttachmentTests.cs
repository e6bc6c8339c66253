namespace ChatWire.Crypto.Tests;

public sealed class AttachmentTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(AttachmentCipher.ChunkSize)]
    [InlineData(AttachmentCipher.ChunkSize + 1)]
    [InlineData((3 * AttachmentCipher.ChunkSize) - 5)]
    public async Task DecryptAsync_Encrypted_RoundTripsWithDeclaredSizeAndHash(int size)
    {
        var plaintext = Primitives.Random(size);

        var (keys, ciphertext) = await EncryptAsync(plaintext);
        var decrypted = await DecryptAsync(ciphertext, keys);

        Assert.Equal(plaintext, decrypted);
        Assert.Equal(AttachmentCipher.CiphertextLength(size), ciphertext.Length);
        Assert.Equal(ciphertext.Length, keys.CiphertextSize);
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(ciphertext), keys.Sha256);
    }

    // A sender streaming a file encrypts it twice: once for the hash and size it declares, once while uploading.
    [Fact]
    public async Task EncryptAgainAsync_SameFile_SameCiphertextByteForByte_ChangedFile_AttachmentMismatch()
    {
        var plaintext = Primitives.Random((2 * AttachmentCipher.ChunkSize) + 10);
        var (keys, ciphertext) = await EncryptAsync(plaintext);

        using var again = new MemoryStream();
        await AttachmentCipher.EncryptAgainAsync(new MemoryStream(plaintext), again, keys);
        Assert.Equal(ciphertext, again.ToArray());

        var changed = (byte[])plaintext.Clone();
        changed[^1] ^= 1;
        var ex = await Assert.ThrowsAsync<ChatWireCryptoException>(() => AttachmentCipher.EncryptAgainAsync(new MemoryStream(changed), Stream.Null, keys));
        Assert.Equal(CryptoError.AttachmentMismatch, ex.Error);
        var shorter = await Assert.ThrowsAsync<ChatWireCryptoException>(() => AttachmentCipher.EncryptAgainAsync(new MemoryStream(plaintext[..^1]), Stream.Null, keys));
        Assert.Equal(CryptoError.AttachmentMismatch, shorter.Error);
    }

    [Fact]
    public async Task DecryptAsync_TruncatedAtChunkBoundary_AttachmentMismatch()
    {
        var (keys, ciphertext) = await EncryptAsync(Primitives.Random((2 * AttachmentCipher.ChunkSize) + 10));
        var truncated = ciphertext[..(2 * (AttachmentCipher.ChunkSize + 16))];

        var error = await Assert.ThrowsAsync<ChatWireCryptoException>(() => DecryptAsync(truncated, keys with { CiphertextSize = truncated.Length }));

        Assert.Equal(CryptoError.AttachmentMismatch, error.Error);
    }

    [Fact]
    public async Task DecryptAsync_ChunksSwapped_AttachmentMismatch()
    {
        var (keys, ciphertext) = await EncryptAsync(Primitives.Random(3 * AttachmentCipher.ChunkSize));
        var chunk = AttachmentCipher.ChunkSize + 16;
        byte[] swapped = [.. ciphertext[chunk..(2 * chunk)], .. ciphertext[..chunk], .. ciphertext[(2 * chunk)..]];

        var error = await Assert.ThrowsAsync<ChatWireCryptoException>(() => DecryptAsync(swapped, keys));

        Assert.Equal(CryptoError.AttachmentMismatch, error.Error);
    }

    [Fact]
    public async Task DecryptAsync_OtherHashDeclared_AttachmentMismatch()
    {
        var (keys, ciphertext) = await EncryptAsync(Primitives.Random(100));

        var error = await Assert.ThrowsAsync<ChatWireCryptoException>(() => DecryptAsync(ciphertext, keys with { Sha256 = new byte[32] }));

        Assert.Equal(CryptoError.AttachmentMismatch, error.Error);
    }

    [Fact]
    public void EncryptChunk_NonceAndAad_BindIndexLastAndFileId()
    {
        var key = Primitives.Random(32);
        var prefix = Primitives.Random(7);
        var fileId = Guid.CreateVersion7();
        var chunk = AttachmentCipher.EncryptChunk(key, prefix, fileId, 4, true, "data"u8);

        byte[] nonce = [.. prefix, 0, 0, 0, 4, 1];
        byte[] aad = [.. "CW-att-v1"u8.ToArray(), .. Convert.FromHexString(fileId.ToString("N")), 0, 0, 0, 4, 1];
        Assert.Equal("data"u8.ToArray(), Primitives.Open(key, nonce, aad, chunk));
        Assert.Null(AttachmentCipher.DecryptChunk(key, prefix, fileId, 4, false, chunk));
        Assert.Null(AttachmentCipher.DecryptChunk(key, prefix, fileId, 5, true, chunk));
        Assert.Null(AttachmentCipher.DecryptChunk(key, prefix, Guid.CreateVersion7(), 4, true, chunk));
    }

    [Fact]
    public async Task AttachmentDescriptor_Encode_RoundTrips()
    {
        var (keys, _) = await EncryptAsync(Primitives.Random(1000));
        var descriptor = new AttachmentDescriptor(Guid.CreateVersion7(), keys, "image/png", 640, 480, [1, 2, 3]);

        var decoded = AttachmentDescriptor.Decode(descriptor.Encode());

        Assert.Equal(descriptor.AttachmentId, decoded.AttachmentId);
        Assert.Equal(keys.FileKey, decoded.Keys.FileKey);
        Assert.Equal(keys.Sha256, decoded.Keys.Sha256);
        Assert.Equal(keys.NoncePrefix, decoded.Keys.NoncePrefix);
        Assert.Equal((keys.FileId, keys.CiphertextSize, keys.PlaintextSize), (decoded.Keys.FileId, decoded.Keys.CiphertextSize, decoded.Keys.PlaintextSize));
        Assert.Equal(("image/png", 640u, 480u), (decoded.MimeType, decoded.Width, decoded.Height));
        Assert.Equal([1, 2, 3], decoded.Thumbnail!);
        Assert.Null(AttachmentDescriptor.Decode((descriptor with { Thumbnail = null }).Encode()).Thumbnail);
    }

    [Fact]
    public async Task AttachmentDescriptor_DecodeSizesThatDisagree_Malformed()
    {
        var (keys, _) = await EncryptAsync(Primitives.Random(10));
        var bytes = new AttachmentDescriptor(Guid.CreateVersion7(), keys with { CiphertextSize = keys.CiphertextSize + 1 }, "a/b", 0, 0, null).Encode();

        Assert.Throws<ChatWireCryptoException>(() => AttachmentDescriptor.Decode(bytes));
    }

    private static async Task<(AttachmentKeys Keys, byte[] Ciphertext)> EncryptAsync(byte[] plaintext)
    {
        using var output = new MemoryStream();
        var keys = await AttachmentCipher.EncryptAsync(new MemoryStream(plaintext), output);
        return (keys, output.ToArray());
    }

    private static async Task<byte[]> DecryptAsync(byte[] ciphertext, AttachmentKeys keys)
    {
        using var output = new MemoryStream();
        await AttachmentCipher.DecryptAsync(new MemoryStream(ciphertext), output, keys);
        return output.ToArray();
    }
}
