using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using ChatWire.Storage.Push;

namespace ChatWire.Gateway.Push;

/// <summary>
/// The generic webhook: a JSON POST to the registered https URL, signed with HMAC-SHA256 under the
/// registration's own secret (docs/http-api.md, webhook signature):
/// <c>ChatWire-Signature: t=UNIX_SECONDS,v1=HEX(HMAC-SHA256(secret, "UNIX_SECONDS." + body))</c>.
/// 2xx is delivered, 410 removes the registration, 408, 429 and 5xx are retried, any other answer is refused.
/// </summary>
internal sealed class WebhookSender : IPushSender, IDisposable
{
    public const string SignatureHeader = "ChatWire-Signature";

    private static readonly byte[] SecretLabel = Encoding.ASCII.GetBytes("chatwire-webhook-secret-v1");

    private readonly byte[]? _signingKey;
    private readonly HttpClient _http;
    private readonly TimeProvider _time;

    public WebhookSender(PushOptions options, WebhookAddressPolicy policy, TimeProvider time)
    {
        _signingKey = string.IsNullOrEmpty(options.Webhook.SigningKey) ? null : Convert.FromBase64String(options.Webhook.SigningKey);
        MaxConcurrency = options.Webhook.MaxConcurrency;
        _time = time;
        _http = PushHttp.Create(options, HttpVersion.Version11, policy.ConnectAsync);
    }

    public PushProvider Provider => PushProvider.Webhook;

    public bool IsConfigured => _signingKey is not null;

    public int MaxConcurrency { get; }

    /// <summary>
    /// The registration's signing secret: HMAC-SHA256 of the device id and the URL under the operator's key, so
    /// nothing secret is stored per registration, each receiver can check only its own pushes, and a new
    /// URL (or a new key) gives a new secret.
    /// </summary>
    public byte[] SecretFor(Guid deviceId, string url)
    {
        if (_signingKey is null)
        {
            throw new InvalidOperationException("Push:Webhook:SigningKey is not set.");
        }

        var input = new byte[SecretLabel.Length + 16 + Encoding.UTF8.GetByteCount(url)];
        SecretLabel.CopyTo(input, 0);
        deviceId.TryWriteBytes(input.AsSpan(SecretLabel.Length), bigEndian: true, out _);
        Encoding.UTF8.GetBytes(url, input.AsSpan(SecretLabel.Length + 16));
        return HMACSHA256.HashData(_signingKey, input);
    }

    /// <summary>The header value for <paramref name="body"/> sent at <paramref name="unixSeconds"/>.</summary>
    public static string Sign(byte[] secret, long unixSeconds, ReadOnlySpan<byte> body)
    {
        var stamp = unixSeconds.ToString(CultureInfo.InvariantCulture);
        var signed = new byte[stamp.Length + 1 + body.Length];
        Encoding.ASCII.GetBytes(stamp, signed);
        signed[stamp.Length] = (byte)'.';
        body.CopyTo(signed.AsSpan(stamp.Length + 1));
        return $"t={stamp},v1={Convert.ToHexStringLower(HMACSHA256.HashData(secret, signed))}";
    }

    public async Task<ProviderAnswer> SendAsync(PushTokenRecord device, PushNotification notification, CancellationToken cancellationToken)
    {
        var json = notification.ToJson();
        json["type"] = "chatwire.notification";
        json["device_id"] = device.DeviceId.ToString();
        var body = Encoding.UTF8.GetBytes(json.ToJsonString());
        using var request = new HttpRequestMessage(HttpMethod.Post, device.Token) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.TryAddWithoutValidation(SignatureHeader, Sign(SecretFor(device.DeviceId, device.Token), _time.GetUtcNow().ToUnixTimeSeconds(), body));
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            var status = (int)response.StatusCode;
            return status switch
            {
                >= 200 and < 300 => new ProviderAnswer(ProviderOutcome.Delivered, status.ToString(CultureInfo.InvariantCulture)),
                410 => new ProviderAnswer(ProviderOutcome.DeadToken, "410"),
                408 or 429 or >= 500 => new ProviderAnswer(ProviderOutcome.Retry, status.ToString(CultureInfo.InvariantCulture), RetryAfter(response)),
                _ => new ProviderAnswer(ProviderOutcome.Rejected, status.ToString(CultureInfo.InvariantCulture)),
            };
        }
        catch (HttpRequestException ex) when (ex.InnerException is WebhookDestinationRefusedException refused)
        {
            return new ProviderAnswer(ProviderOutcome.Rejected, refused.Message);
        }
        catch (HttpRequestException ex)
        {
            return new ProviderAnswer(ProviderOutcome.Retry, ex.Message);
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ProviderAnswer(ProviderOutcome.Retry, "timeout", Silent: true);
        }
    }

    /// <summary>A Retry-After in seconds or as a date, when the answer had one.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response) =>
        response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - DateTimeOffset.UtcNow,
            _ => null,
        };

    public void Dispose() => _http.Dispose();
}
