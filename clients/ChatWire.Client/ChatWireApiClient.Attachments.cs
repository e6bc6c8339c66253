using System.Net.Http.Headers;
using ChatWire.Client.Internal;

namespace ChatWire.Client;

// The attachments endpoints (docs/http-api.md, "Attachments"): the server stores ciphertext it cannot read and
// checks only its size and hash. Uploads and downloads go to the URL the grant names: the server's own blob
// endpoint (embedded store) or S3 (presigned), so they carry no session token.
public sealed partial class ChatWireApiClient
{
    /// <summary><c>POST /v1/attachments</c>: asks for an upload grant for a ciphertext of this size and hash.</summary>
    /// <param name="conversationId">The conversation the attachment is for (I must be a member).</param>
    /// <param name="size">The ciphertext size in bytes, tags included.</param>
    /// <param name="sha256">SHA-256 of the ciphertext.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<AttachmentGrant> CreateAttachmentAsync(Guid conversationId, long size, byte[] sha256, CancellationToken cancellationToken = default) =>
        SendAsync<AttachmentGrant>(HttpMethod.Post, "v1/attachments", new CreateAttachmentBody(conversationId, size, sha256), authenticated: true, cancellationToken);

    /// <summary><c>POST /v1/attachments/{id}/complete</c>: the server checks the uploaded object (<c>UPLOAD_MISMATCH</c> when it differs).</summary>
    /// <param name="attachmentId">The attachment.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<AttachmentReady> CompleteAttachmentAsync(Guid attachmentId, CancellationToken cancellationToken = default) =>
        SendAsync<AttachmentReady>(HttpMethod.Post, $"v1/attachments/{attachmentId:D}/complete", body: null, authenticated: true, cancellationToken);

    /// <summary><c>GET /v1/attachments/{id}</c>: an attachment of a conversation I am in, with a download URL.</summary>
    /// <param name="attachmentId">The attachment.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<AttachmentInfo> GetAttachmentAsync(Guid attachmentId, CancellationToken cancellationToken = default) =>
        SendAsync<AttachmentInfo>(HttpMethod.Get, $"v1/attachments/{attachmentId:D}", body: null, authenticated: true, cancellationToken);

    /// <summary>Uploads ciphertext as a grant says: a PUT of the bytes, or a presigned multipart POST (fields, then the file).</summary>
    /// <param name="target">The grant's upload target.</param>
    /// <param name="ciphertext">The whole ciphertext.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task UploadBlobAsync(AttachmentUploadTarget target, ReadOnlyMemory<byte> ciphertext, CancellationToken cancellationToken = default) =>
        UploadAsync(target, new ReadOnlyMemoryContent(ciphertext), cancellationToken);

    /// <summary>
    /// Uploads ciphertext as a grant says, written by <paramref name="writeBody"/> into the request as it goes out, so
    /// that nothing holds it whole (<see cref="Secure.SecureClient"/> encrypts a file from a stream this way).
    /// </summary>
    /// <param name="target">The grant's upload target.</param>
    /// <param name="length">Exactly how many bytes <paramref name="writeBody"/> writes (the size the grant was made for).</param>
    /// <param name="writeBody">Writes the ciphertext into the stream it is given; it may be called again if the request is resent.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task UploadBlobAsync(AttachmentUploadTarget target, long length, Func<Stream, CancellationToken, Task> writeBody, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(writeBody);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return UploadAsync(target, new WrittenContent(length, writeBody), cancellationToken);
    }

    private async Task UploadAsync(AttachmentUploadTarget target, HttpContent bytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        var isPost = string.Equals(target.Method, "POST", StringComparison.OrdinalIgnoreCase);
        using var request = new HttpRequestMessage(isPost ? HttpMethod.Post : HttpMethod.Put, new Uri(_baseAddress, target.Url));
        bytes.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        if (isPost)
        {
            // S3 reads the policy fields before the file; "file" must be the last part.
            var form = new MultipartFormDataContent();
            foreach (var (name, value) in target.Fields ?? new Dictionary<string, string>())
            {
                form.Add(new StringContent(value), name);
            }

            form.Add(bytes, "file", "blob");
            request.Content = form;
        }
        else
        {
            request.Content = bytes;
        }

        foreach (var (name, value) in target.Headers ?? new Dictionary<string, string>())
        {
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content.Headers.Remove(name);
                request.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }

        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await ProblemDetailsReader.ReadAsync(response, cancellationToken).ConfigureAwait(false);
        }
    }

    // A request body of a known length that a callback writes as the request goes out.
    private sealed class WrittenContent(long length, Func<Stream, CancellationToken, Task> writeBody) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) =>
            writeBody(stream, CancellationToken.None);

        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context, CancellationToken cancellationToken) =>
            writeBody(stream, cancellationToken);

        protected override bool TryComputeLength(out long length1)
        {
            length1 = length;
            return true;
        }
    }

    /// <summary>
    /// Reads an attachment's ciphertext from its download URL as it arrives, handing the response body to
    /// <paramref name="consume"/> (no session token: the URL carries its own grant). Nothing is buffered whole.
    /// </summary>
    /// <param name="downloadUrl">The URL from <see cref="GetAttachmentAsync"/>.</param>
    /// <param name="consume">Reads the body; the response is disposed when it returns.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task DownloadBlobAsync(string downloadUrl, Func<Stream, Task> consume, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(downloadUrl);
        ArgumentNullException.ThrowIfNull(consume);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_baseAddress, downloadUrl));
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await ProblemDetailsReader.ReadAsync(response, cancellationToken).ConfigureAwait(false);
        }

        var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (body.ConfigureAwait(false))
        {
            await consume(body).ConfigureAwait(false);
        }
    }

    /// <summary>Downloads an attachment's ciphertext from its download URL (no session token: the URL carries its own grant).</summary>
    /// <param name="downloadUrl">The URL from <see cref="GetAttachmentAsync"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<byte[]> DownloadBlobAsync(string downloadUrl, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(downloadUrl);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_baseAddress, downloadUrl));
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await ProblemDetailsReader.ReadAsync(response, cancellationToken).ConfigureAwait(false);
        }

        return await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
    }
}
