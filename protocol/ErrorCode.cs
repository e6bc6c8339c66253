namespace ChatWire.Protocol;

/// <summary>
/// The one table of error codes shared by the TCP protocol and the HTTP API (problem+json carries
/// the number and the name). Numbers and names are stable: new codes are only ever added.
/// Ranges: 1xxx frame and protocol, 2xxx authentication and session, 3xxx capacity and rate,
/// 4xxx requests about resources, 5xxx server faults. See docs/protocol.md §6.
/// </summary>
public enum ErrorCode : ushort
{
    /// <summary>The frame body is not the MessagePack array the opcode requires (wrong type, missing field, trailing bytes).</summary>
    MalformedFrame = 1001,

    /// <summary>The length prefix exceeds the negotiated maximum; the connection is closed.</summary>
    FrameTooLarge = 1002,

    /// <summary>The opcode is not known to this server; the connection stays open.</summary>
    UnknownOpcode = 1003,

    /// <summary>HELLO asked for a protocol version this server does not speak; the connection is closed.</summary>
    UnsupportedVersion = 1004,

    /// <summary>A field is well-formed but out of its limits (too long, too many items, invalid text).</summary>
    InvalidField = 1005,

    /// <summary>The opcode is not valid in the connection's current state (e.g. a second HELLO).</summary>
    InvalidState = 1006,

    /// <summary>A frame other than HELLO, AUTH or PING arrived before AUTH succeeded; the connection is closed.</summary>
    NotAuthenticated = 2001,

    /// <summary>No successful AUTH within the deadline announced in WELCOME; the connection is closed.</summary>
    AuthTimeout = 2002,

    /// <summary>The session token is unknown, malformed or does not belong to the device.</summary>
    InvalidToken = 2003,

    /// <summary>The session token passed its idle expiry or maximum age.</summary>
    SessionExpired = 2004,

    /// <summary>The device's session was revoked; its open connections are closed with this code.</summary>
    SessionRevoked = 2005,

    /// <summary>Login failed: unknown user or wrong password (deliberately indistinguishable).</summary>
    InvalidCredentials = 2006,

    /// <summary>Nothing was received from the peer for longer than the heartbeat timeout.</summary>
    HeartbeatTimeout = 2007,

    /// <summary>A frame started but did not complete within the frame read deadline (slowloris).</summary>
    FrameTimeout = 2008,

    /// <summary>Login refused: the server's operator disabled this account.</summary>
    AccountDisabled = 2009,

    /// <summary>Too many requests; retry after the advertised delay.</summary>
    RateLimited = 3001,

    /// <summary>The connection's outbound queue passed its bound; reconnect and catch up.</summary>
    SlowConsumer = 3002,

    /// <summary>The server or this address holds too many connections.</summary>
    TooManyConnections = 3003,

    /// <summary>The server is overloaded (e.g. the password-hashing queue is full); retry later.</summary>
    ServerBusy = 3004,

    /// <summary>The server is shutting down; reconnect to another node or later.</summary>
    ShuttingDown = 3005,

    /// <summary>The caller is not a member of the team or conversation.</summary>
    NotAMember = 4001,

    /// <summary>The resource does not exist (or is not visible to the caller).</summary>
    NotFound = 4002,

    /// <summary>The caller is a member but lacks the right for this action.</summary>
    Forbidden = 4003,

    /// <summary>The name is already taken.</summary>
    AlreadyExists = 4004,

    /// <summary>The invite code is unknown, expired or revoked.</summary>
    InviteInvalid = 4005,

    /// <summary>A message id was reused with a different body.</summary>
    IdempotencyConflict = 4006,

    /// <summary>A request field failed validation (HTTP).</summary>
    ValidationFailed = 4007,

    /// <summary>Message content exceeds the maximum content length.</summary>
    ContentTooLarge = 4008,

    /// <summary>HTTP: the request body is not JSON (<c>Content-Type: application/json</c> is required).</summary>
    UnsupportedMediaType = 4009,

    /// <summary>HTTP: the path exists but not with this method; the <c>Allow</c> header lists the methods it takes.</summary>
    MethodNotAllowed = 4010,

    /// <summary>A cap or quota is reached (teams owned, channels in a team, active invites); deleting or revoking something makes room.</summary>
    QuotaExceeded = 4011,

    /// <summary>An end-to-end request named a membership epoch that is not the conversation's current one: re-read the key state and reseal.</summary>
    StaleEpoch = 4012,

    /// <summary>A sender-chain distribution does not match the conversation's current recipients (missing, extra or stale ones), or a SEND names one that is not complete.</summary>
    DistributionMismatch = 4013,

    /// <summary>A versioned key record (history key generation, signed device list) was not above the stored version: a rollback or a lost race.</summary>
    KeyVersionConflict = 4014,

