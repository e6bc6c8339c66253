using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using ChatWire.Protocol;

namespace ChatWire.Client.Internal;

// Maps a non-2xx answer to a ChatWireException. The server answers problem+json (RFC 9457) with the
// shared code and name (docs/http-api.md "Conventions"); a proxy or a crashed server may answer anything
// else, so the status alone must still give a sensible code.
internal static class ProblemDetailsReader
{
    // Enough of a non-JSON body to help a human, not enough to flood a terminal with an HTML page.
    private const int MaxBodyExcerpt = 200;

    public static async Task<ChatWireException> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        var retryAfter = ReadRetryAfter(response.Headers.RetryAfter, DateTimeOffset.UtcNow);
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);

        ErrorCode? code = null;
        string? name = null;
        string? detail = null;
        string? title = null;
        JsonElement? problem = null;
        if (LooksLikeJson(response.Content.Headers.ContentType, body))
        {
            try
            {
                using var document = JsonDocument.Parse(body);
                var root = document.RootElement;
                if (root.ValueKind == JsonValueKind.Object)
                {
                    problem = root.Clone();
                    if (root.TryGetProperty("code", out var codeElement) && codeElement.TryGetUInt16(out var number))
                    {
                        code = (ErrorCode)number;
                    }

                    name = StringProperty(root, "name");
                    detail = StringProperty(root, "detail");
                    title = StringProperty(root, "title");
                }
            }
            catch (JsonException)
            {
                // Not JSON after all: fall through to the status-based mapping below.
            }
        }

        var effectiveCode = code ?? CodeForStatus(response.StatusCode);
        var message = detail ?? title ?? DescribeStatus(response, body);
        return new ChatWireException(effectiveCode, message, name, status, retryAfter, innerException: null) { Problem = problem };
    }

    public static TimeSpan? ReadRetryAfter(RetryConditionHeaderValue? header, DateTimeOffset now)
    {
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        if (header?.Date is { } date)
        {
            var wait = date - now;
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }

        return null;
    }

    // The inverse of the status table in docs/http-api.md, for answers that carry no code.
    public static ErrorCode CodeForStatus(HttpStatusCode status) => status switch
    {
        HttpStatusCode.BadRequest => ErrorCode.ValidationFailed,
        HttpStatusCode.Unauthorized => ErrorCode.NotAuthenticated,
        HttpStatusCode.Forbidden => ErrorCode.Forbidden,
        HttpStatusCode.NotFound => ErrorCode.NotFound,
        HttpStatusCode.Conflict => ErrorCode.AlreadyExists,
        HttpStatusCode.Gone => ErrorCode.InviteInvalid,
        HttpStatusCode.RequestEntityTooLarge => ErrorCode.ContentTooLarge,
        HttpStatusCode.TooManyRequests => ErrorCode.RateLimited,
        HttpStatusCode.ServiceUnavailable => ErrorCode.ServerBusy,
        _ => ErrorCode.InternalError,
    };

    private static bool LooksLikeJson(MediaTypeHeaderValue? contentType, string body)
    {
        var mediaType = contentType?.MediaType;
        if (mediaType is not null)
        {
            return mediaType.EndsWith("json", StringComparison.OrdinalIgnoreCase);
        }

        return body.TrimStart().StartsWith('{');
    }

    private static string? StringProperty(JsonElement root, string name) =>
        root.TryGetProperty(name, out var element) && element.ValueKind == JsonValueKind.String && element.GetString() is { Length: > 0 } value
            ? value
            : null;

    private static string DescribeStatus(HttpResponseMessage response, string body)
    {
        var status = string.Create(CultureInfo.InvariantCulture, $"{(int)response.StatusCode} {response.ReasonPhrase}").TrimEnd();
        var excerpt = body.Trim();
        if (excerpt.Length == 0)
        {
            return $"The server answered {status}.";
        }

        if (excerpt.Length > MaxBodyExcerpt)
        {
            excerpt = string.Concat(excerpt.AsSpan(0, MaxBodyExcerpt), "…");
        }

        return $"The server answered {status}: {excerpt}";
    }
}
