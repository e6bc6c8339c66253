using ChatWire.Protocol;

namespace ChatWire.Gateway.Hosting;

/// <summary>Listeners, limits and timers of the gateway; section <c>Gateway</c>, env <c>CHATWIRE_Gateway__*</c>.</summary>
public sealed class GatewayOptions
{
    public const string Section = "Gateway";

    /// <summary>Plain TCP protocol listener, <c>host:port</c>; empty disables it.</summary>
    public string TcpEndpoint { get; set; } = "127.0.0.1:7400";

    /// <summary>TLS protocol listener, <c>host:port</c>; empty disables it.</summary>
    public string TlsEndpoint { get; set; } = "127.0.0.1:7443";

    /// <summary>
    /// Noise protocol listener (docs/protocol.md §8), <c>host:port</c>; empty disables it. Its connections are
    /// encrypted with a few hundred bytes of state each, where in-process TLS holds tens of kilobytes.
    /// </summary>
    public string NoiseEndpoint { get; set; } = "127.0.0.1:7401";

    /// <summary>The Noise listener's static key file; empty = <c>noise-key.json</c> in the data directory (made on first start).</summary>
    public string NoiseKeyPath { get; set; } = string.Empty;

    /// <summary>How long after a rotation (<c>--rotate-noise-key</c>) IK clients may still use the previous key.</summary>
    public int NoisePreviousKeyAcceptedDays { get; set; } = 30;

    /// <summary>
    /// The transport under the protocol listeners: <c>lean</c> (ChatWire's own, the default: no buffer, pipe or
    /// pending receive held by an idle connection, about 2.6 KB less per idle connection than Kestrel's; plain-TCP
    /// fan-out about a fifth slower; docs/performance.md) or <c>sockets</c> (Kestrel's socket transport). The HTTP
    /// API and management listeners always use Kestrel's.
    /// </summary>
    public string ProtocolTransport { get; set; } = ProtocolTransports.Lean;

    /// <summary>HTTP API listener, <c>host:port</c>.</summary>
    public string HttpEndpoint { get; set; } = "127.0.0.1:7480";

    /// <summary>
    /// HTTPS on the API listener, with the TLS listener's certificate (<see cref="TlsCertificatePath"/>, or the
    /// development certificate); off, the API speaks plain HTTP, for loopback or behind a TLS-terminating proxy.
    /// </summary>
    public bool HttpTls { get; set; }

    /// <summary>Management listener (<c>/metrics</c>, <c>/health</c>, <c>/ready</c>, <c>/admin</c>), <c>host:port</c>; never the API listener.</summary>
    public string ManagementEndpoint { get; set; } = "127.0.0.1:7481";

    /// <summary>Host name clients are told to connect to in server-info; empty = the host the request used.</summary>
    public string PublicHost { get; set; } = string.Empty;

    /// <summary>Where SQLite files, blobs and the development certificate live; relative to the working directory.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>PFX certificate for the TLS listener; empty = a self-signed development certificate in the data directory.</summary>
    public string TlsCertificatePath { get; set; } = string.Empty;

    public string TlsCertificatePassword { get; set; } = string.Empty;

    /// <summary>A TLS handshake not finished by then is dropped; the connection holds its slot until then.</summary>
    public int TlsHandshakeTimeoutMs { get; set; } = 5_000;

    /// <summary>An idle HTTP keep-alive connection is closed after this long.</summary>
    public int HttpKeepAliveTimeoutMs { get; set; } = 15_000;

    /// <summary>An HTTP request's headers must arrive within this long of its first byte.</summary>
    public int HttpRequestHeadersTimeoutMs { get; set; } = 10_000;

    /// <summary>
    /// An HTTP API request's body (a JSON body, or one an endpoint that takes none reads and drops) must arrive whole
    /// within this long of the server starting to read it (after the session check); otherwise 408 FRAME_TIMEOUT and
    /// the connection closes. Blob uploads are not bound by it (they count among their creator's requests in progress).
    /// </summary>
    public int HttpRequestBodyTimeoutMs { get; set; } = 30_000;

    /// <summary>
    /// A blob download (the embedded store's <c>GET /v1/blobs/{id}</c>) whose client takes no byte of it for this long
    /// (the kernel's count of bytes it acknowledged does not move) ends, and the connection closes. Without it a client
    /// that reads nothing holds its connection for minutes per piece, since Kestrel allows each write 240 bytes a second.
    /// </summary>
    public int HttpResponseStallTimeoutMs { get; set; } = 20_000;

    public int AuthDeadlineMs { get; set; } = 10_000;

    public int HeartbeatIntervalMs { get; set; } = 30_000;

