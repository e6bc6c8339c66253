using System.Text.Json;
using ChatWire.Protocol;

namespace ChatWire.Client;

/// <summary>
/// A request the server refused, or a connection it closed, with the code from the shared error table
/// (docs/protocol.md §6). The same type serves the HTTP API (problem+json) and the TCP protocol (ERROR frames).
/// Transport failures (refused connections, dropped sockets) are <see cref="IOException"/>s instead: they
/// carry no server code.
/// </summary>
public sealed class ChatWireException : Exception
{
    /// <summary>Creates an exception for <paramref name="code"/> with the code's stable name.</summary>
    /// <param name="code">The code from the shared table.</param>
    /// <param name="message">A human-readable sentence.</param>
    public ChatWireException(ErrorCode code, string message)
        : this(code, message, name: null, httpStatus: null, retryAfter: null, innerException: null)
    {
    }

    /// <summary>Creates an exception with every detail the server gave.</summary>
    /// <param name="code">The code from the shared table.</param>
    /// <param name="message">A human-readable sentence (problem+json <c>detail</c> or the ERROR frame's message).</param>
    /// <param name="name">The stable name as sent; <see langword="null"/> takes the name of <paramref name="code"/>.</param>
    /// <param name="httpStatus">The HTTP status, for errors from the HTTP API.</param>
    /// <param name="retryAfter">The delay from a <c>Retry-After</c> header, when the server sent one.</param>
    /// <param name="innerException">The failure that led to this one, if any.</param>
    public ChatWireException(ErrorCode code, string message, string? name, int? httpStatus, TimeSpan? retryAfter, Exception? innerException)
        : base(message, innerException)
    {
        Code = code;
        Name = string.IsNullOrEmpty(name) ? ErrorCodes.Name(code) : name;
        HttpStatus = httpStatus;
        RetryAfter = retryAfter;
    }

    /// <summary>The numeric code, e.g. <see cref="ErrorCode.NotAMember"/> (4001).</summary>
    public ErrorCode Code { get; }

    /// <summary>The stable SCREAMING_SNAKE name, e.g. <c>NOT_A_MEMBER</c>.</summary>
    public string Name { get; }

    /// <summary>The HTTP status of an HTTP API error; <see langword="null"/> for TCP errors.</summary>
    public int? HttpStatus { get; }

    /// <summary>How long the server asked the client to wait before retrying (<c>RATE_LIMITED</c>, <c>SERVER_BUSY</c>).</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>
    /// The whole problem+json object of an HTTP API error, for the extension members some codes carry
    /// (e.g. <c>DISTRIBUTION_MISMATCH</c>'s <c>missing</c>, <c>extra</c> and <c>stale</c>); <see langword="null"/> otherwise.
    /// </summary>
    public JsonElement? Problem { get; init; }

    /// <summary>
    /// Whether a connection closed with this code must not reconnect: the session is gone
    /// (<c>SESSION_REVOKED</c>, <c>INVALID_TOKEN</c>, <c>SESSION_EXPIRED</c>) or the server will never
    /// speak this client's protocol version (<c>UNSUPPORTED_VERSION</c>).
    /// </summary>
    public bool IsTerminal => IsTerminalCode(Code);

    /// <summary>Whether a connection closed with <paramref name="code"/> must not reconnect; see <see cref="IsTerminal"/>.</summary>
    /// <param name="code">The close code.</param>
    public static bool IsTerminalCode(ErrorCode code) => code is
        ErrorCode.SessionRevoked or ErrorCode.InvalidToken or ErrorCode.SessionExpired or ErrorCode.UnsupportedVersion;
}
