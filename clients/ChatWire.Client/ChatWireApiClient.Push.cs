using System.Globalization;

namespace ChatWire.Client;

// Push notifications (docs/http-api.md, "Push notifications"): this device's registration and my settings.
public sealed partial class ChatWireApiClient
{
    /// <summary><c>PUT /v1/push/registration</c>: registers where this device's notifications go, replacing its earlier registration.</summary>
    /// <param name="provider"><c>apns</c>, <c>fcm</c> or <c>webhook</c>.</param>
    /// <param name="token">The APNs device token in hex, the FCM registration token, or an https webhook URL.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<PushRegistration> RegisterPushAsync(string provider, string token, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(token);
        return SendAsync<PushRegistration>(HttpMethod.Put, "v1/push/registration", new RegisterPushBody(provider, token), authenticated: true, cancellationToken);
    }

    /// <summary><c>GET /v1/push/registration</c>: where this device's notifications go (<c>NOT_FOUND</c> when it has no registration).</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<PushRegistration> GetPushRegistrationAsync(CancellationToken cancellationToken = default) =>
        SendAsync<PushRegistration>(HttpMethod.Get, "v1/push/registration", body: null, authenticated: true, cancellationToken);

    /// <summary><c>DELETE /v1/push/registration</c>: stops notifications to this device (<c>NOT_FOUND</c> when it had no registration).</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task UnregisterPushAsync(CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, "v1/push/registration", body: null, cancellationToken);

    /// <summary><c>GET /v1/push/preferences</c>: my level, do-not-disturb end and per-conversation levels.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<PushPreferences> GetPushPreferencesAsync(CancellationToken cancellationToken = default) =>
        SendAsync<PushPreferences>(HttpMethod.Get, "v1/push/preferences", body: null, authenticated: true, cancellationToken);

    /// <summary><c>PUT /v1/push/preferences</c>: sets my level and do-not-disturb end.</summary>
    /// <param name="level"><c>all</c>, <c>mentions</c> or <c>none</c>.</param>
    /// <param name="doNotDisturbUntil">Nothing is pushed before this; null for none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<PushPreferences> SetPushPreferencesAsync(string level, DateTimeOffset? doNotDisturbUntil = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(level);
        var until = doNotDisturbUntil?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        return SendAsync<PushPreferences>(HttpMethod.Put, "v1/push/preferences", new PushPreferencesBody(level, until), authenticated: true, cancellationToken);
    }

    /// <summary><c>PUT /v1/conversations/{id}/push</c>: sets my level in one conversation; null clears it (my own level applies there again).</summary>
    /// <param name="conversationId">A conversation I am in.</param>
    /// <param name="level"><c>all</c>, <c>mentions</c>, <c>none</c>, or null.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<PushPreferences> SetConversationPushLevelAsync(Guid conversationId, string? level, CancellationToken cancellationToken = default) =>
        SendAsync<PushPreferences>(HttpMethod.Put, $"v1/conversations/{conversationId:D}/push", new ConversationPushBody(level), authenticated: true, cancellationToken);
}