    /// <summary>
    /// How long after a user's last connection here closes they are shown offline, unless a device of theirs
    /// connects again meanwhile (then watchers see nothing): a phone switching networks does not flicker, and
    /// connecting and closing in a loop does not push a presence change per connection. 0 shows it at once.
    /// </summary>
    public int PresenceOfflineGraceMs { get; set; } = 3_000;

    /// <summary>
    /// Distributed mode: how long a Redis subscription to a conversation's or user's topic is kept after the node's
    /// last local user of it disconnects or leaves, so that reconnecting devices cost Redis no SUBSCRIBE and
    /// UNSUBSCRIBE per conversation. 0 unsubscribes at once; 0 to 600000.
    /// </summary>
    public int TopicLingerMs { get; set; } = 30_000;

    /// <summary>A started frame must complete within this time (slowloris guard).</summary>
    public int FrameTimeoutMs { get; set; } = 30_000;

    /// <summary>How often the shared sweep checks every connection's deadlines.</summary>
    public int SweepIntervalMs { get; set; } = 1_000;

    public uint MaxFrameLength { get; set; } = ProtocolLimits.DefaultMaxFrameLength;

    public int MaxContentLength { get; set; } = ProtocolLimits.DefaultMaxContentLength;

    /// <summary>
    /// Bytes queued for one connection that it must get back under within <see cref="SlowConsumerGraceMs"/>,
    /// or be closed with SLOW_CONSUMER.
    /// </summary>
    public int MaxOutboundBytes { get; set; } = 1024 * 1024;

    /// <summary>Bytes queued for one connection past which it is closed with SLOW_CONSUMER at once.</summary>
    public int MaxOutboundBurstBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>How long a connection may stay above <see cref="MaxOutboundBytes"/> (a burst of large messages).</summary>
    public int SlowConsumerGraceMs { get; set; } = 5_000;

    /// <summary>SENDs of one connection awaiting their commit before the gateway stops reading from it.</summary>
    public int MaxSendsInFlight { get; set; } = 64;

    /// <summary>SEND content bytes of one connection awaiting their commit before the gateway stops reading from it.</summary>
    public long MaxSendBytesInFlight { get; set; } = 1L << 20;

    /// <summary>
    /// Connections per process over every listener (protocol, TLS handshakes, HTTP, management); 0 = derived
    /// from the open-file limit, less a reserve: the files open at start plus 256, and at least a quarter of
    /// the limit (64 to 1,024). Never above that.
    /// </summary>
    public int MaxConnections { get; set; }

    /// <summary>Connections per client address (IPv6 by /64) over every listener; trusted proxies are exempt.</summary>
    public int MaxConnectionsPerIp { get; set; } = 256;

    /// <summary>
    /// New connections per minute from one client address (IPv6 by /64) over every listener but the management one:
    /// a minute's allowance at once, then one every 60/N seconds; one more is refused like a connection over
    /// <see cref="MaxConnectionsPerIp"/>, with the delay until the next is allowed. Unset = four times
    /// <see cref="MaxConnectionsPerIp"/> (1,024 at its default), at most 1,000,000; 0 = no limit. Trusted proxies are exempt.
    /// </summary>
    public int? ConnectionsPerMinutePerIp { get; set; }

    /// <summary>
    /// Authenticated protocol connections one user may hold on this node, over all of their devices; one more
    /// is answered TOO_MANY_CONNECTIONS to its AUTH. 0 = no cap.
    /// </summary>
    public int MaxConnectionsPerUser { get; set; } = 256;

    /// <summary>
    /// HISTORY and SYNC store reads running at once on this node (one per user at a time); more wait their turn. The
    /// embedded store's reads block a thread each, so the thread pool is kept this many threads above the cores.
    /// </summary>
    public int MaxStoreReadsInFlight { get; set; } = 32;

    /// <summary>HTTP API connections at once; 0 = a quarter of the process budget.</summary>
    public int MaxHttpConnections { get; set; }

    /// <summary>Management connections at once (<c>/metrics</c>, <c>/health</c>).</summary>
    public int MaxManagementConnections { get; set; } = 64;

    /// <summary>
    /// Addresses of reverse proxies in front of the HTTP API: from these only, <c>X-Forwarded-For</c> names
    /// the client that throttles and caps count; they are also exempt from the per-address connection cap.
    /// </summary>
    public string[] TrustedProxies { get; set; } = [];

