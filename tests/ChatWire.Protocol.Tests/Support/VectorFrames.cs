using System.Buffers;
using System.Globalization;
using System.Text.Json.Nodes;
using ChatWire.Protocol.Frames;

namespace ChatWire.Protocol.Tests.Support;

/// <summary>
/// Converts between frames and the <c>fields</c> JSON of docs/protocol.md §7: ids as canonical UUID text,
/// bin values as lowercase hex under <c>content_hex</c>, one key per field named as in §4.
/// </summary>
internal static class VectorFrames
{
    /// <summary>Decodes <paramref name="body"/> as <paramref name="opcode"/>; returns its fields and its re-encoded frame.</summary>
    public static (JsonObject Fields, byte[] Reencoded) Decode(Opcode opcode, ReadOnlySequence<byte> body) => opcode switch
    {
        Opcode.Hello => Run<Hello>(body, f => new JsonObject
        {
            ["request_id"] = f.RequestId,
            ["protocol_version"] = f.ProtocolVersion,
            ["client_name"] = f.ClientName,
            ["capabilities"] = new JsonArray([.. f.Capabilities.Select(c => (JsonNode?)c)]),
        }),
        Opcode.Welcome => Run<Welcome>(body, f => new JsonObject
        {
            ["request_id"] = f.RequestId,
            ["protocol_version"] = f.ProtocolVersion,
            ["max_frame_length"] = f.MaxFrameLength,
            ["max_content_length"] = f.MaxContentLength,
            ["heartbeat_interval_ms"] = f.HeartbeatIntervalMs,
            ["auth_deadline_ms"] = f.AuthDeadlineMs,
            ["server_time_ms"] = f.ServerTimeUnixMs,
        }),
        Opcode.Auth => Run<Auth>(body, f => new JsonObject
        {
            ["request_id"] = f.RequestId,
            ["session_token"] = f.SessionToken,
            ["device_id"] = Id(f.DeviceId),
        }),
        Opcode.AuthOk => Run<AuthOk>(body, f => new JsonObject
        {
            ["request_id"] = f.RequestId,
            ["user_id"] = Id(f.UserId),
            ["device_id"] = Id(f.DeviceId),
        }),
        Opcode.Ping => Run<Ping>(body, f => new JsonObject { ["request_id"] = f.RequestId }),
        Opcode.Pong => Run<Pong>(body, f => new JsonObject { ["request_id"] = f.RequestId }),
        Opcode.Error => Run<ErrorFrame>(body, f => new JsonObject
        {
            ["request_id"] = f.RequestId,
            ["code"] = (int)f.Code,
            ["name"] = f.Name,
            ["message"] = f.Message,
            ["retry_after_ms"] = f.RetryAfterMs,
        }),
        Opcode.Send => Run<Send>(body, f => new JsonObject
        {
            ["request_id"] = f.RequestId,
            ["conversation_id"] = Id(f.ConversationId),
            ["message_id"] = Id(f.MessageId),
            ["content_type"] = f.ContentType,
            ["content_hex"] = Hex(f.Content),
        }),
        Opcode.SendAck => Run<SendAck>(body, f => new JsonObject
        {
            ["request_id"] = f.RequestId,
            ["conversation_id"] = Id(f.ConversationId),
            ["message_id"] = Id(f.MessageId),
            ["seq"] = f.Seq,
            ["server_time_ms"] = f.ServerTimeUnixMs,
        }),
        Opcode.Event => Run<EventFrame>(body, f =>
        {
            var fields = new JsonObject { ["request_id"] = f.RequestId, ["conversation_id"] = Id(f.Event.ConversationId) };
            foreach (var (key, value) in EventFields(f.Event))
            {
                fields[key] = value?.DeepClone();
            }

            return fields;
        }),
        Opcode.History => Run<History>(body, f => new JsonObject
        {
            ["request_id"] = f.RequestId,
            ["conversation_id"] = Id(f.ConversationId),
            ["from_seq"] = f.FromSeq,
            ["direction"] = (int)f.Direction,
            ["limit"] = f.Limit,
        }),
        Opcode.HistoryPage => Run<HistoryPage>(body, f => new JsonObject
        {
            ["request_id"] = f.RequestId,
            ["conversation_id"] = Id(f.ConversationId),
            ["events"] = new JsonArray([.. f.Events.Select(m => (JsonNode?)EventFields(m))]),
            ["has_more"] = f.HasMore,
        }),
        Opcode.Sync => Run<Sync>(body, f => new JsonObject
        {
            ["request_id"] = f.RequestId,
            ["after_conversation_id"] = Id(f.AfterConversationId),
            ["limit"] = f.Limit,
        }),
        Opcode.SyncPage => Run<SyncPage>(body, f => new JsonObject
        {
            ["request_id"] = f.RequestId,
            ["conversations"] = new JsonArray([.. f.Conversations.Select(c => (JsonNode?)new JsonObject
            {
                ["conversation_id"] = Id(c.ConversationId),
                ["last_seq"] = c.LastSeq,
            })]),
            ["has_more"] = f.HasMore,
        }),
        _ => throw new InvalidOperationException($"No vector mapping for {opcode}; add it here."),
    };

