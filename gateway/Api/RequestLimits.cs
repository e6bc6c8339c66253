using ChatWire.Protocol;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Net.Http.Headers;

namespace ChatWire.Gateway.Api;

/// <summary>How large an HTTP request body may be (docs/http-api.md, "Conventions").</summary>
internal static class RequestLimits
{
    /// <summary>Any API request: its bodies are small JSON objects.</summary>
    public const long MaxBodyBytes = 64 * 1024;

    /// <summary>
    /// A JSON body is UTF-8 (RFC 8259 §8.1). A <c>charset</c> parameter other than <c>utf-8</c> (or <c>utf8</c>,
    /// quoted or not) is refused with 415 before the body is read: the framework's reader would otherwise fail on
    /// one it has no decoder for (empty, unknown, UTF-7) with a server error. A quoted <c>"utf-8"</c> or <c>utf8</c>,
    /// which the reader does not understand, is rewritten <c>utf-8</c>.
    /// </summary>
    public static Task RequireUtf8JsonAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        if (request.ContentType is { } contentType
            && context.GetEndpoint()?.Metadata.GetMetadata<IAcceptsMetadata>() is not null
            && MediaTypeHeaderValue.TryParse(contentType, out var type)
            && type.Charset.HasValue)
        {
            var charset = HeaderUtilities.RemoveQuotes(type.Charset);
            if (!charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) && !charset.Equals("utf8", StringComparison.OrdinalIgnoreCase))
            {
                throw new RequestRefusedException(ErrorCode.UnsupportedMediaType, ProblemDetailsMiddleware.UnsupportedMediaTypeDetail);
            }

            // The reader knows neither a quoted name nor "utf8".
            if (!type.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase))
            {
                type.Charset = "utf-8";
                request.ContentType = type.ToString();
            }
        }

        return next(context);
    }

    /// <summary>
    /// The body limit is enforced as a body is read, so an endpoint that takes no body would never see one over
    /// it. Such a body is read and dropped here, before the endpoint runs: one over the limit is refused with 413
    /// like anywhere else, and the endpoint does nothing. Blob uploads read their own bodies, under their own limit.
    /// </summary>
    public static async Task RefuseUnreadBodyAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        if ((request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0)
            && context.GetEndpoint() is { } endpoint
            && endpoint.Metadata.GetMetadata<IAcceptsMetadata>() is null
            && !request.Path.StartsWithSegments(ApiAuthentication.BlobsPath, StringComparison.OrdinalIgnoreCase))
        {
            await request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
        }

        await next(context);
    }
}