    /// <summary>
    /// Web origins (<c>https://chat.example.com</c>) whose pages may call the HTTP API from a browser (CORS), or
    /// <c>*</c> for any; empty, no cross-origin answers. Sessions travel in the Authorization header, never in cookies,
    /// so an allowed origin gets no ambient credentials (docs/http-api.md, "Browsers").
    /// </summary>
    public string[] CorsOrigins { get; set; } = [];

    /// <summary>
    /// How long a node told to stop waits for its clients to move to other nodes (GO_AWAY) before it closes
    /// the rest; 0 = close every connection at once. The host's shutdown timeout is this plus 5 s, for the
    /// final commit and closing the stores.
    /// </summary>
    public int DrainTimeoutMs { get; set; } = 30_000;

    /// <summary>How long each backend check of <c>/ready</c> may take before the backend counts as unreachable.</summary>
    public int ReadinessTimeoutMs { get; set; } = 2_000;

    /// <summary>Serve <c>POST /debug/memory</c> on the management listener (load tests only: it forces full garbage collections).</summary>
    public bool EnableDebugEndpoints { get; set; }

    public ProtocolLimits ToProtocolLimits() => ProtocolLimits.Default with
    {
        MaxFrameLength = MaxFrameLength,
        MaxContentLength = MaxContentLength,
    };
}

/// <summary>Passwords, session tokens and throttles; section <c>Auth</c>.</summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane. Start refuses lower values.</summary>
    public const int MinArgon2MemoryKib = 19 * 1024;

    public const int MinArgon2Passes = 2;

    public int Argon2MemoryKib { get; set; } = MinArgon2MemoryKib;

    public int Argon2Passes { get; set; } = MinArgon2Passes;

    /// <summary>Hashes computed at once (each holds Argon2MemoryKib); 0 = processor count.</summary>
    public int MaxConcurrentHashes { get; set; }

    /// <summary>Hash requests allowed to wait; past this, SERVER_BUSY with Retry-After.</summary>
    public int MaxQueuedHashes { get; set; } = 64;

    public TimeSpan SessionIdleTimeout { get; set; } = TimeSpan.FromDays(30);

    public TimeSpan SessionMaxAge { get; set; } = TimeSpan.FromDays(365);

    public TimeSpan InviteDefaultLifetime { get; set; } = TimeSpan.FromDays(7);

    public TimeSpan InviteMaxLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Login, sign-up and invite-join attempts per client address per minute.</summary>
    public int AttemptsPerIpPerMinute { get; set; } = 30;

    /// <summary>Login, password-change and invite-join attempts per account from one client address (IPv6 /64) per minute.</summary>
    public int AttemptsPerAccountPerMinute { get; set; } = 10;

    /// <summary>Login, password-change and invite-join attempts per account from all addresses together per minute.</summary>
    public int AttemptsPerAccountFromAllAddressesPerMinute { get; set; } = 100;

    /// <summary>Password hashes one client address (IPv6 /64) may have computing or waiting at once.</summary>
    public int MaxHashesPerIp { get; set; } = 4;
}

/// <summary>
/// What one user may do per unit of time or in total, so that no user can slow the others or fill the disk;
/// section <c>Limits</c>. A rate of 0 turns that limit off (for load tests; never in production).
/// </summary>
public sealed class LimitsOptions
{
    public const string Section = "Limits";

    /// <summary>SENDs per second one user may make over all their devices, sustained.</summary>
    public double SendMessagesPerSecondPerUser { get; set; } = 20;

    /// <summary>SENDs one user may make at once after being quiet.</summary>
    public int SendMessageBurstPerUser { get; set; } = 100;

    /// <summary>SEND content bytes per second one user may store over all their devices, sustained.</summary>
    public long SendBytesPerSecondPerUser { get; set; } = 1L << 20;

    /// <summary>SEND content bytes one user may store at once after being quiet; at least Gateway:MaxContentLength.</summary>
    public long SendByteBurstPerUser { get; set; } = 4L << 20;

    /// <summary>SENDs per second one device may make, sustained.</summary>
    public double SendMessagesPerSecondPerDevice { get; set; } = 10;

    /// <summary>SENDs one device may make at once after being quiet.</summary>
    public int SendMessageBurstPerDevice { get; set; } = 50;

    /// <summary>SEND content bytes per second one device may store, sustained.</summary>
    public long SendBytesPerSecondPerDevice { get; set; } = 512L << 10;

    /// <summary>SEND content bytes one device may store at once after being quiet; at least Gateway:MaxContentLength.</summary>
    public long SendByteBurstPerDevice { get; set; } = 2L << 20;

