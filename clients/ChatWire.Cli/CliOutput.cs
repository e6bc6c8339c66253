using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
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

    // An event as listen and history print it: a message, or a membership change ("member_joined" /
    // "member_left", with user_id the member and sender who made the change). Kinds this version does not
    // know print as "event" with their number, so a script sees every seq.
    public static JsonObject EventJson(ConversationEvent e)
    {
        var json = new JsonObject
        {
            ["type"] = TypeName(e.Kind),
            ["conversation_id"] = e.ConversationId.ToString("D"),
            ["message_id"] = e.EventId.ToString("D"),
            ["seq"] = e.Seq,
            ["sender"] = e.SenderUserId.ToString("D"),
            ["sender_device"] = e.SenderDeviceId.ToString("D"),
        };
        if (e.Kind == EventKind.Message)
        {
            var text = TextOf(e);
            json["text"] = text;
            json["content_type"] = e.ContentType;
            if (text is null)
            {
                json["content_base64"] = Convert.ToBase64String(e.Content.Span);
            }
        }
        else if (e.Kind is EventKind.MemberJoined or EventKind.MemberLeft)
        {
            json["user_id"] = e.SubjectId.ToString("D");
        }
        else
        {
            json["kind"] = (int)e.Kind;
        }

        json["sent_at"] = Time(e.ServerTimeUnixMs);
        return json;
    }

    public static string EventHuman(ConversationEvent e, bool withConversation)
    {
        var body = e.Kind switch
        {
            EventKind.Message => ": " + (TextOf(e) ?? $"[{e.ContentType}, {e.Content.Length} bytes]"),
            EventKind.MemberJoined => e.SubjectId == e.SenderUserId ? $" joined" : $" added {e.SubjectId:D}",
            EventKind.MemberLeft => e.SubjectId == e.SenderUserId ? $" left" : $" removed {e.SubjectId:D}",
            _ => $" [event kind {(int)e.Kind}]",
        };
        var where = withConversation ? e.ConversationId.ToString("D") + " " : string.Empty;
        return $"{Time(e.ServerTimeUnixMs)} {where}#{e.Seq.ToString(CultureInfo.InvariantCulture)} {e.SenderUserId:D}{body}";
    }

    private static string TypeName(EventKind kind) => kind switch
    {
        EventKind.Message => "message",
        EventKind.MemberJoined => "member_joined",
        EventKind.MemberLeft => "member_left",
        _ => "event",
    };

    // The content as text when its type is text/plain (any parameters), else null.
    public static string? TextOf(ConversationEvent message)
    {
        var mediaType = message.ContentType.Split(';', 2)[0].Trim();
        return mediaType.Equals("text/plain", StringComparison.OrdinalIgnoreCase) ? Encoding.UTF8.GetString(message.Content.Span) : null;
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
