namespace ChatWire.Gateway.Api;

// Push notification bodies (docs/http-api.md, push notifications).
internal sealed record RegisterPushRequest(string? Provider, string? Token);

/// <summary>A device's registration; <c>webhook_secret</c> (base64) only for a webhook: the key its receiver checks signatures with.</summary>
internal sealed record PushRegistrationResponse(Guid DeviceId, string Provider, string Token, DateTime RegisteredAt, string? WebhookSecret);

internal sealed record PushPreferencesRequest(string? Level, string? DoNotDisturbUntil = null);

internal sealed record ConversationPushLevel(Guid ConversationId, string Level);

internal sealed record PushPreferencesResponse(string Level, DateTime? DoNotDisturbUntil, IReadOnlyList<ConversationPushLevel> Conversations);

/// <summary>A level for one conversation; null removes it (the user's level applies there again).</summary>
internal sealed record ConversationPushRequest(string? Level = null);
