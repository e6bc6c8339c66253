using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatWire.Storage.Push;

namespace ChatWire.Gateway.Push;

/// <summary>
/// Firebase Cloud Messaging HTTP v1 (firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send):
/// POST /v1/projects/{project_id}/messages:send with an OAuth 2.0 access token, which the service account
/// gets by the JWT bearer grant (RFC 7523; Google's "Using OAuth 2.0 for server to server applications"):
/// an RS256 assertion (iss = client_email, scope firebase.messaging, aud = the token URL, iat, exp an hour
/// on) posted to the token URL. The token is kept until five minutes before it expires, or a 401.
/// A data-only message: the app's code shows the notification after fetching and decrypting the message,
/// so Google never sees content.
/// </summary>
internal sealed class FcmSender : IPushSender, IDisposable
{
    public const string Scope = "https://www.googleapis.com/auth/firebase.messaging";

    private readonly FcmPushOptions _options;
    private readonly ServiceAccount? _account;
    private readonly RSA? _key;
    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _tokenLock = new(1, 1);
    private (string AccessToken, DateTimeOffset RenewAt)? _token;

    public FcmSender(PushOptions options, TimeProvider time)
    {
        _options = options.Fcm;
        _time = time;
        if (!string.IsNullOrEmpty(_options.ServiceAccountPath))
        {
            _account = JsonSerializer.Deserialize<ServiceAccount>(File.ReadAllText(_options.ServiceAccountPath))
                ?? throw new InvalidOperationException("The FCM service account file is empty.");
            _key = RSA.Create();
            _key.ImportFromPem(_account.PrivateKey);
        }

        _http = PushHttp.Create(options, HttpVersion.Version11);
    }

    public PushProvider Provider => PushProvider.Fcm;

    public bool IsConfigured => _account is not null;

    public int MaxConcurrency => _options.MaxConcurrency;

    private string TokenUrl => string.IsNullOrEmpty(_options.TokenUrl) ? _account!.TokenUri : _options.TokenUrl;

    /// <summary>The request body: the registration token, the fields as strings, high priority and the conversation as collapse key.</summary>
    public static JsonObject Body(string registrationToken, PushNotification notification)
    {
        var data = new JsonObject();
        foreach (var (name, value) in notification.ToStrings())
        {
            data[name] = value;
        }

        return new JsonObject
        {
            ["message"] = new JsonObject
            {
                ["token"] = registrationToken,
                ["data"] = data,
                ["android"] = new JsonObject { ["priority"] = "HIGH", ["collapse_key"] = notification.ConversationId.ToString("N") },
            },
        };
    }

    public async Task<ProviderAnswer> SendAsync(PushTokenRecord device, PushNotification notification, CancellationToken cancellationToken)
    {
        try
        {
            var token = await AccessTokenAsync(null, cancellationToken);
            var answer = await PostAsync(device, notification, token, cancellationToken);
            if (answer.Detail == "401")
            {
                answer = await PostAsync(device, notification, await AccessTokenAsync(token, cancellationToken), cancellationToken);
            }

            return answer;
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

    private async Task<ProviderAnswer> PostAsync(PushTokenRecord device, PushNotification notification, string accessToken, CancellationToken cancellationToken)
    {
        var url = new Uri(new Uri(_options.Endpoint), $"/v1/projects/{Uri.EscapeDataString(_account!.ProjectId)}/messages:send");
        using var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new StringContent(Body(device.Token, notification).ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", accessToken);
        using var response = await _http.SendAsync(request, cancellationToken);
        var status = (int)response.StatusCode;
        if (status == 200)
        {
            return new ProviderAnswer(ProviderOutcome.Delivered, "200");
        }

        if (status == 401)
        {
            return new ProviderAnswer(ProviderOutcome.Retry, "401");
        }

        // { "error": { "code", "message", "status", "details": [ { "@type": "…FcmError", "errorCode": "UNREGISTERED" } ] } }
        var errorCode = string.Empty;
        try
        {
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            if (body.RootElement.TryGetProperty("error", out var error) && error.TryGetProperty("details", out var details) && details.ValueKind == JsonValueKind.Array)
            {
                errorCode = details.EnumerateArray().Select(d => d.TryGetProperty("errorCode", out var c) ? c.GetString() : null).FirstOrDefault(c => c is not null) ?? string.Empty;
            }
        }
        catch (JsonException)
        {
        }

        return (status, errorCode) switch
        {
            (_, "UNREGISTERED") => new ProviderAnswer(ProviderOutcome.DeadToken, "UNREGISTERED"),
            (429 or >= 500, _) => new ProviderAnswer(ProviderOutcome.Retry, $"{status} {errorCode}", WebhookSender.RetryAfter(response)),
            _ => new ProviderAnswer(ProviderOutcome.Rejected, $"{status} {errorCode}"),
        };
    }

    // One exchange at a time; a token refused (401) is replaced once, whoever saw the refusal first.
    private async Task<string> AccessTokenAsync(string? refused, CancellationToken cancellationToken)
    {
        await _tokenLock.WaitAsync(cancellationToken);
        try
        {
            var now = _time.GetUtcNow();
            if (_token is { } current && now < current.RenewAt && current.AccessToken != refused)
            {
                return current.AccessToken;
            }

            var assertion = ProviderJwt.Rs256(
                _key!,
                new JsonObject { ["kid"] = _account!.PrivateKeyId },
                new JsonObject
                {
                    ["iss"] = _account.ClientEmail,
                    ["scope"] = Scope,
                    ["aud"] = TokenUrl,
                    ["iat"] = now.ToUnixTimeSeconds(),
                    ["exp"] = now.AddHours(1).ToUnixTimeSeconds(),
                });
            using var form = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "urn:ietf:params:oauth:grant-type:jwt-bearer",
                ["assertion"] = assertion,
            });
            using var response = await _http.PostAsync(TokenUrl, form, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new HttpRequestException($"The OAuth token request was refused: {(int)response.StatusCode}.");
            }

            var granted = await response.Content.ReadFromJsonAsync<TokenResponse>(cancellationToken)
                ?? throw new HttpRequestException("The OAuth token answer was empty.");
            _token = (granted.AccessToken, now.AddSeconds(Math.Max(60, granted.ExpiresIn - 300)));
            return granted.AccessToken;
        }
        finally
        {
            _tokenLock.Release();
        }
    }

    public void Dispose()
    {
        _http.Dispose();
        _key?.Dispose();
        _tokenLock.Dispose();
    }

    private sealed record ServiceAccount(
        [property: System.Text.Json.Serialization.JsonPropertyName("project_id")] string ProjectId,
        [property: System.Text.Json.Serialization.JsonPropertyName("private_key_id")] string? PrivateKeyId,
        [property: System.Text.Json.Serialization.JsonPropertyName("private_key")] string PrivateKey,
        [property: System.Text.Json.Serialization.JsonPropertyName("client_email")] string ClientEmail,
        [property: System.Text.Json.Serialization.JsonPropertyName("token_uri")] string TokenUri);

    private sealed record TokenResponse(
        [property: System.Text.Json.Serialization.JsonPropertyName("access_token")] string AccessToken,
        [property: System.Text.Json.Serialization.JsonPropertyName("expires_in")] int ExpiresIn);
}
