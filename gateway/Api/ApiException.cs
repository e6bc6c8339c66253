using ChatWire.Protocol;

namespace ChatWire.Gateway.Api;

/// <summary>A request failed with a code from the shared table; rendered as problem+json.</summary>
internal sealed class ApiException(ErrorCode code, string detail, int? retryAfterSeconds = null, IReadOnlyDictionary<string, string[]>? errors = null)
    : Exception(detail)
{
    public ErrorCode Code { get; } = code;

    public int? RetryAfterSeconds { get; } = retryAfterSeconds;

    public IReadOnlyDictionary<string, string[]>? Errors { get; } = errors;

    public static ApiException Validation(string field, string message) =>
        new(ErrorCode.ValidationFailed, message, errors: new Dictionary<string, string[]> { [field] = [message] });
}
