using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatWire.Protocol.Frames;

namespace ChatWire.Cli;

// Results go to stdout: one JSON object per line with --json (stable snake_case keys, DESIGN §11),
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

    // A message as listen and history print it.
    public static JsonObject MessageJson(ChatMessage message)
    {
        var text = TextOf(message);
        var json = new JsonObject
        {
            ["type"] = "message",
            ["conversation_id"] = message.ConversationId.ToString("D"),
            ["message_id"] = message.MessageId.ToString("D"),
            ["seq"] = message.Seq,
            ["sender"] = message.SenderUserId.ToString("D"),
            ["sender_device"] = message.SenderDeviceId.ToString("D"),
            ["text"] = text,
            ["content_type"] = message.ContentType,
            ["sent_at"] = Time(message.ServerTimeUnixMs),
        };
        if (text is null)
        {
            json["content_base64"] = Convert.ToBase64String(message.Content.Span);
        }

        return json;
    }

    public static string MessageHuman(ChatMessage message, bool withConversation)
    {
        var body = TextOf(message) ?? $"[{message.ContentType}, {message.Content.Length} bytes]";
        var where = withConversation ? message.ConversationId.ToString("D") + " " : string.Empty;
        return $"{Time(message.ServerTimeUnixMs)} {where}#{message.Seq.ToString(CultureInfo.InvariantCulture)} {message.SenderUserId:D}: {body}";
    }

    // The content as text when its type is text/plain (any parameters), else null.
    public static string? TextOf(ChatMessage message)
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
