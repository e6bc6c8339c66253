using System.Buffers;
using ChatWire.Gateway.Attachments;
using ChatWire.Protocol;
using ChatWire.Storage.Blobs;
using Microsoft.AspNetCore.Http.Features;

namespace ChatWire.Gateway.Api;

// Encrypted attachments: the client uploads ciphertext straight to the blob store with a grant, then completes;
// members download with a short-lived URL. With the local store, the gateway itself serves the grant URLs
// (/v1/blobs/{id}?token=…), authorised by the token alone.
internal static class AttachmentEndpoints
{
    private const string Tag = "Attachments";

    /// <summary>The <c>state</c> of a completed attachment: the only one an answer shows.</summary>
    public const string ReadyState = "ready";

    public static void Map(RouteGroupBuilder anonymous, RouteGroupBuilder authenticated, bool localBlobs)
    {
        authenticated.MapPost("/attachments", CreateAsync)
            .Describe("createAttachment", "Declare an attachment (its ciphertext's size and SHA-256) and get an upload grant", Tag,
                "size is the ciphertext's length in bytes (at least 1) and sha256 its SHA-256 in standard base64; only members of the conversation "
                + "may (anyone else, or no such conversation, is 404 NOT_FOUND). Before expires_at, PUT the bytes to upload.url with upload.headers "
                + "(embedded store) or POST multipart/form-data with upload.fields and the bytes last, as file (S3). Over the size limit (25 MiB by "
                + "default) is 400 CONTENT_TOO_LARGE; past the user's quota, or with 100 uploads not completed, 403 QUOTA_EXCEEDED.")
            .Returns<AttachmentCreatedResponse>(StatusCodes.Status201Created).Refuses(400, 403, 404, 415);
        authenticated.MapPost("/attachments/{attachmentId}/complete", CompleteAsync)
            .Describe("completeAttachment", "Check the uploaded blob against the declaration and make the attachment downloadable", Tag,
                "The server checks the stored object's size (and, on the embedded store, its SHA-256) against the declaration; only the uploader may "
                + "(404 NOT_FOUND otherwise), and repeating it on a ready attachment answers the same 200. A wrong size or hash, or an upload more "
                + "than 5 minutes after the grant expired, is 422 UPLOAD_MISMATCH and deletes the object and the attachment (declare it again); "
                + "nothing uploaded yet is 422 UPLOAD_MISMATCH too, but the attachment stays pending. An attachment of a team deleted meanwhile "
                + "is 404 NOT_FOUND.")
            .Returns<AttachmentCompletedResponse>().Refuses(400, 404, 422);
        authenticated.MapGet("/attachments/{attachmentId}", GetAsync)
            .Describe("getAttachment", "An attachment of a conversation I am in, with a download URL", Tag,
                "Only for members of the attachment's conversation once it is ready; anyone else, or an attachment not ready, gets 404 NOT_FOUND. "
                + "download_url is a plain GET without a session token until expires_at (an hour by default). The body is the ciphertext: check its "
                + "size and SHA-256 against the message before decrypting.")
            .Returns<AttachmentResponse>().Refuses(400, 404);
        if (localBlobs)
        {
            anonymous.MapPut("/blobs/{attachmentId}", UploadBlobAsync)
                .Describe("uploadBlob", "Upload an attachment's bytes to the embedded blob store (the URL of an upload grant)", Tag,
                    "No session token: the token in the grant's URL authorises this one upload. A Content-Length is required (not chunked: "
                    + "400 VALIDATION_FAILED), and a body longer than the declared size is 400 CONTENT_TOO_LARGE with nothing kept. An invalid or "
                    + "expired token is 403 FORBIDDEN, a second upload 409 ALREADY_EXISTS, an attachment completed or deleted 404 NOT_FOUND.")
                .ReturnsNoContent().Refuses(400, 403, 404, 409);
            anonymous.MapGet("/blobs/{attachmentId}", DownloadBlobAsync)
                .Describe("downloadBlob", "Download an attachment's bytes from the embedded blob store (the download URL)", Tag,
                    "No session token: the token in the download URL from getAttachment authorises it until that answer's expires_at (403 FORBIDDEN "
                    + "after, or for a token not made for this blob); an attachment not ready, or of a team deleted since, is 404 NOT_FOUND. "
                    + "The body is the ciphertext exactly as uploaded; a client that takes no byte of it for 20 s "
                    + "(Gateway:HttpResponseStallTimeoutMs) has its connection closed mid-body. HEAD answers the headers alone. One byte range "
                    + "(Range: bytes=start-end, start- or -suffix) is answered 206 with Content-Range, to resume a download; anything else in Range "
                    + "gets the whole blob, 200.")
                .Produces<Stream>(StatusCodes.Status200OK, "application/octet-stream")
                .Produces<Stream>(StatusCodes.Status206PartialContent, "application/octet-stream").Refuses(400, 403, 404);
        }
    }

