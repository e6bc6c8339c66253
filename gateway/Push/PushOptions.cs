namespace ChatWire.Gateway.Push;

/// <summary>Push notifications; section <c>Push</c>, env <c>CHATWIRE_Push__*</c> (docs/configuration.md).</summary>
public sealed class PushOptions
{
    public const string Section = "Push";

    /// <summary>Whether this node plans and sends notifications at all (registration works either way).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How long a member's devices have to receive a message before it is pushed.</summary>
    public int DelayMs { get; set; } = 5_000;

    /// <summary>
    /// The longest a burst in one conversation may keep pushing its notification back (each message folded in
    /// moves it to that message's due time, never past the first one's due time plus this).
    /// </summary>
    public int MaxFoldMs { get; set; } = 15_000;

    /// <summary>
    /// Where pending notifications wait: <c>store</c> (the directory database; one node), <c>redis</c> (a stream
    /// with a consumer group; any number of nodes), or <c>auto</c>: <c>redis</c> when the bus is Redis, else <c>store</c>.
    /// </summary>
    public string Queue { get; set; } = "auto";

    /// <summary>The queue <see cref="Queue"/> names, with <c>auto</c> resolved for the bus in use.</summary>
    public string QueueFor(string bus) => Queue == "auto" ? (bus == "redis" ? "redis" : "store") : Queue;

    /// <summary>How often the store queue is polled for due notifications.</summary>
    public int PollIntervalMs { get; set; } = 500;

    /// <summary>Attempts per notification and device before it counts as failed (the first one included).</summary>
    public int MaxAttempts { get; set; } = 4;

    /// <summary>The first retry's delay; each next one doubles it, with up to half of it added at random.</summary>
    public int RetryBaseMs { get; set; } = 500;

    /// <summary>A provider request not answered within this is a failed attempt.</summary>
    public int RequestTimeoutMs { get; set; } = 10_000;

    /// <summary>
    /// How long one notification's webhook sends to all of a user's devices may take, retries included; what is still
    /// unsent then counts as <c>timed_out</c>. Bounds how long one user's silent receivers hold the queue. APNs and FCM
    /// sends are not cut short.
    /// </summary>
    public int DispatchTimeoutMs { get; set; } = 30_000;

    /// <summary>The user's most recently registered devices a notification goes to; older registrations get none.</summary>
    public int MaxDevicesPerUser { get; set; } = 10;

    /// <summary>Webhook URLs may name loopback, private, link-local or unique-local addresses (tests and closed networks only).</summary>
    public bool AllowPrivateWebhooks { get; set; }

    /// <summary>A certificate (PEM or DER) trusted besides the system's roots for provider and webhook connections; empty = none.</summary>
    public string TrustedCertificatePath { get; set; } = string.Empty;

    public WebhookPushOptions Webhook { get; set; } = new();

    public ApnsPushOptions Apns { get; set; } = new();

    public FcmPushOptions Fcm { get; set; } = new();

    /// <summary>The Redis stream queue (with <c>Queue = redis</c>).</summary>
    public RedisPushOptions Redis { get; set; } = new();
}

public sealed class WebhookPushOptions
{
    /// <summary>
    /// Base64 of at least 32 random bytes; each registration's signing secret is derived from it (an HMAC of the
    /// device and URL). Empty: webhook registrations are refused.
    /// </summary>
    public string SigningKey { get; set; } = string.Empty;

    /// <summary>Requests in flight to webhooks at once, per node.</summary>
    public int MaxConcurrency { get; set; } = 16;
}

public sealed class ApnsPushOptions
{
    /// <summary>The APNs server; Apple's production one unless changed (https://api.sandbox.push.apple.com for development builds).</summary>
    public string Endpoint { get; set; } = "https://api.push.apple.com";

    /// <summary>The 10-character key id of the APNs authentication key. Empty: APNs registrations are refused.</summary>
    public string KeyId { get; set; } = string.Empty;

    /// <summary>The 10-character team id the key belongs to.</summary>
    public string TeamId { get; set; } = string.Empty;

    /// <summary>The .p8 file (PKCS #8 PEM, P-256) of the key.</summary>
    public string PrivateKeyPath { get; set; } = string.Empty;

    /// <summary>The app's bundle id (the apns-topic header).</summary>
    public string Topic { get; set; } = string.Empty;

    public int MaxConcurrency { get; set; } = 32;
}

public sealed class FcmPushOptions
{
    /// <summary>The FCM server.</summary>
    public string Endpoint { get; set; } = "https://fcm.googleapis.com";

    /// <summary>The service account's JSON key file (type, project_id, client_email, private_key, token_uri). Empty: FCM registrations are refused.</summary>
    public string ServiceAccountPath { get; set; } = string.Empty;

    /// <summary>Where the OAuth token is asked for; empty = the key file's token_uri.</summary>
    public string TokenUrl { get; set; } = string.Empty;

    public int MaxConcurrency { get; set; } = 32;
}

public sealed class RedisPushOptions
{
    /// <summary>The stream's key.</summary>
    public string Stream { get; set; } = "chatwire:push";

    /// <summary>An entry a consumer took but did not acknowledge within this is claimed by another node.</summary>
    public int ClaimIdleMs { get; set; } = 30_000;
}
