using System.Security.Cryptography;
using System.Text;
using ChatWire.Crypto;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.Client.Secure;

/// <summary>What sending a file came to.</summary>
/// <param name="Send">The encrypted message carrying the file's descriptor.</param>
/// <param name="AttachmentId">The server's attachment id.</param>
/// <param name="MetadataStripped">Whether the file was a JPEG or PNG whose metadata was removed before encryption (and which got dimensions and a thumbnail).</param>
public sealed record SecureFileResult(SecureSendResult Send, Guid AttachmentId, bool MetadataStripped);

// Encrypted attachments (E2E.md §6): metadata stripped from images, the file encrypted in 64 KiB chunks under a fresh
// key, the ciphertext uploaded through the server's grant and checked by it, then the descriptor (key, hash, sizes)
// sent as an encrypted message. Downloading checks the hash and decrypts.
public sealed partial class SecureClient
{
    /// <summary>Encrypts a file, uploads it and sends its descriptor as an encrypted message.</summary>
    /// <param name="connection">The connection to SEND on.</param>
    /// <param name="conversationId">The conversation.</param>
    /// <param name="fileName">The file name to show (no path).</param>
    /// <param name="content">The file's bytes.</param>
    /// <param name="mimeType">Its media type; sniffed for JPEG and PNG, else <c>application/octet-stream</c>, when null.</param>
    /// <exception cref="InvalidImageException">The file starts as a JPEG or PNG but does not decode (or is too large).</exception>
    /// <param name="messageId">The message id; a new UUIDv7 when null.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<SecureFileResult> SendFileAsync(
        ChatWireConnection connection, Guid conversationId, string fileName, byte[] content, string? mimeType = null, Guid? messageId = null, CancellationToken cancellationToken = default) =>
        SendFileAsync(connection, conversationId, fileName, content, mimeType, messageId, options: null, cancellationToken);

    /// <summary>Encrypts a file, uploads it and sends its descriptor as an encrypted message in a thread or with mentions.</summary>
    /// <param name="connection">The connection to SEND on.</param>
    /// <param name="conversationId">The conversation.</param>
    /// <param name="fileName">The file name to show (no path).</param>
    /// <param name="content">The file's bytes.</param>
    /// <param name="mimeType">Its media type; sniffed for JPEG and PNG, else <c>application/octet-stream</c>, when null.</param>
    /// <param name="messageId">The message id; a new UUIDv7 when null.</param>
    /// <param name="options">Thread (the message is then sealed as a thread reply) and mentions.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="InvalidImageException">The file starts as a JPEG or PNG but does not decode (or is too large).</exception>
    public async Task<SecureFileResult> SendFileAsync(
        ChatWireConnection connection, Guid conversationId, string fileName, byte[] content, string? mimeType, Guid? messageId, MessageOptions? options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentException.ThrowIfNullOrEmpty(fileName);
        var sniffed = ImageMetadata.SniffImageType(content);
        return await SendFileCoreAsync(
            connection, conversationId, fileName, SHA256.HashData(content), mimeType, sniffed, messageId, options,
            async ct =>
            {
                var (plaintext, width, height, thumbnail) = sniffed is null ? (content, 0u, 0u, (byte[]?)null) : PrepareImage(content, sniffed, connection.Limits.MaxContentLength);
                using var ciphertext = new MemoryStream();
                AttachmentKeys keys;
                using (var input = new MemoryStream(plaintext, writable: false))
                {
                    keys = await AttachmentCipher.EncryptAsync(input, ciphertext, ct).ConfigureAwait(false);
                }

                var grant = await _api.CreateAttachmentAsync(conversationId, keys.CiphertextSize, keys.Sha256, ct).ConfigureAwait(false);
                await _api.UploadBlobAsync(grant.Upload, ciphertext.GetBuffer().AsMemory(0, (int)ciphertext.Length), ct).ConfigureAwait(false);
                return (grant.AttachmentId, keys, width, height, thumbnail);
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Encrypts a file read from a stream and uploads it as it encrypts, without holding it in memory (for large
    /// files), then sends its descriptor as an encrypted message. The stream is read from its position to its end
    /// twice, once to learn the hash and size the upload declares and once while uploading, so it must be seekable
    /// and must not change meanwhile (a file that changes fails the upload with <see cref="SecureFailure.AttachmentMismatch"/>).
    /// A JPEG or PNG is read whole instead, since its metadata is removed and a thumbnail made first.
    /// </summary>
    /// <param name="connection">The connection to SEND on.</param>
    /// <param name="conversationId">The conversation.</param>
    /// <param name="fileName">The file name to show (no path).</param>
    /// <param name="content">The file, seekable (a <see cref="FileStream"/>).</param>
    /// <param name="mimeType">Its media type; sniffed for JPEG and PNG, else <c>application/octet-stream</c>, when null.</param>
    /// <param name="messageId">The message id; a new UUIDv7 when null.</param>
    /// <param name="options">Thread and mentions; null for neither.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="InvalidImageException">The file starts as a JPEG or PNG but does not decode (or is too large).</exception>
    /// <exception cref="SecureMessagingException">The file changed between its two readings.</exception>
    public async Task<SecureFileResult> SendFileAsync(
        ChatWireConnection connection, Guid conversationId, string fileName, Stream content, string? mimeType = null, Guid? messageId = null, MessageOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentException.ThrowIfNullOrEmpty(fileName);
        if (!content.CanRead || !content.CanSeek)
        {
            throw new ArgumentException("The file must be a readable, seekable stream (it is read twice); send a byte array otherwise.", nameof(content));
        }

        var start = content.Position;
        var head = new byte[8];
        var headLength = await content.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        content.Position = start;
        if (ImageMetadata.SniffImageType(head.AsSpan(0, headLength)) is not null)
        {
            using var whole = new MemoryStream();
            await content.CopyToAsync(whole, cancellationToken).ConfigureAwait(false);
            return await SendFileAsync(connection, conversationId, fileName, whole.ToArray(), mimeType, messageId, options, cancellationToken).ConfigureAwait(false);
        }

        var contentHash = await SHA256.HashDataAsync(content, cancellationToken).ConfigureAwait(false);
        return await SendFileCoreAsync(
            connection, conversationId, fileName, contentHash, mimeType, sniffed: null, messageId, options,
            async ct =>
            {
                content.Position = start;
                var keys = await AttachmentCipher.EncryptAsync(content, Stream.Null, ct).ConfigureAwait(false);
                var grant = await _api.CreateAttachmentAsync(conversationId, keys.CiphertextSize, keys.Sha256, ct).ConfigureAwait(false);
                try
                {
                    await _api.UploadBlobAsync(
                        grant.Upload,
                        keys.CiphertextSize,
                        (body, writeCancellation) =>
                        {
                            content.Position = start;
                            return AttachmentCipher.EncryptAgainAsync(content, body, keys, writeCancellation);
                        },
                        ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is ChatWireCryptoException || ex.InnerException is ChatWireCryptoException)
                {
                    throw new SecureMessagingException(SecureFailure.AttachmentMismatch, $"{fileName} changed while it was being sent; nothing was sent.", ex);
                }

                return (grant.AttachmentId, keys, 0u, 0u, (byte[]?)null);
            },
            cancellationToken).ConfigureAwait(false);
    }

    // The part of sending a file that does not depend on where its bytes come from: a resend answered from the first
    // attempt's envelope, else encryptAndUpload (which returns the attachment, its keys and the image fields), the
    // upload completed, and the descriptor sent.
    private async Task<SecureFileResult> SendFileCoreAsync(
        ChatWireConnection connection,
        Guid conversationId,
        string fileName,
        byte[] contentHash,
        string? mimeType,
        string? sniffed,
        Guid? messageId,
        MessageOptions? options,
        Func<CancellationToken, Task<(Guid AttachmentId, AttachmentKeys Keys, uint Width, uint Height, byte[]? Thumbnail)>> encryptAndUpload,
        CancellationToken cancellationToken)
    {
        var kind = options?.ThreadRootId is null ? EnvelopeContentType.Message : EnvelopeContentType.ThreadReply;

        // A resend (same id, same file, name, type, thread and mentions) of one whose SEND got no answer carries the
        // first attempt's envelope, whose file is uploaded already: stored, the server answers with the original seq.
        var digest = SentEnvelopes.Digest(conversationId, kind, FileIdentity(fileName, mimeType, contentHash), options);
        if (messageId is { } given && _sentEnvelopes.Find(given, digest) is { AttachmentId: var uploaded } earlier && uploaded != Guid.Empty)
        {
            try
            {
                var resent = await SendSealedAsync(connection, conversationId, given, options, earlier, cancellationToken).ConfigureAwait(false);
                return new SecureFileResult(new SecureSendResult(resent, []), uploaded, sniffed is not null);
            }
            catch (ChatWireException ex) when (ex.Code is ErrorCode.StaleEpoch or ErrorCode.DistributionMismatch)
            {
                // Not stored, and the members changed meanwhile: encrypted and uploaded anew for them, below.
            }
        }

        var (attachmentId, keys, width, height, thumbnail) = await encryptAndUpload(cancellationToken).ConfigureAwait(false);
        await _api.CompleteAttachmentAsync(attachmentId, cancellationToken).ConfigureAwait(false);
        var descriptor = new AttachmentDescriptor(attachmentId, keys, mimeType ?? sniffed ?? "application/octet-stream", width, height, thumbnail);
        var body = new AttachmentMessage(Path.GetFileName(fileName), descriptor).Encode();
        var sent = await EncryptAndSendAsync(
            connection, conversationId, messageId ?? Guid.CreateVersion7(), kind, body, options, digest, cancellationToken, attachmentId).ConfigureAwait(false);
        return new SecureFileResult(sent, attachmentId, sniffed is not null);
    }

    // What makes two SendFileAsync calls the same file message (with the conversation, kind, thread and mentions):
    // SHA-256 of the bytes (contentHash), the name shown and the type asked for. The descriptor cannot be compared:
    // each encryption takes a new file key.
    private static byte[] FileIdentity(string fileName, string? mimeType, byte[] contentHash)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(contentHash);
        hash.AppendData(Encoding.UTF8.GetBytes(Path.GetFileName(fileName)));
        hash.AppendData([0]);
        hash.AppendData(Encoding.UTF8.GetBytes(mimeType ?? string.Empty));
        return hash.GetHashAndReset();
    }

    /// <summary>
    /// Downloads and decrypts the attachment an encrypted message carries, after checking the ciphertext's size and
    /// SHA-256 against the descriptor; a JPEG or PNG is then checked by <see cref="ImageDecoding.Verify"/> (its header
    /// decodes as the declared type and dimensions). Returns the attachment and its plaintext.
    /// </summary>
    /// <param name="message">The message event (as history or delivery gave it).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="SecureMessagingException">The message is not an attachment, does not decrypt, or the file does not match.</exception>
    public Task<(AttachmentMessage Attachment, byte[] Content)> DownloadFileAsync(ConversationEvent message, CancellationToken cancellationToken = default) =>
        DownloadFileAsync(message, acceptImageMismatch: false, cancellationToken);

    /// <summary>
    /// Downloads and decrypts the attachment an encrypted message carries into <paramref name="destination"/> as the
    /// ciphertext arrives, one 64 KiB chunk at a time, without holding the file in memory: for large files. Each chunk
    /// is authenticated before its plaintext is written, and the whole ciphertext's size and SHA-256 are compared with
    /// the descriptor at the end. When it throws, what was written is not the file: discard it (write to a temporary
    /// file and move it into place on success). Images are not checked against their descriptor here (that needs the
    /// whole file): use <see cref="DownloadFileAsync(ConversationEvent, CancellationToken)"/>, or <see cref="ImageDecoding.Verify"/> afterwards.
    /// </summary>
    /// <param name="message">The message event (as history or delivery gave it).</param>
    /// <param name="destination">Where the plaintext goes.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The attachment (name, descriptor).</returns>
    /// <exception cref="SecureMessagingException">The message is not an attachment, does not decrypt, or the file does not match.</exception>
    public async Task<AttachmentMessage> DownloadFileToAsync(ConversationEvent message, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var attachment = await ReadAttachmentAsync(message, cancellationToken).ConfigureAwait(false);
        var info = await _api.GetAttachmentAsync(attachment.Descriptor.AttachmentId, cancellationToken).ConfigureAwait(false);
        try
        {
            await _api.DownloadBlobAsync(
                info.DownloadUrl,
                body => AttachmentCipher.DecryptAsync(body, destination, attachment.Descriptor.Keys, cancellationToken),
                cancellationToken).ConfigureAwait(false);
        }
        catch (ChatWireCryptoException ex)
        {
            throw new SecureMessagingException(SecureFailure.AttachmentMismatch, ex.Message, ex);
        }

        return attachment;
    }

    /// <summary>
    /// As <see cref="DownloadFileAsync(ConversationEvent, CancellationToken)"/>; with <paramref name="acceptImageMismatch"/>
    /// an image that is not what its descriptor says is returned anyway (the hash still matched: it is the file the
    /// sender uploaded), for a caller that checks <see cref="ImageDecoding.Verify"/> itself and warns.
    /// </summary>
    /// <param name="message">The message event (as history or delivery gave it).</param>
    /// <param name="acceptImageMismatch">Return an image whose type or dimensions differ from the descriptor's.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="SecureMessagingException">The message is not an attachment, does not decrypt, or the file does not match.</exception>
    public async Task<(AttachmentMessage Attachment, byte[] Content)> DownloadFileAsync(ConversationEvent message, bool acceptImageMismatch, CancellationToken cancellationToken = default)
    {
        var attachment = await ReadAttachmentAsync(message, cancellationToken).ConfigureAwait(false);
        var info = await _api.GetAttachmentAsync(attachment.Descriptor.AttachmentId, cancellationToken).ConfigureAwait(false);
        var ciphertext = await _api.DownloadBlobAsync(info.DownloadUrl, cancellationToken).ConfigureAwait(false);
        using var output = new MemoryStream();
        try
        {
            using var input = new MemoryStream(ciphertext, writable: false);
            await AttachmentCipher.DecryptAsync(input, output, attachment.Descriptor.Keys, cancellationToken).ConfigureAwait(false);
        }
        catch (ChatWireCryptoException ex)
        {
            throw new SecureMessagingException(SecureFailure.AttachmentMismatch, ex.Message, ex);
        }

        var content = output.ToArray();
        if (!acceptImageMismatch && ImageDecoding.Verify(attachment.Descriptor, content) is { } problem)
        {
            throw new SecureMessagingException(SecureFailure.AttachmentMismatch, $"{attachment.FileName} is not the image its message describes: {problem}.");
        }

        return (attachment, content);
    }

    /// <summary>Decrypts an attachment message and reads its descriptor (name, keys, size, type, thumbnail) without downloading the file.</summary>
    /// <param name="message">The message event (as history or delivery gave it).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="SecureMessagingException">The message does not decrypt or carries no attachment.</exception>
    public async Task<AttachmentMessage> ReadAttachmentAsync(ConversationEvent message, CancellationToken cancellationToken = default)
    {
        var decrypted = await DecryptAsync(message, cancellationToken).ConfigureAwait(false);
        if (decrypted.Plaintext is null)
        {
            throw new SecureMessagingException(SecureFailure.NoKeys, $"The message cannot be decrypted: {decrypted.FailureReason}.");
        }

        return AttachmentMessage.TryDecode(decrypted.Plaintext, out var attachment)
            ? attachment!
            : throw new SecureMessagingException(SecureFailure.AttachmentMismatch, "The message carries no attachment.");
    }

    // An image to send: its metadata stripped (the pixels' bytes untouched), then its header and pixels decoded by
    // the restricted decoder for the dimensions and a thumbnail. Both come from the stripped bytes, which is what the
    // receiver gets: EXIF orientation goes with the rest of the EXIF, so dimensions and thumbnail are as stored.
    private static (byte[] Plaintext, uint Width, uint Height, byte[]? Thumbnail) PrepareImage(byte[] content, string mimeType, long maxContentLength)
    {
        var format = mimeType == "image/png" ? "PNG" : "JPEG";
        byte[] stripped;
        try
        {
            stripped = ImageMetadata.Strip(content);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidImageException(format, ex.Message, ex);
        }

        var header = ImageDecoding.ReadHeader(stripped);
        if (header.MimeType != mimeType)
        {
            throw new InvalidImageException(format, $"it decodes as {header.MimeType}");
        }

        // The thumbnail rides in the SEND content: a server with a small content limit gets a smaller one (half its
        // limit leaves room for the rest of the descriptor and the envelope).
        var budget = (int)Math.Min(ImageDecoding.ThumbnailMaxBytes, maxContentLength / 2);
        return (stripped, (uint)header.Width, (uint)header.Height, ImageDecoding.CreateThumbnail(stripped, budget));
    }
}
