using ChatWire.Protocol.Internal;
using MessagePack;

namespace ChatWire.Protocol.Frames;

/// <summary>HELLO <c>[0x01, request_id, protocol_version, client_name, capabilities]</c>: the first frame a client sends.</summary>
/// <param name="RequestId">Echoed in WELCOME.</param>
/// <param name="ProtocolVersion">The highest protocol version the client speaks.</param>
/// <param name="ClientName">Free-form client name and version, for logs (≤ 64 bytes).</param>
/// <param name="Capabilities">Optional features the client supports (≤ 16 names of ≤ 32 bytes).</param>
public readonly record struct Hello(uint RequestId, uint ProtocolVersion, string ClientName, IReadOnlyList<string> Capabilities)
    : IFrame<Hello>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.Hello;

    /// <inheritdoc/>
    public static int RequiredFields => 3;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <inheritdoc/>
    public static Hello ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits)
    {
        var version = reader.ReadUInt32();
        var name = MessagePackFields.ReadString(ref reader, limits.MaxClientNameLength, requestId, "client_name");
        var count = MessagePackFields.ReadArrayHeader(ref reader, limits.MaxCapabilities, requestId, "capabilities");
        var capabilities = new string[count];
        for (var i = 0; i < count; i++)
        {
            capabilities[i] = MessagePackFields.ReadString(ref reader, limits.MaxCapabilityLength, requestId, "capabilities[]");
        }

        return new Hello(requestId, version, name, capabilities);
    }

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        writer.Write(ProtocolVersion);
        writer.Write(ClientName);
        writer.WriteArrayHeader(Capabilities.Count);
        foreach (var capability in Capabilities)
        {
            writer.Write(capability);
        }
    }
}

/// <summary>
/// WELCOME <c>[0x02, request_id, protocol_version, max_frame_length, max_content_length,
/// heartbeat_interval_ms, auth_deadline_ms, server_time_ms]</c>: the server's answer to HELLO.
/// </summary>
/// <param name="RequestId">The HELLO's request id.</param>
/// <param name="ProtocolVersion">The version this connection speaks from now on.</param>
/// <param name="MaxFrameLength">Largest frame body the server accepts after AUTH.</param>
/// <param name="MaxContentLength">Largest SEND content.</param>
/// <param name="HeartbeatIntervalMs">The client sends PING (or any frame) at least this often.</param>
/// <param name="AuthDeadlineMs">AUTH must succeed within this many ms of the connection opening.</param>
/// <param name="ServerTimeUnixMs">Server clock, Unix milliseconds, for clock-skew estimates.</param>
public readonly record struct Welcome(
    uint RequestId,
    uint ProtocolVersion,
    uint MaxFrameLength,
    uint MaxContentLength,
    uint HeartbeatIntervalMs,
    uint AuthDeadlineMs,
    long ServerTimeUnixMs) : IFrame<Welcome>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.Welcome;

    /// <inheritdoc/>
    public static int RequiredFields => 6;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <inheritdoc/>
    public static Welcome ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits) =>
        new(requestId, reader.ReadUInt32(), reader.ReadUInt32(), reader.ReadUInt32(), reader.ReadUInt32(), reader.ReadUInt32(), reader.ReadInt64());

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        writer.Write(ProtocolVersion);
        writer.Write(MaxFrameLength);
        writer.Write(MaxContentLength);
        writer.Write(HeartbeatIntervalMs);
        writer.Write(AuthDeadlineMs);
        writer.Write(ServerTimeUnixMs);
    }
}

/// <summary>AUTH <c>[0x03, request_id, session_token, device_id]</c>: binds the connection to a device session.</summary>
/// <param name="RequestId">Echoed in AUTH_OK or ERROR.</param>
/// <param name="SessionToken">The device's session token from the HTTP login, as text.</param>
/// <param name="DeviceId">The device the token was issued to.</param>
public readonly record struct Auth(uint RequestId, string SessionToken, Guid DeviceId) : IFrame<Auth>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.Auth;

    /// <inheritdoc/>
    public static int RequiredFields => 2;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <inheritdoc/>
    public static Auth ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits) =>
        new(requestId,
            MessagePackFields.ReadString(ref reader, limits.MaxTokenLength, requestId, "session_token"),
            MessagePackFields.ReadUuid(ref reader, requestId, "device_id"));

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        writer.Write(SessionToken);
        MessagePackFields.WriteUuid(ref writer, DeviceId);
    }
}

