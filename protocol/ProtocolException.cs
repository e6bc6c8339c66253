namespace ChatWire.Protocol;

/// <summary>
/// Malformed or out-of-limit input. Carries the <see cref="ErrorCode"/> the peer is answered with
/// and the request id of the frame when it could be read (0 otherwise).
/// </summary>
public sealed class ProtocolException : Exception
{
    /// <summary>Creates an exception for <paramref name="code"/>.</summary>
    public ProtocolException(ErrorCode code, string message, uint requestId = 0, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
        RequestId = requestId;
    }

    /// <summary>The code sent to the peer in the ERROR frame.</summary>
    public ErrorCode Code { get; }

    /// <summary>The request id of the offending frame, or 0 when it could not be read.</summary>
    public uint RequestId { get; }
}
