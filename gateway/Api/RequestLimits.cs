using Microsoft.AspNetCore.Http.Metadata;

namespace ChatWire.Gateway.Api;

/// <summary>How large an HTTP request body may be (docs/http-api.md, "Conventions").</summary>
internal static class RequestLimits
{
    /// <summary>Any API request: its bodies are small JSON objects.</summary>
    public const long MaxBodyBytes = 64 * 1024;

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
