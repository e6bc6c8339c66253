using System.Text.Json.Nodes;
using ChatWire.Storage.Push;

namespace ChatWire.Gateway.Push;

/// <summary>
/// What a notification says, and all it says: ids and counts, never content (the app fetches and decrypts
/// the message itself). The same fields go to every provider (docs/http-api.md, push payload).
/// </summary>
internal sealed record PushNotification(
    Guid ConversationId, Guid MessageId, ulong Seq, PushReason Kind, Guid SenderId, int Count, int Unread, int Badge)
{
    public static string KindName(PushReason kind) => kind switch
    {
        PushReason.Direct => "direct",
        PushReason.Mention => "mention",
        PushReason.GroupMention => "group_mention",
        PushReason.ThreadReply => "thread_reply",
        _ => "message",
    };

    /// <summary>The fields as JSON (numbers as numbers).</summary>
    public JsonObject ToJson() => new()
    {
        ["conversation_id"] = ConversationId.ToString(),
        ["message_id"] = MessageId.ToString(),
        ["seq"] = Seq,
        ["kind"] = KindName(Kind),
        ["sender_id"] = SenderId.ToString(),
        ["count"] = Count,
        ["unread"] = Unread,
        ["badge"] = Badge,
    };

    /// <summary>The fields as strings (FCM data messages carry string values only).</summary>
    public Dictionary<string, string> ToStrings() => ToJson().ToDictionary(
        p => p.Key,
        p => p.Value is JsonValue v && v.TryGetValue<string>(out var s) ? s : p.Value!.ToJsonString());
}

/// <summary>How a provider answered one attempt.</summary>
internal enum ProviderOutcome
{
    /// <summary>Accepted.</summary>
    Delivered = 0,

    /// <summary>A temporary failure (timeout, 429, 5xx): worth another attempt.</summary>
    Retry = 1,

    /// <summary>The token is dead (APNs 410 or BadDeviceToken, FCM UNREGISTERED, webhook 410): remove the registration.</summary>
    DeadToken = 2,

    /// <summary>Refused for good (a malformed request, a refused destination): not retried.</summary>
    Rejected = 3,
}

/// <summary>
/// A provider's answer to one attempt; <see cref="RetryAfter"/> when it said when to come back; <see cref="Silent"/>
/// when there was no answer at all (the request timed out).
/// </summary>
internal readonly record struct ProviderAnswer(ProviderOutcome Outcome, string Detail, TimeSpan? RetryAfter = null, bool Silent = false);

/// <summary>One push provider: sends one notification to one device.</summary>
internal interface IPushSender
{
    PushProvider Provider { get; }

    /// <summary>Whether the operator configured this provider (registrations for it are refused otherwise).</summary>
    bool IsConfigured { get; }

    /// <summary>Requests at once to this provider, per node.</summary>
    int MaxConcurrency { get; }

    /// <summary>One attempt. Network failures and timeouts are answered as <see cref="ProviderOutcome.Retry"/>, never thrown.</summary>
    Task<ProviderAnswer> SendAsync(PushTokenRecord device, PushNotification notification, CancellationToken cancellationToken);
}
