namespace ChatWire.Client;

/// <summary>A device's push registration (<c>/v1/push/registration</c>).</summary>
/// <param name="DeviceId">The device (this session's).</param>
/// <param name="Provider"><c>apns</c>, <c>fcm</c> or <c>webhook</c>.</param>
/// <param name="Token">The APNs device token (hex), the FCM registration token, or the webhook URL.</param>
/// <param name="RegisteredAt">When it was registered.</param>
/// <param name="WebhookSecret">For a webhook, the key its receiver checks the <c>ChatWire-Signature</c> header with; null otherwise.</param>
public sealed record PushRegistration(Guid DeviceId, string Provider, string Token, DateTimeOffset RegisteredAt, byte[]? WebhookSecret);

/// <summary>My level in one conversation, replacing my own level there.</summary>
/// <param name="ConversationId">The conversation.</param>
/// <param name="Level"><c>all</c>, <c>mentions</c> or <c>none</c>.</param>
public sealed record ConversationPushLevel(Guid ConversationId, string Level);

/// <summary>My notification settings (<c>/v1/push/preferences</c>).</summary>
/// <param name="Level"><c>all</c>, <c>mentions</c> (DMs, mentions and thread replies; the default) or <c>none</c>.</param>
/// <param name="DoNotDisturbUntil">Nothing is pushed before this; null for none.</param>
/// <param name="Conversations">Levels for single conversations.</param>
public sealed record PushPreferences(string Level, DateTimeOffset? DoNotDisturbUntil, IReadOnlyList<ConversationPushLevel> Conversations);

internal sealed record RegisterPushBody(string Provider, string Token);

internal sealed record PushPreferencesBody(string Level, string? DoNotDisturbUntil);

internal sealed record ConversationPushBody(string? Level);