    /// <summary>
    /// SENDs, EDITs, DELETEs and REACTs per second into one conversation, over all its members, on one node,
    /// sustained: every one of them is delivered to every member's devices, so a few accounts flooding a large
    /// channel together would otherwise multiply their own limits by its size. Counted after the membership check,
    /// so that nobody outside a conversation can spend its budget.
    /// </summary>
    public double SendMessagesPerSecondPerConversation { get; set; } = 50;

    /// <summary>Those a conversation may take at once after being quiet.</summary>
    public int SendMessageBurstPerConversation { get; set; } = 250;

    /// <summary>
    /// Accepted PATCHes of one channel's settings per minute, on one node, sustained (0 = no limit): each stores an
    /// event every member is sent, and a slow-mode or archive change drops every member's cached membership in
    /// Redis, so a channel's creator scripting changes would otherwise cost work in proportion to its size.
    /// </summary>
    public double ChannelChangesPerMinutePerChannel { get; set; } = 20;

    /// <summary>Those a channel may take at once after being left alone.</summary>
    public int ChannelChangeBurstPerChannel { get; set; } = 10;

    /// <summary>Content bytes one user may have stored over all time (what they sent); 0 = no quota.</summary>
    public long StorageBytesPerUser { get; set; } = 10L << 30;

    /// <summary>Content bytes a team's channels may hold over all time; 0 = no quota.</summary>
    public long StorageBytesPerTeam { get; set; } = 1L << 40;

    /// <summary>Teams one user may own (create, or be made owner of) at once.</summary>
    public int MaxTeamsOwnedPerUser { get; set; } = 100;

    /// <summary>Channels, public and private, one team may have.</summary>
    public int MaxChannelsPerTeam { get; set; } = 1_000;

    /// <summary>Invites of one team neither revoked nor expired at once.</summary>
    public int MaxActiveInvitesPerTeam { get; set; } = 100;

    /// <summary>
    /// Group DMs (three people or more) one user may be in: a new group is refused while any of its people is in this
    /// many, so that team-mates cannot grow someone's conversation list (read whole at AUTH and for every push) without bound.
    /// </summary>
    public int MaxGroupConversationsPerUser { get; set; } = 1_000;

    /// <summary>
    /// Group DMs one user may create. A group DM cannot be left, so without this one person could open enough groups
    /// to put their team-mates at <see cref="MaxGroupConversationsPerUser"/> for good.
    /// </summary>
    public int MaxGroupConversationsCreatedPerUser { get; set; } = 100;

    /// <summary>
    /// HTTP API requests (<c>/v1/</c>) one account may make per minute on one node, over all its devices: a burst of
    /// this many, then one every 60/N seconds (docs/http-api.md, "Rate limits").
    /// </summary>
    public int ApiRequestsPerMinutePerUser { get; set; } = 1200;

    /// <summary>
    /// HTTP API requests per minute on one node from one client address (IPv6 by /64) to the anonymous endpoints
    /// (server info, sign-up, login) and browsers' preflights.
    /// </summary>
    public int ApiRequestsPerMinutePerAddress { get; set; } = 1200;

    /// <summary>
    /// Session tokens refused per minute on one node from one client address (IPv6 by /64), over the HTTP API and the
    /// protocol's AUTH together; once spent, the address's next token is refused before it is looked up (HTTP 429,
    /// AUTH RATE_LIMITED with retry_after_ms). 0 = no limit.
    /// </summary>
    public int RefusedTokensPerMinutePerAddress { get; set; } = 1200;

    /// <summary>
    /// HTTP API requests (<c>/v1/</c>, with a session) one account may have in progress at once on one node, over all its
    /// devices; one more is 429 RATE_LIMITED. 0 = no limit.
    /// </summary>
    public int ApiRequestsInProgressPerUser { get; set; } = 32;

    /// <summary>One-time prekeys one user may claim per minute (key directory): draining a device's prekeys is an attack.</summary>
    public int PrekeyClaimsPerMinutePerUser { get; set; } = 60;

    /// <summary>
    /// Members up to which a conversation keys end-to-end messages with one sender chain per device; above it, one
    /// epoch secret per epoch (docs/e2e.md, option L2), since a removal would cost every sender that many seals.
    /// </summary>
    public int MaxSenderChainMembers { get; set; } = 1000;
}

/// <summary>Which adapter serves each storage port; section <c>Storage</c> (docs/configuration.md).</summary>
public sealed class StorageOptions
{
    public const string Section = "Storage";

    /// <summary>Users, devices, teams, channels: <c>sqlite</c> (a file in the data directory) or <c>mysql</c>.</summary>
    public string Directory { get; set; } = "sqlite";

    /// <summary>Every conversation's events: <c>sqlite</c>, <c>mysql</c> or <c>mongodb</c>.</summary>
    public string Messages { get; set; } = "sqlite";

