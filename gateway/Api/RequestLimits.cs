using System.Diagnostics;
using System.Text.Unicode;
using ChatWire.Gateway.Accounts;
using ChatWire.Gateway.Hosting;
using ChatWire.Protocol;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace ChatWire.Gateway.Api;

/// <summary>How large an HTTP request body may be (docs/http-api.md, "Conventions").</summary>
internal static class RequestLimits
{
    /// <summary>Any API request: its bodies are small JSON objects.</summary>
    public const long MaxBodyBytes = 64 * 1024;

    /// <summary>
    /// What a request's body must be, decided once per request from whether its endpoint reads one:
    /// <list type="bullet">
    /// <item>An endpoint that reads a JSON body takes it in UTF-8 (RFC 8259 §8.1): a <c>charset</c> other than
    /// <c>utf-8</c> (or <c>utf8</c>, quoted or not) is refused with 415 before the body is read, since the
    /// framework's reader fails with a server error on one it has no decoder for (empty, unknown, UTF-7); a quoted
    /// <c>"utf-8"</c> or <c>utf8</c>, which that reader does not know, is rewritten <c>utf-8</c>. The body is then
    /// read whole (it is under the limit) and must be valid UTF-8 throughout: the framework's reader checks only the
    /// strings it decodes, not those of fields it skips, so a malformed byte inside an unknown field would otherwise
    /// pass. It is a 400 like any other body that is not a JSON object.</item>
    /// <item>The body limit is enforced as a body is read, so an endpoint that takes none would never see one over
    /// it: such a body is read and dropped here, before the endpoint runs, and one over the limit is refused with
    /// 413 like anywhere else. Blob uploads read their own bodies, under their own limit.</item>
    /// </list>
    /// </summary>
    public static async Task CheckBodyAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        if (context.GetEndpoint() is { } endpoint)
        {
            if (endpoint.Metadata.GetMetadata<IAcceptsMetadata>() is not null)
            {
                RequireUtf8(request);
                if (HasBody(request))
                {
                    await RequireValidUtf8Async(context);
                }
            }
            else if (HasBody(request)
                && !request.Path.StartsWithSegments(ApiAuthentication.BlobsPath, StringComparison.OrdinalIgnoreCase))
            {
                await ReadBodyAsync(context, Stream.Null);
            }
        }

        await next(context);
    }

    private static bool HasBody(HttpRequest request) => request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0;

    private static async Task RequireValidUtf8Async(HttpContext context)
    {
        var request = context.Request;
        var body = new MemoryStream(request.ContentLength is { } length and <= MaxBodyBytes ? (int)length : 4096);
        await ReadBodyAsync(context, body);
        if (!Utf8.IsValid(body.GetBuffer().AsSpan(0, (int)body.Length)))
        {
            throw new RequestRefusedException(ErrorCode.ValidationFailed, ProblemDetailsMiddleware.NotAJsonObjectDetail);
        }

        body.Position = 0;
        request.Body = body;
    }

    // The whole body within Gateway:HttpRequestBodyTimeoutMs. Kestrel's own guard, a minimum average rate of 240 bytes a
    // second, would let a body of 64 KiB take four and a half minutes, and one of 512 KiB (key bundles) half an hour,
    // holding the connection and what was read. Past the deadline: 408 FRAME_TIMEOUT, as a protocol frame that does not
    // complete in time, and the connection closes (the rest of the body is not waited for).
    //
    // The session was checked before the body: one whose body took a while is checked again, so that a request held
    // open by a slow body cannot act after its session was revoked, its password changed or its account disabled or
    // deleted meanwhile (one store read, for slow bodies only; a faster one races a revocation as any request in flight).
    private static async Task ReadBodyAsync(HttpContext context, Stream into)
    {
        var timeout = context.RequestServices.GetRequiredService<IOptions<GatewayOptions>>().Value.HttpRequestBodyTimeoutMs;
        var started = Stopwatch.GetTimestamp();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        deadline.CancelAfter(timeout);
        try
        {
            await context.Request.Body.CopyToAsync(into, deadline.Token);
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            throw new RequestRefusedException(
                ErrorCode.FrameTimeout, $"The request body did not arrive within {timeout / 1000.0:0.###} s (Gateway:HttpRequestBodyTimeoutMs).");
        }

        if (Stopwatch.GetElapsedTime(started) >= SlowBody && context.IdentityIfAny() is { } identity
            && !await context.RequestServices.GetRequiredService<SessionAuthenticator>().IsStillValidAsync(identity, context.RequestAborted))
        {
            throw new RequestRefusedException(ErrorCode.SessionRevoked, "The session was revoked while the request's body arrived; log in again.");
        }
    }

    /// <summary>A body that took at least this long to arrive has its session checked again before the request acts.</summary>
    internal static readonly TimeSpan SlowBody = TimeSpan.FromMilliseconds(500);

    private static void RequireUtf8(HttpRequest request)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type) || !type.Charset.HasValue)
        {
            return;
        }

        // Two charset parameters (utf-8 and another) are refused as well: which one a reader takes is anyone's guess.
        var charset = HeaderUtilities.RemoveQuotes(type.Charset);
        if ((!charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) && !charset.Equals("utf8", StringComparison.OrdinalIgnoreCase))
            || type.Parameters.Count(p => p.Name.Equals("charset", StringComparison.OrdinalIgnoreCase)) > 1)
        {
            throw new RequestRefusedException(ErrorCode.UnsupportedMediaType, ProblemDetailsMiddleware.UnsupportedMediaTypeDetail);
        }

        if (!type.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase))
        {
            type.Charset = "utf-8";
            request.ContentType = type.ToString();
        }
    }
}
