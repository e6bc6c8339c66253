using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatWire.Storage.Push;

namespace ChatWire.Gateway.Push;

/// <summary>
/// Apple Push Notification service over HTTP/2 with token authentication (Apple, "Sending notification
/// requests to APNs" and "Establishing a token-based connection to APNs"): POST /3/device/{token} with a
/// bearer provider token (an ES256 JWT, header alg and kid, claims iss = team id and iat), renewed every 40
/// minutes (APNs refuses one older than an hour, and one renewed more often than every 20 minutes).
/// The alert is a localization key the app defines, with mutable-content so the app's notification
/// service extension fetches and decrypts the message and shows it: Apple never sees content.
/// </summary>
internal sealed class ApnsSender : IPushSender, IDisposable
{
    /// <summary>The alert's localization key (the app's Localizable.strings holds the fallback text).</summary>
    public const string AlertLocKey = "CHATWIRE_NEW_MESSAGE";

    private static readonly TimeSpan TokenLifetime = TimeSpan.FromMinutes(40);

    private readonly ApnsPushOptions _options;
    private readonly ECDsa? _key;
    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private (string Jwt, DateTimeOffset IssuedAt)? _token;

    public ApnsSender(PushOptions options, TimeProvider time)
    {
        _options = options.Apns;
        _time = time;
        if (!string.IsNullOrEmpty(_options.PrivateKeyPath))
        {
            _key = ECDsa.Create();
            _key.ImportFromPem(File.ReadAllText(_options.PrivateKeyPath));
        }

        _http = PushHttp.Create(options, HttpVersion.Version20);
    }

    public PushProvider Provider => PushProvider.Apns;

    public bool IsConfigured => _key is not null && _options.KeyId.Length > 0 && _options.TeamId.Length > 0 && _options.Topic.Length > 0;

    public int MaxConcurrency => _options.MaxConcurrency;

    public async Task<ProviderAnswer> SendAsync(PushTokenRecord device, PushNotification notification, CancellationToken cancellationToken)
    {
        var jwt = ProviderToken(renew: false);
        var answer = await PostAsync(device, notification, jwt, cancellationToken);

        // A provider token APNs calls expired or invalid is made again at once (not counted as an attempt).
        if (answer.Outcome == ProviderOutcome.Retry && answer.Detail is "ExpiredProviderToken" or "InvalidProviderToken")
        {
            answer = await PostAsync(device, notification, ProviderToken(renew: true, unless: jwt), cancellationToken);
        }

        return answer;
    }

    /// <summary>The request body: the aps dictionary (no text) and the ChatWire fields.</summary>
    public static JsonObject Body(PushNotification notification) => new()
    {
        ["aps"] = new JsonObject
        {
            ["alert"] = new JsonObject { ["loc-key"] = AlertLocKey },
            ["badge"] = notification.Badge,
            ["sound"] = "default",
            ["mutable-content"] = 1,
            ["thread-id"] = notification.ConversationId.ToString(),
        },
        ["chatwire"] = notification.ToJson(),
    };

    private async Task<ProviderAnswer> PostAsync(PushTokenRecord device, PushNotification notification, string jwt, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(_options.Endpoint), "/3/device/" + device.Token))
        {
            Content = new StringContent(Body(notification).ToJsonString(), Encoding.UTF8, "application/json"),

            // APNs speaks HTTP/2 only; a request's own version wins over the client's default.
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.TryAddWithoutValidation("authorization", "bearer " + jwt);
        request.Headers.TryAddWithoutValidation("apns-topic", _options.Topic);
        request.Headers.TryAddWithoutValidation("apns-push-type", "alert");
        request.Headers.TryAddWithoutValidation("apns-priority", "10");
        request.Headers.TryAddWithoutValidation("apns-expiration", _time.GetUtcNow().AddDays(1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));

        // A newer notification of the conversation replaces the one still shown (at most 64 bytes: 32 hex digits).
        request.Headers.TryAddWithoutValidation("apns-collapse-id", notification.ConversationId.ToString("N"));
        try
        {
            using var response = await _http.SendAsync(request, cancellationToken);
            var status = (int)response.StatusCode;
            if (status == 200)
            {
                return new ProviderAnswer(ProviderOutcome.Delivered, "200");
            }

            var reason = await ReasonAsync(response, cancellationToken);
            return status switch
            {
                410 => new ProviderAnswer(ProviderOutcome.DeadToken, reason),
                400 when reason is "BadDeviceToken" or "DeviceTokenNotForTopic" => new ProviderAnswer(ProviderOutcome.DeadToken, reason),
                403 when reason is "ExpiredProviderToken" or "InvalidProviderToken" => new ProviderAnswer(ProviderOutcome.Retry, reason),
                429 or >= 500 => new ProviderAnswer(ProviderOutcome.Retry, $"{status} {reason}", WebhookSender.RetryAfter(response)),
                _ => new ProviderAnswer(ProviderOutcome.Rejected, $"{status} {reason}"),
            };
        }
        catch (HttpRequestException ex)
        {
            return new ProviderAnswer(ProviderOutcome.Retry, ex.Message);
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ProviderAnswer(ProviderOutcome.Retry, "timeout");
        }
    }

    // APNs answers errors as { "reason": "...", "timestamp": ms } (timestamp with 410 only).
    private static async Task<string> ReasonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            return body.RootElement.TryGetProperty("reason", out var reason) ? reason.GetString() ?? string.Empty : string.Empty;
        }
        catch (JsonException)
        {
            return string.Empty;
        }
    }

    private string ProviderToken(bool renew, string? unless = null)
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();

            // Renewed once however many sends saw the old one refused together.
            if (_token is { } current && (renew ? current.Jwt != unless : now - current.IssuedAt < TokenLifetime))
            {
                return current.Jwt;
            }

            var jwt = ProviderJwt.Es256(
                _key ?? throw new InvalidOperationException("Push:Apns is not configured."),
                new JsonObject { ["kid"] = _options.KeyId },
                new JsonObject { ["iss"] = _options.TeamId, ["iat"] = now.ToUnixTimeSeconds() });
            _token = (jwt, now);
            return jwt;
        }
    }

    public void Dispose()
    {
        _http.Dispose();
        _key?.Dispose();
    }
}
