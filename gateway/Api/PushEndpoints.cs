using System.Globalization;
using ChatWire.Gateway.Push;
using ChatWire.Storage.Directory;
using ChatWire.Storage.Push;

namespace ChatWire.Gateway.Api;

// Push registration (one per device, replaced by a new one, gone with the session) and notification settings.
internal static class PushEndpoints
{
    private const string Tag = "Push";

    // APNs device tokens are 32 bytes today (64 hex digits); Apple says they may grow, so up to 100 bytes.
    public const int MinApnsTokenLength = 64;

    public const int MaxApnsTokenLength = 200;

    public const int MaxFcmTokenLength = 4096;

    public static void Map(RouteGroupBuilder authenticated)
    {
        authenticated.MapPut("/push/registration", RegisterAsync)
            .Describe("registerPush", "Register this device's push token (apns, fcm, or an https webhook URL), replacing its earlier one", Tag,
                "apns takes the device token in hex (64 to 200 hex digits), fcm the registration token (at most 4096 letters, digits and _-:.), "
                + "webhook an https URL of at most 2048 characters whose host, by default, must not resolve to a loopback, private or otherwise "
                + "special address. A malformed token is 400 VALIDATION_FAILED on token, a provider this server does not send to on provider. "
                + "webhook_secret (webhook only, else null) is the key the receiver checks the ChatWire-Signature HMAC-SHA256 with.")
            .Returns<PushRegistrationResponse>().Refuses(400, 415);
        authenticated.MapGet("/push/registration", GetRegistrationAsync)
            .Describe("getPushRegistration", "This device's push registration", Tag,
                "The same body registerPush answered, webhook_secret included; 404 NOT_FOUND when this device has none. A registration the provider "
                + "reported dead is deleted by the server: register again.")
            .Returns<PushRegistrationResponse>().Refuses(404);
        authenticated.MapDelete("/push/registration", UnregisterAsync)
            .Describe("unregisterPush", "Remove this device's push registration", Tag,
                "404 NOT_FOUND when this device had none. Logging out, or revoking the session (a password change included), deletes the "
                + "registration too.")
            .ReturnsNoContent().Refuses(404);
        authenticated.MapGet("/push/preferences", GetPreferencesAsync)
            .Describe("getPushPreferences", "My notification level, do-not-disturb end and per-conversation levels", Tag,
                "level is mentions (the default: DMs and group DMs, mentions of the user, @channel, @here while online, replies in threads the user "
                + "started or replied in), all or none; conversations lists the conversations where the user set a level of their own. Nothing is "
                + "pushed while do_not_disturb_until is in the future, while the user's status is do-not-disturb, or for a muted team.")
            .Returns<PushPreferencesResponse>();
        authenticated.MapPut("/push/preferences", SetPreferencesAsync)
            .Describe("setPushPreferences", "Set my notification level and do-not-disturb end", Tag,
                "Replaces both: level (mentions, all or none) is required, and a body without do_not_disturb_until, or with null, ends "
                + "do-not-disturb. do_not_disturb_until is an ISO 8601 time, read as UTC without an offset; a bad level or time is "
                + "400 VALIDATION_FAILED. Per-conversation levels are kept.")
            .Returns<PushPreferencesResponse>().Refuses(400, 415);
        authenticated.MapPut("/conversations/{conversationId}/push", SetConversationLevelAsync)
            .Describe("setConversationPushLevel", "Set or clear my notification level in one conversation", Tag,
                "level is mentions, all or none; null, or no level at all, removes it, so the user's overall level applies there again. A "
                + "conversation the caller is not in, or none such, is 403 NOT_A_MEMBER, the same answer either way; a bad level is "
                + "400 VALIDATION_FAILED. Answers all the user's preferences after the change.")
            .Returns<PushPreferencesResponse>().Refuses(400, 403, 415);
    }

    private static async Task<PushRegistrationResponse> RegisterAsync(
        RegisterPushRequest body, HttpContext http, IPushStore store, PushDelivery delivery, WebhookAddressPolicy policy, TimeProvider time, CancellationToken ct)
    {
        var me = http.Identity();
        var provider = ParseProvider(Validation.Required("provider", body.Provider));
        var token = Validation.Required("token", body.Token);
        var sender = delivery.SenderFor(provider);
        var problem = provider switch
        {
            PushProvider.Apns => token.Length is >= MinApnsTokenLength and <= MaxApnsTokenLength && token.Length % 2 == 0 && token.All(char.IsAsciiHexDigit)
                ? null : $"An APNs token is the device token in hex: {MinApnsTokenLength} to {MaxApnsTokenLength} hex digits.",
            PushProvider.Fcm => token.Length <= MaxFcmTokenLength && token.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or ':' or '.')
                ? null : $"An FCM token is the registration token: at most {MaxFcmTokenLength} letters, digits and _-:.",
            // A webhook URL's name is looked up only on a server that sends webhooks: one that does not must not
            // resolve names for its users (the provider is refused below).
            _ => sender is { IsConfigured: true } ? await policy.CheckUrlAsync(token, ct) : null,
        };
        if (problem is not null)
        {
            throw RequestRefusedException.Validation("token", problem);
        }

