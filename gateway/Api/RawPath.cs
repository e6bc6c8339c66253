using ChatWire.Protocol;
using Microsoft.AspNetCore.Http.Features;

namespace ChatWire.Gateway.Api;

/// <summary>
/// Kestrel resolves <c>.</c> and <c>..</c> segments, percent-encoded ones too, before routing, so
/// <c>DELETE /v1/teams/{id}/invites/%2e%2e</c> would reach <c>DELETE /v1/teams/{id}</c>. No ChatWire path has such
/// a segment, and an id is never one, so a request whose target as sent holds one is refused before any route runs:
/// a client that builds a path from an id it was handed cannot be made to call another operation.
/// </summary>
internal static class RawPath
{
    public static Task RefuseDotSegmentsAsync(HttpContext context, RequestDelegate next)
    {
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (!string.IsNullOrEmpty(target) && HasDotSegment(target))
        {
            // Resolved out of /v1/ (e.g. /v1/../server-info), nothing charged it yet: the refusal costs the address.
            if (target.StartsWith("/v1/", StringComparison.OrdinalIgnoreCase))
            {
                ApiRequestBudget.ChargeAddressOnce(context);
            }

            throw new RequestRefusedException(ErrorCode.ValidationFailed, "The path holds a '.' or '..' segment (plain or percent-encoded); no path of this API has one.");
        }

        return next(context);
    }

    /// <summary>Whether the path of a request target (up to its query) has a segment that is <c>.</c> or <c>..</c>, each dot plain or <c>%2e</c>.</summary>
    public static bool HasDotSegment(ReadOnlySpan<char> target)
    {
        var query = target.IndexOfAny('?', '#');
        var path = query < 0 ? target : target[..query];
        foreach (var range in path.Split('/'))
        {
            var segment = path[range];
            var dots = 0;
            while (!segment.IsEmpty && dots <= 2)
            {
                if (segment[0] == '.')
                {
                    segment = segment[1..];
                }
                else if (segment.Length >= 3 && segment[0] == '%' && segment[1] == '2' && (segment[2] | 0x20) == 'e')
                {
                    segment = segment[3..];
                }
                else
                {
                    break;
                }

                dots++;
            }

            if (segment.IsEmpty && dots is 1 or 2)
            {
                return true;
            }
        }

        return false;
    }
}
