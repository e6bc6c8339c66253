using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatWire.Client;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.Cli;

// Results go to stdout: one JSON object per line with --json (stable snake_case keys, docs/cli.md),
// else a short human line. Each line is flushed at once: scripts read them as they come.
internal sealed class CliOutput(TextWriter stdout, TextWriter stderr, bool json)
{
    // Relaxed escaping keeps non-ASCII text readable; the output is still valid JSON.
    private static readonly JsonSerializerOptions LineOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        WriteIndented = false,
    };

    public bool Json { get; } = json;

    public TextWriter Stderr { get; } = stderr;

    public static string Time(DateTimeOffset value) =>
        value.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    public static string Time(long unixMilliseconds) => Time(DateTimeOffset.FromUnixTimeMilliseconds(unixMilliseconds));

    public static string JsonLine(JsonObject value) => value.ToJsonString(LineOptions);

    // An event as listen and history print it: a message, a membership change ("member_joined" /
    // "member_left", with user_id the member and sender who made the change), or a change to a message
    // ("edit", "delete", "reaction": message_id is the message changed, event_id the change's own id).
    // Kinds this version does not know print as "event" with their number, so a script sees every seq.
    public static JsonObject EventJson(ConversationEvent e, NameBook? names = null)
    {
        var changesAMessage = e.Kind is EventKind.MessageEdited or EventKind.MessageDeleted or EventKind.ReactionAdded or EventKind.ReactionRemoved;
        var json = new JsonObject
        {
            ["type"] = TypeName(e.Kind),
            ["conversation_id"] = e.ConversationId.ToString("D"),
            ["message_id"] = (changesAMessage ? e.SubjectId : e.EventId).ToString("D"),
        };
        if (changesAMessage)
        {
            json["event_id"] = e.EventId.ToString("D");
        }

        json["seq"] = e.Seq;
        json["sender"] = e.SenderUserId.ToString("D");
        if (names?.Known(e.SenderUserId) is { } senderName)
        {
            json["sender_username"] = senderName;
        }

        json["sender_device"] = e.SenderDeviceId.ToString("D");
        switch (e.Kind)
        {
            case EventKind.Message or EventKind.MessageEdited when e.DeletedAtUnixMs != 0:
                // A tombstone, or an edit of a deleted message: the content is gone.
                json["text"] = null;
                break;
            case EventKind.Message or EventKind.MessageEdited:
                AddContent(json, e);
                break;
            case EventKind.MemberJoined or EventKind.MemberLeft:
                json["user_id"] = e.SubjectId.ToString("D");
                break;
            case EventKind.ReactionAdded or EventKind.ReactionRemoved:
                json["emoji"] = Encoding.UTF8.GetString(e.Content.Span);
                json["added"] = e.Kind == EventKind.ReactionAdded;
                break;
            case EventKind.MessageDeleted:
                break;
            case EventKind.ChannelUpdated when ChannelUpdate.TryDecode(e.Content, out var update):
                json["changed"] = new JsonArray([.. ChannelFields.Where(f => update.Changed.HasFlag(f.Flag)).Select(f => JsonValue.Create(f.Name))]);
                json["name"] = update.Name;
                json["topic"] = update.Topic;
                json["slow_mode_seconds"] = update.SlowModeSeconds;
                json["archived"] = update.ArchivedAtUnixMs != 0;
                break;
            default:
                json["kind"] = (int)e.Kind;
                break;
        }

        if (e.Kind == EventKind.Message)
        {
            AddMessageState(json, e);
        }

        json["sent_at"] = Time(e.ServerTimeUnixMs);
        return json;
    }

    // "2026-12-02T10:00:00.000Z #general (Acme) #3 alice: hello" — names where the book has them; the
    // conversation only where lines of several conversations mix (listen).
    public static string EventHuman(ConversationEvent e, NameBook names, string? conversation)
    {
        var body = e.Kind switch
        {
            EventKind.Message when e.DeletedAtUnixMs != 0 => ": [deleted]",
            EventKind.Message => (e.ThreadRootId == Guid.Empty ? string.Empty : $" (in thread {e.ThreadRootId:D})") + ": " + Indent(ContentText(e))
                + (e.EditedAtUnixMs != 0 ? " (edited)" : string.Empty)
                + (e.ReplyCount > 0 ? $" [{e.ReplyCount.ToString(CultureInfo.InvariantCulture)} {(e.ReplyCount == 1 ? "reply" : "replies")}]" : string.Empty)
                + (e.Reactions.Count > 0 ? " " + string.Join(' ', e.Reactions.Select(r => $"{r.Emoji}{r.Count.ToString(CultureInfo.InvariantCulture)}")) : string.Empty),
            EventKind.MemberJoined => e.SubjectId == e.SenderUserId ? " joined" : $" added {names.User(e.SubjectId)}",
            EventKind.MemberLeft => e.SubjectId == e.SenderUserId ? " left" : $" removed {names.User(e.SubjectId)}",
            EventKind.MessageEdited when e.DeletedAtUnixMs != 0 => $" edited {e.SubjectId:D}: [deleted]",
            EventKind.MessageEdited => $" edited {e.SubjectId:D}: " + Indent(ContentText(e)),
            EventKind.MessageDeleted => $" deleted {e.SubjectId:D}",
            EventKind.ReactionAdded => $" reacted {Encoding.UTF8.GetString(e.Content.Span)} to {e.SubjectId:D}",
            EventKind.ReactionRemoved => $" took back {Encoding.UTF8.GetString(e.Content.Span)} on {e.SubjectId:D}",
            EventKind.ChannelUpdated when ChannelUpdate.TryDecode(e.Content, out var update) => ChannelChangeText(update),
            _ => $" [event kind {(int)e.Kind}]",
        };
        var where = conversation is null ? string.Empty : conversation + " ";
        return $"{Time(e.ServerTimeUnixMs)} {where}#{e.Seq.ToString(CultureInfo.InvariantCulture)} {names.User(e.SenderUserId)}{body}";
    }

    // A read position that moved on one of my devices, as listen prints it.
    public static JsonObject ReadStateJson(ReadStateChanged state) => new()
    {
        ["type"] = "read",
        ["conversation_id"] = state.ConversationId.ToString("D"),
        ["read_seq"] = state.ReadSeq,
        ["unread_count"] = state.UnreadCount,
        ["mention_count"] = state.MentionCount,
    };

    // A change to my own keys (KEYS_CHANGED), as listen prints it.
    public static JsonObject OwnKeysJson(OwnKeysChanged change) => new()
    {
        ["type"] = "keys_changed",
        ["change"] = KeyChangeName(change.Change),
        ["device_id"] = change.DeviceId?.ToString("D"),
    };

    public static string OwnKeysHuman(OwnKeysChanged change) => change.Change switch
    {
        KeyChange.DeviceRegistered => $"A device of yours ({change.DeviceId:D}) is waiting for approval: if it is yours, run chatwire devices approve CODE with the code it shows.",
        KeyChange.DeviceList => "Your device list changed (a device was approved or removed).",
        KeyChange.LinkPayload => $"Keys were left for your device {change.DeviceId:D} (after its approval, or a new history key).",
        KeyChange.HistoryKey => "Your devices have a new history key.",
        KeyChange.AccountKey => "Your account key was set or reset.",
        KeyChange.DeviceRevoked => $"Your device {change.DeviceId:D} was signed out; its keys no longer count.",
        _ => $"Your keys changed (change {(int)change.Change}).",
    };

    private static string KeyChangeName(KeyChange change) => change switch
    {
        KeyChange.DeviceRegistered => "device_registered",
        KeyChange.DeviceList => "device_list",
        KeyChange.LinkPayload => "link_payload",
        KeyChange.HistoryKey => "history_key",
        KeyChange.AccountKey => "account_key",
        KeyChange.DeviceRevoked => "device_revoked",
        _ => ((int)change).ToString(CultureInfo.InvariantCulture),
    };

    public static JsonObject ConversationLeftJson(ConversationLeft left) => new()
    {
        ["type"] = "conversation_left",
        ["conversation_id"] = left.ConversationId.ToString("D"),
    };

    public static string ReadStateHuman(ReadStateChanged state, string conversation) =>
        $"{conversation} read up to #{state.ReadSeq.ToString(CultureInfo.InvariantCulture)}: {Counts(state.UnreadCount, state.MentionCount)}";

    public static string Counts(int unread, int mentions) =>
        $"{Count(unread, "unread", "unread")}, {Count(mentions, "mention", "mentions")}";

    private static string Count(int n, string one, string many) =>
        (n >= 1000 ? "1000+" : n.ToString(CultureInfo.InvariantCulture)) + " " + (n == 1 ? one : many);

    private static void AddContent(JsonObject json, ConversationEvent e)
    {
        var text = TextOf(e);
        json["text"] = text;
        json["content_type"] = e.ContentType;
        if (text is null)
        {
            json["content_base64"] = Convert.ToBase64String(e.Content.Span);
        }
    }

    // What a message carries besides its content, each key only when it holds something.
    private static void AddMessageState(JsonObject json, ConversationEvent e)
    {
        if (e.ThreadRootId != Guid.Empty)
        {
            json["thread_root_id"] = e.ThreadRootId.ToString("D");
        }

        if (e.Mentions.Count > 0)
        {
            json["mentions"] = new JsonArray([.. e.Mentions.Select(id => (JsonNode?)id.ToString("D"))]);
        }

        if (e.GroupMentions != GroupMentions.None)
        {
            json["group_mentions"] = new JsonArray([.. new[] { (GroupMentions.Channel, "channel"), (GroupMentions.Here, "here") }
                .Where(g => e.GroupMentions.HasFlag(g.Item1)).Select(g => (JsonNode?)g.Item2)]);
        }

        if (e.EditedAtUnixMs != 0)
        {
            json["edited_at"] = Time(e.EditedAtUnixMs);
        }

        if (e.DeletedAtUnixMs != 0)
        {
            json["deleted_at"] = Time(e.DeletedAtUnixMs);
        }

        if (e.ReplyCount > 0)
        {
            json["reply_count"] = e.ReplyCount;
            json["last_reply_at"] = Time(e.LastReplyUnixMs);
        }

        if (e.Reactions.Count > 0)
        {
            json["reactions"] = new JsonArray([.. e.Reactions.Select(r => (JsonNode?)new JsonObject { ["emoji"] = r.Emoji, ["count"] = r.Count, ["mine"] = r.Mine })]);
        }
    }

    private static string ContentText(ConversationEvent e) => TextOf(e) ?? $"[{e.ContentType}, {e.Content.Length} bytes]";

    // Continuation lines of a multi-line message, indented under the line's start.
    private static string Indent(string text) => text.Replace("\n", "\n    ", StringComparison.Ordinal);

    private static string TypeName(EventKind kind) => kind switch
    {
        EventKind.Message => "message",
        EventKind.MemberJoined => "member_joined",
        EventKind.MemberLeft => "member_left",
        EventKind.MessageEdited => "edit",
        EventKind.MessageDeleted => "delete",
        EventKind.ReactionAdded or EventKind.ReactionRemoved => "reaction",
        EventKind.ChannelUpdated => "channel_updated",
        _ => "event",
    };

    // The settings a channel_updated event may name, in the order they are listed, with their JSON names.
    private static readonly (ChannelChanges Flag, string Name)[] ChannelFields =
        [(ChannelChanges.Name, "name"), (ChannelChanges.Topic, "topic"), (ChannelChanges.SlowMode, "slow_mode_seconds"), (ChannelChanges.Archived, "archived")];

    // " changed the channel: renamed it #design; topic: Q3 launch; slow mode 30 s; archived it", each part only when
    // it was set; a restatement (nothing named: the settings after changes made at the same moment, each announced on
    // its own) lists them all.
    private static string ChannelChangeText(ChannelUpdate update)
    {
        var parts = ChannelFields.Where(f => update.Changed.HasFlag(f.Flag)).Select(f => f.Flag switch
        {
            ChannelChanges.Name => $"renamed it #{update.Name}",
            ChannelChanges.Topic => update.Topic.Length == 0 ? "cleared the topic" : $"topic: {update.Topic}",
            ChannelChanges.SlowMode => SlowModeText(update.SlowModeSeconds),
            _ => update.ArchivedAtUnixMs != 0 ? "archived it" : "unarchived it",
        }).ToList();
        return parts.Count == 0
            ? $" restated the channel's settings: #{update.Name}, {(update.Topic.Length == 0 ? "no topic" : "topic: " + update.Topic)}, "
                + SlowModeText(update.SlowModeSeconds) + (update.ArchivedAtUnixMs != 0 ? ", archived" : string.Empty)
            : " changed the channel: " + string.Join("; ", parts);
    }

    private static string SlowModeText(uint seconds) => seconds == 0 ? "slow mode off" : $"slow mode {seconds.ToString(CultureInfo.InvariantCulture)} s";

    // The content as text when its type is text/plain (any parameters), else null.
    public static string? TextOf(ConversationEvent message)
    {
        var mediaType = message.ContentType.Split(';', 2)[0].Trim();
        return mediaType.Equals(ContentTypes.PlainText, StringComparison.OrdinalIgnoreCase) ? Encoding.UTF8.GetString(message.Content.Span) : null;
    }

    public async Task WriteAsync(JsonObject json, string human)
    {
        await stdout.WriteLineAsync(Json ? JsonLine(json) : human).ConfigureAwait(false);
        await stdout.FlushAsync().ConfigureAwait(false);
    }

    public async Task WriteErrorAsync(int code, string name, string message, JsonObject? extra = null)
    {
        if (Json)
        {
            var error = new JsonObject
            {
                ["code"] = code,
                ["name"] = name,
                ["message"] = message,
            };
            if (extra is not null)
            {
                foreach (var (key, value) in extra.ToList())
                {
                    extra.Remove(key);
                    error[key] = value;
                }
            }

            await stdout.WriteLineAsync(JsonLine(new JsonObject { ["error"] = error })).ConfigureAwait(false);
            await stdout.FlushAsync().ConfigureAwait(false);
            return;
        }

        var suffix = code == 0 ? name : $"{name} {code.ToString(CultureInfo.InvariantCulture)}";
        await Stderr.WriteLineAsync($"chatwire: {message} ({suffix})").ConfigureAwait(false);
        await Stderr.FlushAsync().ConfigureAwait(false);
    }
}