    private static async Task<IResult> CreateAsync(CreateAttachmentRequest body, HttpContext http, AttachmentService attachments, CancellationToken ct)
    {
        var conversationId = Ids.Parse("conversation_id", Validation.Required("conversation_id", body.ConversationId));
        if (body.Size is not ({ } size and > 0))
        {
            throw RequestRefusedException.Validation("size", "size must be the ciphertext's length in bytes, at least 1.");
        }

        var sha256 = Sha256("sha256", body.Sha256);
        var (attachment, grant) = await attachments.CreateAsync(http.Identity().UserId, conversationId, size, sha256, ct);
        var upload = new UploadInstructions(grant.Method, Absolute(http, grant.Url), grant.Headers, grant.Fields);
        return Results.Json(new AttachmentCreatedResponse(attachment.Id, upload, grant.ExpiresAt.UtcDateTime), statusCode: StatusCodes.Status201Created);
    }

    private static async Task<AttachmentCompletedResponse> CompleteAsync(string attachmentId, HttpContext http, AttachmentService attachments, CancellationToken ct)
    {
        var attachment = await attachments.CompleteAsync(http.Identity().UserId, Ids.Parse("attachment_id", attachmentId), ct);
        return new AttachmentCompletedResponse(attachment.Id, attachment.Size, Convert.ToBase64String(attachment.Sha256), ReadyState);
    }

    private static async Task<AttachmentResponse> GetAsync(string attachmentId, HttpContext http, AttachmentService attachments, CancellationToken ct)
    {
        var (attachment, url, expiresAt) = await attachments.GetAsync(http.Identity().UserId, Ids.Parse("attachment_id", attachmentId), ct);
        return new AttachmentResponse(
            attachment.Id, attachment.ConversationId, attachment.Size, Convert.ToBase64String(attachment.Sha256), Absolute(http, url), expiresAt.UtcDateTime);
    }

    // Content-Length is required and may not pass the grant: a longer body is refused before it is read, and
    // the store stops at the granted size should more arrive anyway. Nothing of a refused body is kept.
    private static async Task<IResult> UploadBlobAsync(string attachmentId, string? token, HttpContext http, LocalBlobStore store, AttachmentService attachments, CancellationToken ct)
    {
        var id = Ids.Parse("attachment_id", attachmentId);
        var key = AttachmentService.KeyOf(id);
        var granted = CheckToken(store, key, "PUT", token);
        if (http.Request.ContentLength is not { } length)
        {
            throw new RequestRefusedException(ErrorCode.ValidationFailed, "Send the upload with a Content-Length header (not chunked).");
        }

        if (length > granted)
        {
            throw new RequestRefusedException(ErrorCode.ContentTooLarge, $"The upload grant is for {granted} bytes; this body has {length}.");
        }

        if (await attachments.AwaitingUploadByAsync(id, ct) is not { } owner)
        {
            throw new RequestRefusedException(ErrorCode.NotFound, "No attachment awaits an upload under this id.");
        }

        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = granted;
        }