    /// <summary>The MySQL (or MariaDB) server of the <c>mysql</c> adapters.</summary>
    public MySqlSettings MySql { get; set; } = new();

    /// <summary>The MongoDB deployment of the <c>mongodb</c> message store.</summary>
    public MongoDbSettings MongoDb { get; set; } = new();

    /// <summary>Attachment bytes: <c>local</c> (files under the data directory's <c>blobs</c>, served by the gateway) or <c>s3</c>.</summary>
    public string Blobs { get; set; } = "local";

    /// <summary>The bucket of the <c>s3</c> blob store.</summary>
    public S3Settings S3 { get; set; } = new();
}

/// <summary><c>Storage:S3</c>.</summary>
public sealed class S3Settings
{
    /// <summary>The S3 endpoint URL; empty = AWS S3 in <see cref="Region"/>.</summary>
    public string ServiceUrl { get; set; } = "";

    /// <summary>An existing bucket; the server does not create it.</summary>
    public string Bucket { get; set; } = "";

    /// <summary>The signing region.</summary>
    public string Region { get; set; } = "us-east-1";

    /// <summary>Empty = the AWS SDK's default credentials (environment, instance role).</summary>
    public string AccessKey { get; set; } = "";

    /// <summary>Never logged.</summary>
    public string SecretKey { get; set; } = "";

    /// <summary>Path-style URLs (<c>host/bucket/key</c>), as most S3-compatible servers want.</summary>
    public bool ForcePathStyle { get; set; }
}

/// <summary>Encrypted attachments: sizes, quota and how long grants last; section <c>Attachments</c>.</summary>
public sealed class AttachmentsOptions
{
    public const string Section = "Attachments";

    /// <summary>The largest attachment (ciphertext bytes, tags included).</summary>
    public long MaxBytes { get; set; } = 25L << 20;

    /// <summary>Bytes one user's attachments (pending and ready) may take; 0 = no quota.</summary>
    public long QuotaBytes { get; set; } = 1L << 30;

    /// <summary>How long an upload grant lasts.</summary>
    public int UploadExpirySeconds { get; set; } = 900;

    /// <summary>How long a download URL lasts.</summary>
    public int DownloadExpirySeconds { get; set; } = 3600;

    /// <summary>How often uploads never completed (older than their grant plus an hour) are deleted.</summary>
    public int SweepIntervalSeconds { get; set; } = 300;
}

/// <summary><c>Storage:MySql</c>.</summary>
public sealed class MySqlSettings
{
    /// <summary>
    /// MySqlConnector connection string of the primary, with the database (created and migrated at start);
    /// several hosts with <c>LoadBalance=FailOver</c> give a failover list.
    /// </summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>Optional: a read replica, for the directory's reads where staleness is harmless.</summary>
    public string ReplicaConnectionString { get; set; } = "";
}

/// <summary><c>Storage:MongoDb</c>.</summary>
public sealed class MongoDbSettings
{
    /// <summary>A MongoDB connection string (a replica set or a sharded cluster: the store uses transactions).</summary>
    public string ConnectionString { get; set; } = "";

    public string Database { get; set; } = "chatwire";

    /// <summary>How long events are kept (a TTL index); 3653 days = 10 years.</summary>
    public int RetentionDays { get; set; } = 3653;
}

/// <summary>Which adapter carries events between gateway nodes; section <c>Routing</c>.</summary>
public sealed class RoutingOptions
{
    public const string Section = "Routing";

    /// <summary><c>in-process</c>: one node, no network; <c>redis</c>: Redis pub/sub between nodes, presence in Redis.</summary>
    public string Bus { get; set; } = "in-process";

    /// <summary>The Redis server of the <c>redis</c> bus.</summary>
    public RedisSettings Redis { get; set; } = new();
}

/// <summary><c>Routing:Redis</c>.</summary>
public sealed class RedisSettings
{
    /// <summary>A StackExchange.Redis configuration string, e.g. <c>redis1:6379,password=…</c>.</summary>
    public string Configuration { get; set; } = "";

    /// <summary>How long a node's presence lease lasts: a node that dies takes its users offline this long after its last renewal.</summary>
    public int PresenceLeaseMs { get; set; } = 15_000;

    /// <summary>How often a node renews its lease and reaps the leases of dead nodes; under a third of the lease.</summary>
    public int PresenceRefreshMs { get; set; } = 5_000;
}

/// <summary>The values of <see cref="GatewayOptions.ProtocolTransport"/>.</summary>
public static class ProtocolTransports
{
    public const string Lean = "lean";

    public const string Sockets = "sockets";
}
