using System.Buffers.Binary;
using System.Security.Cryptography;

namespace ChatWire.Crypto;

/// <summary>
/// Attachment encryption (docs/e2e.md "Attachments encryption"): STREAM-style AES-256-GCM in 64 KiB chunks with
/// nonce = nonce_prefix(7) || u32 index || u8 last and AAD = "CW-att-v1" || file_id || u32 index || u8 last, so a
/// truncated, reordered or spliced file fails to decrypt. The SHA-256 of the whole ciphertext is declared to the server.
/// </summary>
public static class AttachmentCipher
{
    /// <summary>Plaintext bytes per chunk.</summary>
    public const int ChunkSize = 64 * 1024;

    /// <summary>The random per-file key size.</summary>
    public const int FileKeySize = 32;

    /// <summary>The random nonce prefix size.</summary>
    public const int NoncePrefixSize = 7;

    private const int EncryptedChunkSize = ChunkSize + Primitives.GcmTagSize;

    /// <summary>The ciphertext size of <paramref name="plaintextLength"/> bytes (an empty file is one empty chunk).</summary>
    public static long CiphertextLength(long plaintextLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(plaintextLength);
        var chunks = Math.Max(1, (plaintextLength + ChunkSize - 1) / ChunkSize);
        return plaintextLength + (chunks * Primitives.GcmTagSize);
    }

    /// <summary>
    /// Encrypts <paramref name="plaintext"/> into <paramref name="ciphertext"/> under a fresh file key, and returns the
    /// keys, hash and sizes. The caller fills in the server's attachment id and the display fields of the descriptor.
    /// </summary>
    public static Task<AttachmentKeys> EncryptAsync(Stream plaintext, Stream ciphertext, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        ArgumentNullException.ThrowIfNull(ciphertext);
        return EncryptWithAsync(plaintext, ciphertext, Guid.CreateVersion7(), Primitives.Random(FileKeySize), Primitives.Random(NoncePrefixSize), cancellationToken);
    }

    /// <summary>
    /// Encrypts the same file again under the keys an earlier <see cref="EncryptAsync"/> returned, producing the same
    /// ciphertext byte for byte: a sender that does not hold the file in memory encrypts once to learn the hash and size
    /// it must declare, then again while it uploads. Throws <see cref="CryptoError.AttachmentMismatch"/> when what was
    /// written differs from <paramref name="keys"/> (the file changed between the two passes); the upload must then be
    /// abandoned, and the server refuses it anyway (its hash is checked).
    /// </summary>
    public static async Task EncryptAgainAsync(Stream plaintext, Stream ciphertext, AttachmentKeys keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        ArgumentNullException.ThrowIfNull(ciphertext);
        ArgumentNullException.ThrowIfNull(keys);
        var again = await EncryptWithAsync(plaintext, ciphertext, keys.FileId, keys.FileKey, keys.NoncePrefix, cancellationToken).ConfigureAwait(false);
        if (again.CiphertextSize != keys.CiphertextSize || !CryptographicOperations.FixedTimeEquals(again.Sha256, keys.Sha256))
        {
            throw Mismatch("The file changed between the two encryptions of one upload.");
        }
    }

    private static async Task<AttachmentKeys> EncryptWithAsync(Stream plaintext, Stream ciphertext, Guid fileId, byte[] fileKey, byte[] noncePrefix, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var current = new byte[ChunkSize];
        var next = new byte[ChunkSize];
        var currentLength = await ReadFullAsync(plaintext, current, cancellationToken).ConfigureAwait(false);
        long plaintextLength = 0;
        long ciphertextLength = 0;
        for (uint index = 0; ; index = checked(index + 1))
        {
            // Read ahead one chunk: only then is it known whether the current one is the last.
            var nextLength = currentLength == ChunkSize ? await ReadFullAsync(plaintext, next, cancellationToken).ConfigureAwait(false) : 0;
            var last = nextLength == 0;
            var encrypted = EncryptChunk(fileKey, noncePrefix, fileId, index, last, current.AsSpan(0, currentLength));
            hash.AppendData(encrypted);
            await ciphertext.WriteAsync(encrypted, cancellationToken).ConfigureAwait(false);
            plaintextLength += currentLength;
            ciphertextLength += encrypted.Length;
            if (last)
            {
                break;
            }

            (current, next) = (next, current);
            currentLength = nextLength;
        }

        CryptographicOperations.ZeroMemory(current);
        CryptographicOperations.ZeroMemory(next);
        return new AttachmentKeys(fileId, fileKey, noncePrefix, hash.GetHashAndReset(), ciphertextLength, plaintextLength);
    }