/// <summary>AUTH_OK <c>[0x04, request_id, user_id, device_id]</c>: the connection now acts for this user and device.</summary>
/// <param name="RequestId">The AUTH's request id.</param>
/// <param name="UserId">The authenticated user.</param>
/// <param name="DeviceId">The authenticated device.</param>
public readonly record struct AuthOk(uint RequestId, Guid UserId, Guid DeviceId) : IFrame<AuthOk>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.AuthOk;

    /// <inheritdoc/>
    public static int RequiredFields => 2;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <inheritdoc/>
    public static AuthOk ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits) =>
        new(requestId, MessagePackFields.ReadUuid(ref reader, requestId, "user_id"), MessagePackFields.ReadUuid(ref reader, requestId, "device_id"));

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        MessagePackFields.WriteUuid(ref writer, UserId);
        MessagePackFields.WriteUuid(ref writer, DeviceId);
    }
}

/// <summary>PING <c>[0x05, request_id]</c>: either side may send it; the other answers PONG with the same id.</summary>
/// <param name="RequestId">Echoed in PONG.</param>
public readonly record struct Ping(uint RequestId) : IFrame<Ping>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.Ping;

    /// <inheritdoc/>
    public static int RequiredFields => 0;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <inheritdoc/>
    public static Ping ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits) => new(requestId);

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
    }
}

/// <summary>PONG <c>[0x06, request_id]</c>: answer to PING.</summary>
/// <param name="RequestId">The PING's request id.</param>
public readonly record struct Pong(uint RequestId) : IFrame<Pong>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.Pong;

    /// <inheritdoc/>
    public static int RequiredFields => 0;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <inheritdoc/>
    public static Pong ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits) => new(requestId);

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
    }
}

/// <summary>
/// ERROR <c>[0x07, request_id, code, name, message, retry_after_ms?]</c>: a request failed (request id set),
/// or the server is closing the connection (request id 0 and a code that closes, see
/// <see cref="ErrorCodes.ClosesConnection"/>).
/// </summary>
/// <param name="RequestId">The failed request's id, or 0.</param>
/// <param name="Code">The numeric code from the shared table.</param>
/// <param name="Message">A human-readable sentence; not for programs to parse.</param>
/// <param name="RetryAfterMs">
/// The request may succeed if repeated after this many milliseconds (<c>RATE_LIMITED</c>); 0 = no advice.
/// Written only when not 0, so an ERROR without it is the five-element array it has always been.
/// </param>
public readonly record struct ErrorFrame(uint RequestId, ErrorCode Code, string Message, uint RetryAfterMs = 0) : IFrame<ErrorFrame>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.Error;

    /// <inheritdoc/>
    public static int RequiredFields => 3;

    /// <inheritdoc/>
    public static int KnownFields => 4;

    /// <inheritdoc/>
    public int FieldCount => RetryAfterMs == 0 ? RequiredFields : KnownFields;

    /// <summary>The stable name of <see cref="Code"/>, written on the wire for readability.</summary>
    public string Name => ErrorCodes.Name(Code);

    /// <inheritdoc/>
    public static ErrorFrame ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits)
    {
        var code = reader.ReadUInt16();
        _ = MessagePackFields.ReadString(ref reader, 64, requestId, "name");
        var message = MessagePackFields.ReadString(ref reader, limits.MaxErrorMessageLength, requestId, "message");
        var retryAfter = present > RequiredFields ? reader.ReadUInt32() : 0;
        return new ErrorFrame(requestId, (ErrorCode)code, message, retryAfter);
    }

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        writer.Write((ushort)Code);
        writer.Write(Name);
        writer.Write(Message);
        if (FieldCount > RequiredFields)
        {
            writer.Write(RetryAfterMs);
        }
    }
}