        // An upload may take long (a large file over a slow link), so it has no body deadline; it counts among its
        // creator's requests in progress instead, so that slow uploads hold no more of the API's connections than
        // slow requests of any other kind.
        using var slot = http.RequestServices.GetRequiredService<AccountRequestsInProgress>().Enter(owner);
        return await store.WriteAsync(key, granted, http.Request.Body, ct) switch
        {
            BlobWriteResult.Stored => await StillWantedAsync(id, key, store, attachments),
            BlobWriteResult.TooLong => throw new RequestRefusedException(ErrorCode.ContentTooLarge, $"The upload grant is for {granted} bytes; nothing was kept."),
            _ => throw new RequestRefusedException(ErrorCode.AlreadyExists, "This attachment was uploaded already; complete it, or create another."),
        };
    }

    // An upload takes as long as it takes, and its attachment may meanwhile have been orphaned by its team's deletion
    // or swept: then the bytes just stored would belong to nothing and count against no quota, so they go again. (A
    // completion that raced this upload and found its bytes already in place made it ready: those stay.)
    private static async Task<IResult> StillWantedAsync(Guid id, string key, LocalBlobStore store, AttachmentService attachments)
    {
        if (!await attachments.IsLiveAsync(id, CancellationToken.None))
        {
            await store.DeleteAsync(key, CancellationToken.None);
            throw new RequestRefusedException(ErrorCode.NotFound, "The attachment was deleted while its upload arrived (its team was deleted); nothing was kept.");
        }

        return Results.NoContent();
    }

    // A download needs no session (its URL is signed), so nothing counts it per account; what bounds it is time: a
    // client that takes nothing of it for Gateway:HttpResponseStallTimeoutMs has its connection closed mid-body (it
    // sees fewer bytes than Content-Length), as a proxy's send timeout would. "Takes" is read from the kernel: while a
    // piece waits to be written, the socket's count of bytes the client acknowledged must grow within each period.
    // How long a write waits says little by itself, since the kernel's send buffer (megabytes, on a fast path) frees
    // room only in large steps; and Kestrel's own minimum rate, 240 bytes a second per write, would allow a client that
    // reads nothing over four minutes per piece. A slow reader that keeps taking bytes is not cut off: it holds one of
    // its address's connections (docs/security.md).
    private static async Task DownloadBlobAsync(
        string attachmentId, string? token, HttpContext http, LocalBlobStore store, AttachmentService attachments,
        Microsoft.Extensions.Options.IOptions<Hosting.GatewayOptions> options, ILogger<AttachmentService> logger, CancellationToken ct)
    {
        var id = Ids.Parse("attachment_id", attachmentId);
        var key = AttachmentService.KeyOf(id);
        CheckToken(store, key, "GET", token);

        // A URL handed out before the attachment's team was deleted stops working with the team, not at its expiry.
        if (!await attachments.IsLiveAsync(id, ct))
        {
            throw new RequestRefusedException(ErrorCode.NotFound, "No such blob.");
        }

        await using var stream = store.OpenRead(key) ?? throw new RequestRefusedException(ErrorCode.NotFound, "No such blob.");
        var (start, count) = Range(http, stream.Length);
        http.Response.ContentType = "application/octet-stream";
        http.Response.ContentLength = count;
        http.Response.Headers.AcceptRanges = "bytes";
        if (HttpMethods.IsHead(http.Request.Method))
        {
            return;
        }

        stream.Position = start;

        var stallMs = options.Value.HttpResponseStallTimeoutMs;
        var socket = http.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionSocketFeature>()?.Socket;
        var buffer = ArrayPool<byte>.Shared.Rent(DownloadPieceBytes);
        long sent = 0;
        var stalled = false;
        try
        {
            int read;
            while (sent < count && (read = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(DownloadPieceBytes, count - sent)), http.RequestAborted)) > 0)
            {
                var writing = http.Response.Body.WriteAsync(buffer.AsMemory(0, read), CancellationToken.None).AsTask();
                if (!writing.IsCompleted && await StalledAsync(writing, socket, stallMs, http.RequestAborted))
                {
                    // The abort ends the write; it is not waited for long, nor its outcome looked at.
                    stalled = true;
                    http.Abort();
                    await writing.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    break;
                }

                await writing;
                sent += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (stalled)
        {
            GatewayLog.BlobDownloadStalled(logger, http.Connection.RemoteIpAddress?.ToString(), sent, count, stallMs);
        }
    }

    // One byte range (RFC 9110 §14), so that a client cut off mid-download resumes where it was: 206 with Content-Range.
    // Anything else (no Range, several ranges, another unit, a range past the end) is answered with the whole blob, 200,
    // as the RFC lets a server do; the blob under an id never changes, so there is no validator to check.
    private static (long Start, long Count) Range(HttpContext http, long length)
    {
        if (http.Request.GetTypedHeaders().Range is not { Ranges.Count: 1 } header
            || !string.Equals(header.Unit.Value, "bytes", StringComparison.OrdinalIgnoreCase))
        {
            return (0, length);
        }

        var range = header.Ranges.First();
        if (range.From is { } from ? from >= length : range.To is not > 0)
        {
            return (0, length);
        }

        var start = range.From ?? Math.Max(0, length - range.To!.Value);
        var end = range.From is null || range.To is null ? length - 1 : Math.Min(range.To.Value, length - 1);
        http.Response.StatusCode = StatusCodes.Status206PartialContent;
        http.Response.Headers.ContentRange = $"bytes {start}-{end}/{length}";
        return (start, end - start + 1);
    }

    // Waits for a write the client holds up. Stalled: a whole period went by in which the client acknowledged no byte
    // (or, where the socket cannot tell, in which the write did not finish). A slow reader's window reopens, and its
    // acknowledgements come, about one segment at a time, so the period is at least the time a reader of
    // MinSteadyBytesPerSecond takes for a segment: on loopback a segment is 64 KiB, on the Internet about 1.4 KB.
    private static async Task<bool> StalledAsync(Task writing, System.Net.Sockets.Socket? socket, int stallMs, CancellationToken aborted)
    {
        var progress = SocketProgress.Read(socket);
        var period = TimeSpan.FromMilliseconds(Math.Max(stallMs, (progress?.SegmentBytes ?? 0) * 1000.0 / MinSteadyBytesPerSecond));
        while (true)
        {
            try
            {
                await writing.WaitAsync(period, aborted);
                return false;
            }
            catch (TimeoutException)
            {
                var now = SocketProgress.Read(socket);
                if (now is null || now.Value.Acknowledged == progress?.Acknowledged)
                {
                    return true;
                }

                progress = now;
            }
            catch (OperationCanceledException) when (aborted.IsCancellationRequested)
            {
                // The client went away: the write ends with the connection.
                return false;
            }
        }
    }

    /// <summary>A download reader at least this fast is never taken for stalled, whatever its segment size.</summary>
    internal const int MinSteadyBytesPerSecond = 2048;

    /// <summary>The size of the pieces a blob download is sent in, each taken by the client within the stall timeout.</summary>
    internal const int DownloadPieceBytes = 64 * 1024;

    private static long CheckToken(LocalBlobStore store, string key, string method, string? token) =>
        store.CheckToken(key, method, token, out var size) switch
        {
            BlobTokenCheck.Valid => size,
            BlobTokenCheck.Expired => throw new RequestRefusedException(ErrorCode.Forbidden, "This blob URL has expired; ask the API for a new one."),
            _ => throw new RequestRefusedException(ErrorCode.Forbidden, "This blob URL's token is not valid for this blob and method."),
        };

    private static byte[] Sha256(string field, string? value)
    {
        var bytes = new byte[32];
        if (value is null || !KeyValidation.TryDecodeStrict(value, bytes, out var written) || written != 32)
        {
            throw RequestRefusedException.Validation(field, $"{field} must be the ciphertext's SHA-256: 32 bytes in standard base64 (44 characters).");
        }

        return bytes;
    }

    // The local store's URLs are paths on this API. Their host is Gateway:PublicHost when set (never the request's
    // Host header, which anyone can set; its port, if any, is kept), else the host the request was addressed to.
    private static string Absolute(HttpContext http, Uri url)
    {
        if (url.IsAbsoluteUri)
        {
            return url.ToString();
        }

        var publicHost = http.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<Hosting.GatewayOptions>>().Value.PublicHost;
        var host = string.IsNullOrEmpty(publicHost) ? http.Request.Host
            : http.Request.Host.Port is { } port ? new HostString(publicHost, port) : new HostString(publicHost);
        return new Uri(new Uri($"{http.Request.Scheme}://{host}{http.Request.PathBase}/"), url).ToString();
    }
}