    /// <summary>Different keys are already registered (account key without reset, device keys, a sender chain id used by another device or epoch).</summary>
    KeyConflict = 4015,

    /// <summary>HTTP: the uploaded attachment is not the declared size (or SHA-256); the upload was deleted (422).</summary>
    UploadMismatch = 4016,

    /// <summary>Unexpected server fault; the request may be retried.</summary>
    InternalError = 5000,

    /// <summary>The store could not be reached or refused the write; nothing was acknowledged.</summary>
    StorageUnavailable = 5001,
}

/// <summary>Stable names and descriptions of <see cref="ErrorCode"/> values.</summary>
public static class ErrorCodes
{
    /// <summary>All defined codes, in numeric order.</summary>
    public static IReadOnlyList<ErrorCode> All { get; } = Enum.GetValues<ErrorCode>();

    /// <summary>The stable SCREAMING_SNAKE name of a code, e.g. <c>NOT_A_MEMBER</c>; <c>UNKNOWN</c> for an undefined number.</summary>
    public static string Name(ErrorCode code) => code switch
    {
        ErrorCode.MalformedFrame => "MALFORMED_FRAME",
        ErrorCode.FrameTooLarge => "FRAME_TOO_LARGE",
        ErrorCode.UnknownOpcode => "UNKNOWN_OPCODE",
        ErrorCode.UnsupportedVersion => "UNSUPPORTED_VERSION",
        ErrorCode.InvalidField => "INVALID_FIELD",
        ErrorCode.InvalidState => "INVALID_STATE",
        ErrorCode.NotAuthenticated => "NOT_AUTHENTICATED",
        ErrorCode.AuthTimeout => "AUTH_TIMEOUT",
        ErrorCode.InvalidToken => "INVALID_TOKEN",
        ErrorCode.SessionExpired => "SESSION_EXPIRED",
        ErrorCode.SessionRevoked => "SESSION_REVOKED",
        ErrorCode.InvalidCredentials => "INVALID_CREDENTIALS",
        ErrorCode.AccountDisabled => "ACCOUNT_DISABLED",
        ErrorCode.HeartbeatTimeout => "HEARTBEAT_TIMEOUT",
        ErrorCode.FrameTimeout => "FRAME_TIMEOUT",
        ErrorCode.RateLimited => "RATE_LIMITED",
        ErrorCode.SlowConsumer => "SLOW_CONSUMER",
        ErrorCode.TooManyConnections => "TOO_MANY_CONNECTIONS",
        ErrorCode.ServerBusy => "SERVER_BUSY",
        ErrorCode.ShuttingDown => "SHUTTING_DOWN",
        ErrorCode.NotAMember => "NOT_A_MEMBER",
        ErrorCode.NotFound => "NOT_FOUND",
        ErrorCode.Forbidden => "FORBIDDEN",
        ErrorCode.AlreadyExists => "ALREADY_EXISTS",
        ErrorCode.InviteInvalid => "INVITE_INVALID",
        ErrorCode.IdempotencyConflict => "IDEMPOTENCY_CONFLICT",
        ErrorCode.ValidationFailed => "VALIDATION_FAILED",
        ErrorCode.ContentTooLarge => "CONTENT_TOO_LARGE",
        ErrorCode.UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
        ErrorCode.MethodNotAllowed => "METHOD_NOT_ALLOWED",
        ErrorCode.QuotaExceeded => "QUOTA_EXCEEDED",
        ErrorCode.StaleEpoch => "STALE_EPOCH",
        ErrorCode.DistributionMismatch => "DISTRIBUTION_MISMATCH",
        ErrorCode.KeyVersionConflict => "KEY_VERSION_CONFLICT",
        ErrorCode.KeyConflict => "KEY_CONFLICT",
        ErrorCode.UploadMismatch => "UPLOAD_MISMATCH",
        ErrorCode.InternalError => "INTERNAL_ERROR",
        ErrorCode.StorageUnavailable => "STORAGE_UNAVAILABLE",
        _ => "UNKNOWN",
    };

    /// <summary>Whether the server closes the connection after sending this code.</summary>
    public static bool ClosesConnection(ErrorCode code) => code is
        ErrorCode.FrameTooLarge or ErrorCode.UnsupportedVersion or ErrorCode.NotAuthenticated or
        ErrorCode.AuthTimeout or ErrorCode.InvalidToken or ErrorCode.SessionExpired or
        ErrorCode.SessionRevoked or ErrorCode.HeartbeatTimeout or ErrorCode.FrameTimeout or
        ErrorCode.SlowConsumer or ErrorCode.TooManyConnections or ErrorCode.ShuttingDown;
}
