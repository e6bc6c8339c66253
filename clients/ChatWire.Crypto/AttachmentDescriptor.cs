using System.Text;

namespace ChatWire.Crypto;

/// <summary>
/// What a message says about an attachment, carried inside the encrypted message body: where to fetch it, how to
/// decrypt and check it, and how to show it. Encoded as u8 version(1) || attachment_id || file_id || file_key(32) ||
/// nonce_prefix(7) || sha256(32) || u64 ciphertext_size || u64 plaintext_size || u16 mime_len || mime (UTF-8) ||
/// u32 width || u32 height || u32 thumbnail_len || thumbnail.
/// </summary>
/// <param name="AttachmentId">The server's attachment id (GET /v1/attachments/{id}).</param>
/// <param name="Keys">File id, key, nonce prefix, ciphertext hash and sizes.</param>
/// <param name="MimeType">The media type the sender declared (checked against an allow-list by the receiver, not the server).</param>
/// <param name="Width">Image or video width in pixels, 0 when not an image.</param>
/// <param name="Height">Image or video height in pixels, 0 when not an image.</param>
/// <param name="Thumbnail">A small preview image, or null.</param>
public sealed record AttachmentDescriptor(Guid AttachmentId, AttachmentKeys Keys, string MimeType, uint Width, uint Height, byte[]? Thumbnail)
{
    private const byte Version = 1;

    /// <summary>At most this many thumbnail bytes (a preview, not a second copy of the file).</summary>
    public const int MaxThumbnailBytes = 64 * 1024;

    /// <summary>The binary encoding.</summary>
    public byte[] Encode()
    {
        ArgumentNullException.ThrowIfNull(Keys);
        var mime = Encoding.UTF8.GetBytes(MimeType);
        var thumbnail = Thumbnail ?? [];
        if (mime.Length > 255 || thumbnail.Length > MaxThumbnailBytes || Keys.FileKey.Length != 32 || Keys.NoncePrefix.Length != 7 || Keys.Sha256.Length != 32)
        {
            throw ChatWireCryptoException.Malformed("The attachment descriptor has a field of the wrong size.");
        }

        return new ByteWriter(128 + mime.Length + thumbnail.Length)
            .U8(Version).Id(AttachmentId).Id(Keys.FileId).Bytes(Keys.FileKey).Bytes(Keys.NoncePrefix).Bytes(Keys.Sha256)
            .U64((ulong)Keys.CiphertextSize).U64((ulong)Keys.PlaintextSize)
            .U16((ushort)mime.Length).Bytes(mime).U32(Width).U32(Height).U32((uint)thumbnail.Length).Bytes(thumbnail)
            .ToArray();
    }

    /// <summary>Decodes <see cref="Encode"/>'s output; anything else is <see cref="CryptoError.Malformed"/>.</summary>
    public static AttachmentDescriptor Decode(ReadOnlySpan<byte> bytes)
    {
        var reader = new ByteReader(bytes);
        if (reader.U8() != Version)
        {
            throw ChatWireCryptoException.Malformed("Unknown attachment descriptor version.");
        }

        var attachmentId = reader.Id();
        var fileId = reader.Id();
        var fileKey = reader.Bytes(32).ToArray();
        var noncePrefix = reader.Bytes(7).ToArray();
        var sha256 = reader.Bytes(32).ToArray();
        var ciphertextSize = reader.U64();
        var plaintextSize = reader.U64();
        if (ciphertextSize > long.MaxValue || plaintextSize > ciphertextSize
            || AttachmentCipher.CiphertextLength((long)plaintextSize) != (long)ciphertextSize)
        {
            throw ChatWireCryptoException.Malformed("The attachment descriptor's sizes do not agree.");
        }

        var mimeLength = reader.U16();
        if (mimeLength > 255)
        {
            throw ChatWireCryptoException.Malformed("The attachment media type is too long.");
        }

        var mime = Encoding.UTF8.GetString(reader.Bytes(mimeLength));
        var width = reader.U32();
        var height = reader.U32();
        var thumbnailLength = reader.U32();
        if (thumbnailLength > MaxThumbnailBytes)
        {
            throw ChatWireCryptoException.Malformed("The attachment thumbnail is too large.");
        }

        var thumbnail = thumbnailLength == 0 ? null : reader.Bytes((int)thumbnailLength).ToArray();
        reader.EnsureEnd("The attachment descriptor");
        var keys = new AttachmentKeys(fileId, fileKey, noncePrefix, sha256, (long)ciphertextSize, (long)plaintextSize);
        return new AttachmentDescriptor(attachmentId, keys, mime, width, height, thumbnail);
    }
}