    /// <summary>
    /// Decrypts <paramref name="ciphertext"/> into <paramref name="plaintext"/>, checking every chunk, the size and the
    /// SHA-256 of the whole ciphertext. Throws <see cref="CryptoError.AttachmentMismatch"/> on any failure; then the
    /// output written so far must be discarded.
    /// </summary>
    public static async Task DecryptAsync(Stream ciphertext, Stream plaintext, AttachmentKeys keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ciphertext);
        ArgumentNullException.ThrowIfNull(plaintext);
        ArgumentNullException.ThrowIfNull(keys);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var current = new byte[EncryptedChunkSize];
        var next = new byte[EncryptedChunkSize];
        var currentLength = await ReadFullAsync(ciphertext, current, cancellationToken).ConfigureAwait(false);
        long total = 0;
        for (uint index = 0; ; index = checked(index + 1))
        {
            var nextLength = currentLength == EncryptedChunkSize ? await ReadFullAsync(ciphertext, next, cancellationToken).ConfigureAwait(false) : 0;
            var last = nextLength == 0;
            hash.AppendData(current, 0, currentLength);
            total += currentLength;
            if (total > keys.CiphertextSize)
            {
                throw Mismatch("The attachment is longer than its descriptor says.");
            }

            var chunk = DecryptChunk(keys.FileKey, keys.NoncePrefix, keys.FileId, index, last, current.AsSpan(0, currentLength))
                ?? throw Mismatch($"Chunk {index} of the attachment does not decrypt (damaged, truncated or reordered).");
            await plaintext.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
            CryptographicOperations.ZeroMemory(chunk);
            if (last)
            {
                break;
            }

            (current, next) = (next, current);
            currentLength = nextLength;
        }

        if (total != keys.CiphertextSize || !CryptographicOperations.FixedTimeEquals(hash.GetHashAndReset(), keys.Sha256))
        {
            throw Mismatch("The attachment's size or SHA-256 is not the one its descriptor declares.");
        }
    }

    internal static byte[] EncryptChunk(ReadOnlySpan<byte> fileKey, ReadOnlySpan<byte> noncePrefix, Guid fileId, uint index, bool last, ReadOnlySpan<byte> chunk)
    {
        Span<byte> nonce = stackalloc byte[Primitives.GcmNonceSize];
        WriteNonce(noncePrefix, index, last, nonce);
        return Primitives.Seal(fileKey, nonce, AssociatedData(fileId, index, last), chunk);
    }

    internal static byte[]? DecryptChunk(ReadOnlySpan<byte> fileKey, ReadOnlySpan<byte> noncePrefix, Guid fileId, uint index, bool last, ReadOnlySpan<byte> chunk)
    {
        Span<byte> nonce = stackalloc byte[Primitives.GcmNonceSize];
        WriteNonce(noncePrefix, index, last, nonce);
        return Primitives.Open(fileKey, nonce, AssociatedData(fileId, index, last), chunk);
    }

    private static void WriteNonce(ReadOnlySpan<byte> noncePrefix, uint index, bool last, Span<byte> nonce)
    {
        if (noncePrefix.Length != NoncePrefixSize)
        {
            throw ChatWireCryptoException.Malformed("An attachment nonce prefix is 7 bytes.");
        }

        noncePrefix.CopyTo(nonce);
        BinaryPrimitives.WriteUInt32BigEndian(nonce[7..], index);
        nonce[11] = last ? (byte)1 : (byte)0;
    }

    private static byte[] AssociatedData(Guid fileId, uint index, bool last) =>
        new ByteWriter(32).Bytes(Labels.Attachment).Id(fileId).U32(index).U8(last ? (byte)1 : (byte)0).ToArray();

    private static ChatWireCryptoException Mismatch(string message) => new(CryptoError.AttachmentMismatch, message);

    private static async Task<int> ReadFullAsync(Stream stream, byte[] buffer, CancellationToken cancellationToken)
    {
        var filled = 0;
        while (filled < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            filled += read;
        }

        return filled;
    }
}

/// <summary>What decrypting an attachment needs, produced by <see cref="AttachmentCipher.EncryptAsync"/>.</summary>
/// <param name="FileId">A random id made when encrypting, bound into every chunk's associated data (the server's attachment id does not exist yet when the ciphertext's hash must be known).</param>
/// <param name="FileKey">The AES-256 key (32 bytes). Secret.</param>
/// <param name="NoncePrefix">The nonce prefix (7 bytes).</param>
/// <param name="Sha256">SHA-256 of the whole ciphertext (declared with POST /v1/attachments).</param>
/// <param name="CiphertextSize">Ciphertext bytes, tags included (declared with POST /v1/attachments).</param>
/// <param name="PlaintextSize">Plaintext bytes.</param>
public sealed record AttachmentKeys(Guid FileId, byte[] FileKey, byte[] NoncePrefix, byte[] Sha256, long CiphertextSize, long PlaintextSize);
