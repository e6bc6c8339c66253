using ChatWire.Protocol;

namespace ChatWire.Gateway;

/// <summary>
/// A request or command was refused with a code from the shared error table (docs/protocol.md §6). The
/// domain (accounts, conversations) and the HTTP edge throw it alike; the HTTP edge renders it as
/// problem+json, a protocol connection as an ERROR frame. Its message is a fixed sentence for the client.
/// </summary>
internal sealed class RequestRefusedException(ErrorCode code, string detail, int? retryAfterSeconds = null, IReadOnlyDictionary<string, string[]>? errors = null)
    : Exception(detail)
{
    public ErrorCode Code { get; } = code;

    public int? RetryAfterSeconds { get; } = retryAfterSeconds;

    /// <summary>For the protocol's ERROR <c>retry_after_ms</c>: when the same request may pass.</summary>
    public uint RetryAfterMs { get; init; }

    /// <summary>Field-level failures (HTTP <c>errors</c>), keyed by the request field's name.</summary>
    public IReadOnlyDictionary<string, string[]>? Errors { get; } = errors;

    /// <summary>For DISTRIBUTION_MISMATCH over HTTP: the <c>missing</c>, <c>extra</c> and <c>stale</c> recipient lists.</summary>
    public Api.DistributionMismatch? Mismatch { get; init; }

    public static RequestRefusedException Validation(string field, string message) =>
        new(ErrorCode.ValidationFailed, message, errors: new Dictionary<string, string[]> { [field] = [message] });
}
