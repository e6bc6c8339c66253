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
        Opcode.Send => Run<Send>(body, f => WithOptional(
            new JsonObject
            {
                ["request_id"] = f.RequestId,
                ["conversation_id"] = Id(f.ConversationId),
                ["message_id"] = Id(f.MessageId),
                ["content_type"] = f.ContentType,
                ["content_hex"] = Hex(f.Content),
            },
            ("thread_root_id", f.ThreadRootId == System.Guid.Empty ? null : Id(f.ThreadRootId)),
            ("mentions", f.Mentions.Count == 0 ? null : Ids(f.Mentions)),
            ("group_mentions", f.GroupMentions == GroupMentions.None ? null : (int)f.GroupMentions),
            ("membership_epoch", f.MembershipEpoch == 0 ? null : f.MembershipEpoch),
            ("distribution_id_hex", f.DistributionId.IsEmpty ? null : Hex(f.DistributionId)))),
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
        Opcode.History => Run<History>(body, f => WithOptional(
            new JsonObject
            {
                ["request_id"] = f.RequestId,
                ["conversation_id"] = Id(f.ConversationId),
                ["from_seq"] = f.FromSeq,
                ["direction"] = (int)f.Direction,
                ["limit"] = f.Limit,
            },
            ("thread_root_id", f.ThreadRootId == System.Guid.Empty ? null : Id(f.ThreadRootId)))),
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
            ["conversations"] = new JsonArray([.. f.Conversations.Select(c => (JsonNode?)WithOptional(
                new JsonObject
                {
                    ["conversation_id"] = Id(c.ConversationId),
                    ["last_seq"] = c.LastSeq,
                },
                ("read_seq", c.ReadSeq == 0 ? null : c.ReadSeq),
                ("unread_count", c.UnreadCount == 0 ? null : c.UnreadCount),
                ("mention_count", c.MentionCount == 0 ? null : c.MentionCount),
                ("muted", c.Muted ? true : null),
                ("e2e", c.E2e ? true : null),
                ("device_cursor", c.DeviceCursor == 0 ? null : c.DeviceCursor)))]),
            ["has_more"] = f.HasMore,
        }),
        Opcode.Ok => Run<Ok>(body, f => new JsonObject
        {
            ["request_id"] = f.RequestId,
            ["seq"] = f.Seq,
            ["server_time_ms"] = f.ServerTimeUnixMs,
        }),
        Opcode.Edit => Run<Edit>(body, f => new JsonObject
        {
            ["request_id"] = f.RequestId,
            ["conversation_id"] = Id(f.ConversationId),
            ["message_id"] = Id(f.MessageId),
            ["content_type"] = f.ContentType,
            ["content_hex"] = Hex(f.Content),
        }),
        Opcode.Delete => Run<Delete>(body, f => new JsonObject
        {
            ["request_id"] = f.RequestId,
            ["conversation_id"] = Id(f.ConversationId),
            ["message_id"] = Id(f.MessageId),
        }),
        Opcode.React => Run<React>(body, f => new JsonObject
        {
            ["request_id"] = f.RequestId,
            ["conversation_id"] = Id(f.ConversationId),
            ["message_id"] = Id(f.MessageId),
            ["emoji"] = f.Emoji,
            ["remove"] = f.Remove,
        }),
        Opcode.Read => Run<MarkRead>(body, f => new JsonObject
        {
            ["request_id"] = f.RequestId,
            ["conversation_id"] = Id(f.ConversationId),
            ["seq"] = f.Seq,
        }),
        Opcode.ReadState => Run<ReadState>(body, f => new JsonObject
        {
            ["request_id"] = f.RequestId,
            ["conversation_id"] = Id(f.ConversationId),
            ["read_seq"] = f.ReadSeq,
            ["unread_count"] = f.UnreadCount,
            ["mention_count"] = f.MentionCount,
        }),
        Opcode.Typing => Run<Typing>(body, f => new JsonObject { ["request_id"] = f.RequestId, ["conversation_id"] = Id(f.ConversationId) }),
        Opcode.UserTyping => Run<UserTyping>(body, f => new JsonObject
        {
            ["request_id"] = f.RequestId,
            ["conversation_id"] = Id(f.ConversationId),
            ["user_id"] = Id(f.UserId),
        }),
        Opcode.SetStatus => Run<SetStatus>(body, f => new JsonObject { ["request_id"] = f.RequestId, ["status"] = (int)f.Status }),
        Opcode.PresenceWatch => Run<PresenceWatch>(body, f => new JsonObject { ["request_id"] = f.RequestId, ["user_ids"] = Ids(f.UserIds) }),
        Opcode.Presence => Run<PresenceFrame>(body, f => new JsonObject
        {
            ["request_id"] = f.RequestId,
            ["entries"] = new JsonArray([.. f.Entries.Select(e => (JsonNode?)new JsonObject
            {
                ["user_id"] = Id(e.UserId),
                ["status"] = (int)e.Status,
                ["last_seen_ms"] = e.LastSeenUnixMs,
            })]),
        }),
        Opcode.KeysChanged => Run<KeysChanged>(body, f => new JsonObject
        {
            ["request_id"] = f.RequestId,
            ["change"] = (uint)f.Change,
            ["device_id"] = Id(f.DeviceId),
        }),
        Opcode.GoAway => Run<GoAway>(body, f => new JsonObject
        {
            ["request_id"] = f.RequestId,
            ["reconnect_window_ms"] = f.ReconnectWindowMs,
            ["message"] = f.Message,
        }),
        Opcode.Received => Run<Received>(body, f => new JsonObject
        {
            ["request_id"] = f.RequestId,
            ["cursors"] = new JsonArray([.. f.Cursors.Select(c => (JsonNode?)new JsonObject { ["conversation_id"] = Id(c.ConversationId), ["seq"] = c.Seq })]),
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
                Convert.FromHexString(Str(fields, "content_hex")))
            {
                ThreadRootId = OptionalGuid(fields, "thread_root_id"),
                Mentions = OptionalIds(fields, "mentions"),
                GroupMentions = (GroupMentions)(fields["group_mentions"]?.GetValue<int>() ?? 0),
                MembershipEpoch = fields["membership_epoch"]?.GetValue<ulong>() ?? 0,
                DistributionId = Convert.FromHexString(fields["distribution_id_hex"]?.GetValue<string>() ?? string.Empty),
            }),
            Opcode.SendAck => FrameCodec.ToArray(new SendAck(
                rid, Guid(fields, "conversation_id"), Guid(fields, "message_id"), U64(fields, "seq"), I64(fields, "server_time_ms"))),
            Opcode.Event => FrameCodec.ToArray(new EventFrame(ToEvent(Guid(fields, "conversation_id"), fields))),
            Opcode.History => FrameCodec.ToArray(new History(
                rid, Guid(fields, "conversation_id"), U64(fields, "from_seq"), (HistoryDirection)U32(fields, "direction"), U32(fields, "limit"))
            {
                ThreadRootId = OptionalGuid(fields, "thread_root_id"),
            }),
            Opcode.HistoryPage => FrameCodec.ToArray(new HistoryPage(
                rid, Guid(fields, "conversation_id"),
                [.. Node(fields, "events").AsArray().Select(m => ToEvent(Guid(fields, "conversation_id"), m!.AsObject()))],
                Node(fields, "has_more").GetValue<bool>())),
            Opcode.Sync => FrameCodec.ToArray(new Sync(rid, Guid(fields, "after_conversation_id"), U32(fields, "limit"))),
            Opcode.SyncPage => FrameCodec.ToArray(new SyncPage(
                rid,
                [.. Node(fields, "conversations").AsArray().Select(c => ToState(c!.AsObject()))],
                Node(fields, "has_more").GetValue<bool>())),
            Opcode.Ok => FrameCodec.ToArray(new Ok(rid, U64(fields, "seq"), I64(fields, "server_time_ms"))),
            Opcode.Edit => FrameCodec.ToArray(new Edit(
                rid, Guid(fields, "conversation_id"), Guid(fields, "message_id"), Str(fields, "content_type"), Convert.FromHexString(Str(fields, "content_hex")))),
            Opcode.Delete => FrameCodec.ToArray(new Delete(rid, Guid(fields, "conversation_id"), Guid(fields, "message_id"))),
            Opcode.React => FrameCodec.ToArray(new React(
                rid, Guid(fields, "conversation_id"), Guid(fields, "message_id"), Str(fields, "emoji"), Node(fields, "remove").GetValue<bool>())),
            Opcode.Read => FrameCodec.ToArray(new MarkRead(rid, Guid(fields, "conversation_id"), U64(fields, "seq"))),
            Opcode.ReadState => FrameCodec.ToArray(new ReadState(
                Guid(fields, "conversation_id"), U64(fields, "read_seq"), U32(fields, "unread_count"), U32(fields, "mention_count"))),
            Opcode.Typing => FrameCodec.ToArray(new Typing(rid, Guid(fields, "conversation_id"))),
            Opcode.UserTyping => FrameCodec.ToArray(new UserTyping(Guid(fields, "conversation_id"), Guid(fields, "user_id"))),
            Opcode.SetStatus => FrameCodec.ToArray(new SetStatus(rid, (PresenceStatus)U32(fields, "status"))),
            Opcode.PresenceWatch => FrameCodec.ToArray(new PresenceWatch(rid, OptionalIds(fields, "user_ids"))),
            Opcode.Presence => FrameCodec.ToArray(new PresenceFrame(
                rid,
                [.. Node(fields, "entries").AsArray().Select(e => new PresenceEntry(Guid(e!.AsObject(), "user_id"), (PresenceStatus)U32(e.AsObject(), "status"), I64(e.AsObject(), "last_seen_ms")))])),
            Opcode.GoAway => FrameCodec.ToArray(new GoAway(U32(fields, "reconnect_window_ms"), Str(fields, "message"))),
            Opcode.KeysChanged => FrameCodec.ToArray(new KeysChanged((KeyChange)U32(fields, "change"), Guid(fields, "device_id"))),
            Opcode.Received => FrameCodec.ToArray(new Received(
                rid, [.. Node(fields, "cursors").AsArray().Select(c => (Guid(c!.AsObject(), "conversation_id"), U64(c.AsObject(), "seq")))])),
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

    // kind and subject_id always appear, with their defaults (0 and the nil UUID) when the frame leaves them
    // off; the later optional fields appear only when they hold something.
    private static JsonObject EventFields(ConversationEvent m) => WithOptional(
        new JsonObject
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
        },
        ("thread_root_id", m.ThreadRootId == System.Guid.Empty ? null : Id(m.ThreadRootId)),
        ("mentions", m.Mentions.Count == 0 ? null : Ids(m.Mentions)),
        ("group_mentions", m.GroupMentions == GroupMentions.None ? null : (int)m.GroupMentions),
        ("edited_at_ms", m.EditedAtUnixMs == 0 ? null : m.EditedAtUnixMs),
        ("deleted_at_ms", m.DeletedAtUnixMs == 0 ? null : m.DeletedAtUnixMs),
        ("reply_count", m.ReplyCount == 0 ? null : m.ReplyCount),
        ("last_reply_ms", m.LastReplyUnixMs == 0 ? null : m.LastReplyUnixMs),
        ("thread_participants", m.ThreadParticipants.Count == 0 ? null : Ids(m.ThreadParticipants)),
        ("reactions", m.Reactions.Count == 0 ? null : new JsonArray([.. m.Reactions.Select(r => (JsonNode?)new JsonObject
        {
            ["emoji"] = r.Emoji,
            ["count"] = r.Count,
            ["mine"] = r.Mine,
        })])));

    private static ConversationEvent ToEvent(Guid conversationId, JsonObject m) => new(
        conversationId, Guid(m, "event_id"), U64(m, "seq"), Guid(m, "sender_user_id"), Guid(m, "sender_device_id"),
        I64(m, "server_time_ms"), Str(m, "content_type"), Convert.FromHexString(Str(m, "content_hex")),
        (EventKind)U32(m, "kind"), Guid(m, "subject_id"))
    {
        ThreadRootId = OptionalGuid(m, "thread_root_id"),
        Mentions = OptionalIds(m, "mentions"),
        GroupMentions = (GroupMentions)(m["group_mentions"]?.GetValue<int>() ?? 0),
        EditedAtUnixMs = m["edited_at_ms"]?.GetValue<long>() ?? 0,
        DeletedAtUnixMs = m["deleted_at_ms"]?.GetValue<long>() ?? 0,
        ReplyCount = m["reply_count"]?.GetValue<uint>() ?? 0,
        LastReplyUnixMs = m["last_reply_ms"]?.GetValue<long>() ?? 0,
        ThreadParticipants = OptionalIds(m, "thread_participants"),
        Reactions = m["reactions"] is JsonArray reactions
            ? [.. reactions.Select(r => new Reaction(Str(r!.AsObject(), "emoji"), U32(r.AsObject(), "count"), Node(r.AsObject(), "mine").GetValue<bool>()))]
            : [],
    };

    private static ConversationState ToState(JsonObject c) => new(
        Guid(c, "conversation_id"),
        U64(c, "last_seq"),
        c["read_seq"]?.GetValue<ulong>() ?? 0,
        c["unread_count"]?.GetValue<uint>() ?? 0,
        c["mention_count"]?.GetValue<uint>() ?? 0,
        c["muted"]?.GetValue<bool>() ?? false,
        c["e2e"]?.GetValue<bool>() ?? false,
        c["device_cursor"]?.GetValue<ulong>() ?? 0);

    // Adds each optional field that holds something (a non-null value).
    private static JsonObject WithOptional(JsonObject fields, params (string Key, JsonNode? Value)[] optional)
    {
        foreach (var (key, value) in optional)
        {
            if (value is not null)
            {
                fields[key] = value;
            }
        }

        return fields;
    }

    private static JsonArray Ids(IEnumerable<Guid> ids) => new([.. ids.Select(id => (JsonNode?)Id(id))]);

    private static Guid OptionalGuid(JsonObject o, string key) => o[key] is { } value ? System.Guid.Parse(value.GetValue<string>(), CultureInfo.InvariantCulture) : System.Guid.Empty;

    private static Guid[] OptionalIds(JsonObject o, string key) =>
        o[key] is JsonArray ids ? [.. ids.Select(id => System.Guid.Parse(id!.GetValue<string>(), CultureInfo.InvariantCulture))] : [];

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
