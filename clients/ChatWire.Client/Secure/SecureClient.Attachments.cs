using ChatWire.Crypto;
using ChatWire.Protocol.Frames;

namespace ChatWire.Client.Secure;

/// <summary>What sending a file came to.</summary>
/// <param name="Send">The encrypted message carrying the file's descriptor.</param>
/// <param name="AttachmentId">The server's attachment id.</param>
/// <param name="MetadataStripped">Whether the file was a JPEG or PNG whose metadata was removed before encryption.</param>
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
    /// <param name="messageId">The message id; a new UUIDv7 when null.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<SecureFileResult> SendFileAsync(
        ChatWireConnection connection, Guid conversationId, string fileName, byte[] content, string? mimeType = null, Guid? messageId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentException.ThrowIfNullOrEmpty(fileName);
        var sniffed = ImageMetadata.SniffImageType(content);
        var plaintext = sniffed is null ? content : ImageMetadata.Strip(content);
        using var ciphertext = new MemoryStream();
        AttachmentKeys keys;
        using (var input = new MemoryStream(plaintext, writable: false))
        {
            keys = await AttachmentCipher.EncryptAsync(input, ciphertext, cancellationToken).ConfigureAwait(false);
        }

        var grant = await _api.CreateAttachmentAsync(conversationId, keys.CiphertextSize, keys.Sha256, cancellationToken).ConfigureAwait(false);
        await _api.UploadBlobAsync(grant.Upload, ciphertext.GetBuffer().AsMemory(0, (int)ciphertext.Length), cancellationToken).ConfigureAwait(false);
        await _api.CompleteAttachmentAsync(grant.AttachmentId, cancellationToken).ConfigureAwait(false);
        var descriptor = new AttachmentDescriptor(grant.AttachmentId, keys, mimeType ?? sniffed ?? "application/octet-stream", 0, 0, null);
        var body = new AttachmentMessage(Path.GetFileName(fileName), descriptor).Encode();
        var sent = await SendAsync(connection, conversationId, body, EnvelopeContentType.Message, messageId, null, cancellationToken).ConfigureAwait(false);
        return new SecureFileResult(sent, grant.AttachmentId, sniffed is not null);
    }

    /// <summary>
    /// Downloads and decrypts the attachment an encrypted message carries, after checking the ciphertext's size and
    /// SHA-256 against the descriptor. Returns the attachment and its plaintext.
    /// </summary>
    /// <param name="message">The message event (as history or delivery gave it).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="SecureMessagingException">The message is not an attachment, does not decrypt, or the file does not match.</exception>
    public async Task<(AttachmentMessage Attachment, byte[] Content)> DownloadFileAsync(ConversationEvent message, CancellationToken cancellationToken = default)
    {
        var decrypted = await DecryptAsync(message, cancellationToken).ConfigureAwait(false);
        if (decrypted.Plaintext is null)
        {
            throw new SecureMessagingException(SecureFailure.NoKeys, $"The message cannot be decrypted: {decrypted.FailureReason}.");
        }

        if (!AttachmentMessage.TryDecode(decrypted.Plaintext, out var attachment))
        {
            throw new SecureMessagingException(SecureFailure.AttachmentMismatch, "The message carries no attachment.");
        }

        var info = await _api.GetAttachmentAsync(attachment!.Descriptor.AttachmentId, cancellationToken).ConfigureAwait(false);
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

        return (attachment, output.ToArray());
    }
}