        if (sender is not { IsConfigured: true })
        {
            throw RequestRefusedException.Validation("provider", $"This server does not send {body.Provider} notifications.");
        }

        if (provider == PushProvider.Apns)
        {
            token = token.ToLowerInvariant();
        }

        var registration = new PushTokenRecord(me.DeviceId, me.UserId, provider, token, time.GetUtcNow());
        await store.SetPushTokenAsync(registration, ct);
        delivery.Registered(me.DeviceId);
        return Describe(registration, sender);
    }

    private static async Task<PushRegistrationResponse> GetRegistrationAsync(HttpContext http, IPushStore store, PushDelivery delivery, CancellationToken ct)
    {
        var registration = await store.GetPushTokenAsync(http.Identity().DeviceId, ct) ?? throw Validation.NotFound("push registration for this device");
        return Describe(registration, delivery.SenderFor(registration.Provider));
    }

    private static async Task<IResult> UnregisterAsync(HttpContext http, IPushStore store, CancellationToken ct)
    {
        if (!await store.DeletePushTokenAsync(http.Identity().DeviceId, ct))
        {
            throw Validation.NotFound("push registration for this device");
        }

        return Results.NoContent();
    }

    private static async Task<PushPreferencesResponse> GetPreferencesAsync(HttpContext http, IPushStore store, CancellationToken ct) =>
        Describe(await store.GetPushPreferencesAsync(http.Identity().UserId, ct));

    private static async Task<PushPreferencesResponse> SetPreferencesAsync(PushPreferencesRequest body, HttpContext http, IPushStore store, CancellationToken ct)
    {
        var me = http.Identity();
        var level = ParseLevel("level", Validation.Required("level", body.Level));
        DateTimeOffset? until = null;
        if (body.DoNotDisturbUntil is { } text)
        {
            if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
            {
                throw RequestRefusedException.Validation("do_not_disturb_until", "do_not_disturb_until must be an ISO 8601 time, e.g. 2026-12-03T07:00:00.000Z, or null.");
            }

            until = DateTimeOffset.FromUnixTimeMilliseconds(parsed.ToUnixTimeMilliseconds());
        }

        await store.SetPushPreferencesAsync(me.UserId, level, until, ct);
        return Describe(await store.GetPushPreferencesAsync(me.UserId, ct));
    }

    private static async Task<PushPreferencesResponse> SetConversationLevelAsync(
        string conversationId, ConversationPushRequest body, HttpContext http, IDirectoryStore directory, IPushStore store, CancellationToken ct)
    {
        var me = http.Identity();
        var conversation = Ids.Parse("conversation_id", conversationId);
        var level = body.Level is null ? (PushLevel?)null : ParseLevel("level", body.Level);
        // No such conversation gets the same answer as someone else's: it tells nothing of what exists.
        if (!await directory.IsConversationMemberAsync(conversation, me.UserId, ct))
        {
            throw Validation.NotAMember("conversation");
        }

        await store.SetConversationPushLevelAsync(me.UserId, conversation, level, ct);
        return Describe(await store.GetPushPreferencesAsync(me.UserId, ct));
    }

    private static PushProvider ParseProvider(string value) => value switch
    {
        "apns" => PushProvider.Apns,
        "fcm" => PushProvider.Fcm,
        "webhook" => PushProvider.Webhook,
        _ => throw RequestRefusedException.Validation("provider", "provider must be apns, fcm or webhook."),
    };

    public static string LevelName(PushLevel level) => level switch
    {
        PushLevel.All => "all",
        PushLevel.None => "none",
        _ => "mentions",
    };

    private static PushLevel ParseLevel(string field, string value) => value switch
    {
        "all" => PushLevel.All,
        "mentions" => PushLevel.MentionsAndDirect,
        "none" => PushLevel.None,
        _ => throw RequestRefusedException.Validation(field, $"{field} must be all, mentions (mentions, DMs and thread replies) or none."),
    };

    private static PushRegistrationResponse Describe(PushTokenRecord registration, IPushSender? sender) => new(
        registration.DeviceId,
        PushMetrics.Name(registration.Provider),
        registration.Token,
        registration.RegisteredAt.UtcDateTime,
        sender is WebhookSender { IsConfigured: true } webhook ? Convert.ToBase64String(webhook.SecretFor(registration.DeviceId, registration.Token)) : null);

    private static PushPreferencesResponse Describe(PushPreferences preferences) => new(
        LevelName(preferences.Level),
        preferences.DoNotDisturbUntil?.UtcDateTime,
        preferences.Conversations.OrderBy(c => c.Key).Select(c => new ConversationPushLevel(c.Key, LevelName(c.Value))).ToList());
}