    /// <summary>Builds the frame <paramref name="fields"/> describe and encodes it.</summary>
    public static byte[] Encode(Opcode opcode, JsonObject fields)
    {
        var rid = U32(fields, "request_id");
        return opcode switch
        {
            Opcode.Hello => FrameCodec.ToArray(new Hello(
                rid, U32(fields, "protocol_version"), Str(fields, "client_name"),
                [.. Node(fields, "capabilities").AsArray().Select(c => c!.GetValue<string>())])),
            Opcode.Welcome => FrameCodec.ToArray(new Welcome(
                rid, U32(fields, "protocol_version"), U32(fields, "max_frame_length"), U32(fields, "max_content_length"),
                U32(fields, "heartbeat_interval_ms"), U32(fields, "auth_deadline_ms"), I64(fields, "server_time_ms"))),
            Opcode.Auth => FrameCodec.ToArray(new Auth(rid, Str(fields, "session_token"), Guid(fields, "device_id"))),
            Opcode.AuthOk => FrameCodec.ToArray(new AuthOk(rid, Guid(fields, "user_id"), Guid(fields, "device_id"))),
            Opcode.Ping => FrameCodec.ToArray(new Ping(rid)),
            Opcode.Pong => FrameCodec.ToArray(new Pong(rid)),
            Opcode.Error => FrameCodec.ToArray(new ErrorFrame(rid, (ErrorCode)U32(fields, "code"), Str(fields, "message"), U32(fields, "retry_after_ms"))),
            Opcode.Send => FrameCodec.ToArray(new Send(
                rid, Guid(fields, "conversation_id"), Guid(fields, "message_id"), Str(fields, "content_type"),
                Convert.FromHexString(Str(fields, "content_hex")))),
            Opcode.SendAck => FrameCodec.ToArray(new SendAck(
                rid, Guid(fields, "conversation_id"), Guid(fields, "message_id"), U64(fields, "seq"), I64(fields, "server_time_ms"))),
            Opcode.Event => FrameCodec.ToArray(new EventFrame(ToEvent(Guid(fields, "conversation_id"), fields))),
            Opcode.History => FrameCodec.ToArray(new History(
                rid, Guid(fields, "conversation_id"), U64(fields, "from_seq"), (HistoryDirection)U32(fields, "direction"), U32(fields, "limit"))),
            Opcode.HistoryPage => FrameCodec.ToArray(new HistoryPage(
                rid, Guid(fields, "conversation_id"),
                [.. Node(fields, "events").AsArray().Select(m => ToEvent(Guid(fields, "conversation_id"), m!.AsObject()))],
                Node(fields, "has_more").GetValue<bool>())),
            Opcode.Sync => FrameCodec.ToArray(new Sync(rid, Guid(fields, "after_conversation_id"), U32(fields, "limit"))),
            Opcode.SyncPage => FrameCodec.ToArray(new SyncPage(
                rid,
                [.. Node(fields, "conversations").AsArray().Select(c => new ConversationState(Guid(c!.AsObject(), "conversation_id"), U64(c.AsObject(), "last_seq")))],
                Node(fields, "has_more").GetValue<bool>())),
            _ => throw new InvalidOperationException($"No vector mapping for {opcode}; add it here."),
        };
    }

    private static (JsonObject, byte[]) Run<T>(ReadOnlySequence<byte> body, Func<T, JsonObject> project)
        where T : struct, IFrame<T>
    {
        var frame = FrameCodec.Decode<T>(body, ProtocolLimits.Default);
        var output = new ArrayBufferWriter<byte>();
        FrameCodec.Write(output, frame);

        // A round trip through text makes both sides of the comparison the same kind of JsonNode.
        return (JsonNode.Parse(project(frame).ToJsonString())!.AsObject(), output.WrittenSpan.ToArray());
    }

    // kind and subject_id always appear, with their defaults (0 and the nil UUID) when the frame leaves them off.
    private static JsonObject EventFields(ConversationEvent m) => new()
    {
        ["event_id"] = Id(m.EventId),
        ["seq"] = m.Seq,
        ["sender_user_id"] = Id(m.SenderUserId),
        ["sender_device_id"] = Id(m.SenderDeviceId),
        ["server_time_ms"] = m.ServerTimeUnixMs,
        ["content_type"] = m.ContentType,
        ["content_hex"] = Hex(m.Content),
        ["kind"] = (int)m.Kind,
        ["subject_id"] = Id(m.SubjectId),
    };

    private static ConversationEvent ToEvent(Guid conversationId, JsonObject m) => new(
        conversationId, Guid(m, "event_id"), U64(m, "seq"), Guid(m, "sender_user_id"), Guid(m, "sender_device_id"),
        I64(m, "server_time_ms"), Str(m, "content_type"), Convert.FromHexString(Str(m, "content_hex")),
        (EventKind)U32(m, "kind"), Guid(m, "subject_id"));

    private static string Id(Guid id) => id.ToString("D", CultureInfo.InvariantCulture);

    private static string Hex(ReadOnlyMemory<byte> bytes) => Convert.ToHexStringLower(bytes.Span);

    private static JsonNode Node(JsonObject o, string key) =>
        o[key] ?? throw new KeyNotFoundException($"fields has no '{key}'.");

    private static uint U32(JsonObject o, string key) => Node(o, key).GetValue<uint>();

    private static ulong U64(JsonObject o, string key) => Node(o, key).GetValue<ulong>();

    private static long I64(JsonObject o, string key) => Node(o, key).GetValue<long>();

    private static string Str(JsonObject o, string key) => Node(o, key).GetValue<string>();

    private static Guid Guid(JsonObject o, string key) => System.Guid.Parse(Str(o, key), CultureInfo.InvariantCulture);
}
