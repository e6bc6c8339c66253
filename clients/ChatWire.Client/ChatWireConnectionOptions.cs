using System.Net.Security;

namespace ChatWire.Client;

/// <summary>Where and how a <see cref="ChatWireConnection"/> connects. Immutable: derive variants with <c>with</c>.</summary>
public sealed record ChatWireConnectionOptions
{
    /// <summary>The server host name or address.</summary>
    public required string Host { get; init; }

    /// <summary>The port: 7400 for plain TCP, 7443 for TLS, 7401 for Noise by default.</summary>
    public int Port { get; init; } = 7400;

    /// <summary>How the frames travel: plain TCP (the default), TLS or Noise.</summary>
    public ChatWireTransport Transport { get; init; }

    /// <summary>
    /// Whether to speak TLS (1.2 or 1.3) on the connection: <see cref="Transport"/> is <see cref="ChatWireTransport.Tls"/>.
    /// Setting it to <see langword="false"/> turns TLS into plain TCP and leaves Noise as it is.
    /// </summary>
    public bool UseTls
    {
        get => Transport == ChatWireTransport.Tls;
        init => Transport = value ? ChatWireTransport.Tls : Transport == ChatWireTransport.Tls ? ChatWireTransport.Tcp : Transport;
    }

    /// <summary>
    /// Allow plain TCP (<see cref="ChatWireTransport.Tcp"/>) to a host that is not loopback. Off by default: without
    /// encryption the session token and every message cross the network in the clear, so such a connection is
    /// refused unless this says it is meant (a private network, a test rig). TLS and Noise need no such consent.
    /// </summary>
    public bool AllowPlaintext { get; init; }

    /// <summary>
    /// The Noise server's static public key (32 bytes; <see cref="NoiseKeys.Parse"/> reads the hex form) when the
    /// caller knows it out of band or from server-info fetched over HTTPS: every link runs IK under it, and a server
    /// proving another key is refused (<see cref="NoiseServerKeyChangedException"/>). It applies to the
    /// <see cref="FallbackEndpoints"/> too, which must then share the key. <see langword="null"/>: trust on first use
    /// through <see cref="NoiseKeyPins"/>.
    /// </summary>
    public ReadOnlyMemory<byte>? NoiseServerKey { get; init; }

    /// <summary>
    /// Where the Noise keys trusted on first use are kept, per <c>host:port</c> (used when <see cref="NoiseServerKey"/>
    /// is <see langword="null"/>; also told of rotations). <see langword="null"/>: a store in memory, for the
    /// connection's lifetime, so reconnects still insist on the key the first link met.
    /// </summary>
    public INoiseKeyPins? NoiseKeyPins { get; init; }

    /// <summary>
    /// Trust on first use only: when the server proves a key other than the pinned one, pin the new key and connect
    /// instead of throwing <see cref="NoiseServerKeyChangedException"/>. For one connection after the change was
    /// checked out of band; never on by default.
    /// </summary>
    public bool AcceptChangedNoiseKey { get; init; }

    /// <summary>The name the server certificate must carry (and SNI); <see cref="Host"/> when <see langword="null"/>.</summary>
    public string? TlsTargetHost { get; init; }

    /// <summary>
    /// Decides whether to trust the server certificate. When set, it alone decides;
    /// <see cref="AllowUntrustedCertificate"/> and <see cref="PinnedCertificateSha256"/> are ignored.
    /// </summary>
    public RemoteCertificateValidationCallback? RemoteCertificateValidationCallback { get; init; }

    /// <summary>Accept any server certificate (development servers with self-signed certificates only).</summary>
    public bool AllowUntrustedCertificate { get; init; }

    /// <summary>
    /// Trust exactly the certificate whose DER bytes hash to this SHA-256 (hex, colons and spaces allowed),
    /// whatever its chain. Takes precedence over <see cref="AllowUntrustedCertificate"/>.
    /// </summary>
    public string? PinnedCertificateSha256 { get; init; }

    /// <summary>The device's session token from signup or login.</summary>
    public required string SessionToken { get; init; }

    /// <summary>The device the token was issued to.</summary>
    public required Guid DeviceId { get; init; }

    /// <summary>Client name and version sent in HELLO, for server logs (at most 64 UTF-8 bytes).</summary>
    public string ClientName { get; init; } = "ChatWire.Client";

    /// <summary>Optional protocol features this client supports, sent in HELLO.</summary>
    public IReadOnlyList<string> Capabilities { get; init; } = [];

    /// <summary>
    /// Other nodes of the same service, tried in turn after <see cref="Host"/>:<see cref="Port"/> when a
    /// reconnect attempt fails, and first when a node asks its clients to move (GO_AWAY, it is draining).
    /// Empty: every reconnect goes to <see cref="Host"/> (a load balancer's address, which stops sending
    /// connections to a draining node). Each entry uses this record's TLS settings; its host is also the TLS
    /// name unless <see cref="TlsTargetHost"/> is set.
    /// </summary>
    public IReadOnlyList<System.Net.DnsEndPoint> FallbackEndpoints { get; init; } = [];

    /// <summary>How to reconnect after a drop; enabled by default.</summary>
    public ReconnectPolicy Reconnect { get; init; } = ReconnectPolicy.Default;

    /// <summary>
    /// How long the client may stay silent before it sends PING; <see langword="null"/> takes the interval
    /// the server announces in WELCOME, <see cref="Timeout.InfiniteTimeSpan"/> turns heartbeats off.
    /// A link from which nothing arrives for three intervals is treated as dropped.
    /// </summary>
    public TimeSpan? HeartbeatInterval { get; init; }

    /// <summary>
    /// Watermarks a previous connection reached (<see cref="ChatWireConnection.Watermarks"/>): the first link
    /// then fetches what those conversations received since, instead of starting at their newest event.
    /// </summary>
    public IReadOnlyDictionary<Guid, ulong>? ResumeWatermarks { get; init; }

    /// <summary>
    /// How often the connection tells the server how far the app has read each conversation's events from
    /// <see cref="ChatWireConnection.ReadEventsAsync"/> (RECEIVED, only where that moved); <see cref="TimeSpan.Zero"/> never does. The
    /// server keeps these cursors per device: SYNC returns them, and notifications use them.
    /// </summary>
    public TimeSpan AcknowledgeInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Start each conversation where this device's cursor on the server says it stopped (the last RECEIVED),
    /// so a restarted app delivers what it missed, instead of starting at the newest event. Watermarks in
    /// <see cref="ResumeWatermarks"/> win over it.
    /// </summary>
    public bool ResumeFromDeviceCursor { get; init; }

    /// <summary>
    /// How many of its newest events a conversation first seen on a reconnect (joined while disconnected)
    /// replays; older ones are a <see cref="ChatWireConnection.GetHistoryAsync"/> away.
    /// </summary>
    public int NewConversationBacklog { get; init; } = 200;

    /// <summary>
    /// About how many events <see cref="ChatWireConnection.ReadEventsAsync"/> may have waiting for the app before
    /// the connection stops taking more in. Nothing stored is lost when the app falls behind: a conversation's new
    /// events are then fetched from history, in order, once the app has read enough to make room for a page of
    /// them (up to 200 events). While the buffer is full, only the newest read state per conversation and presence
    /// per watched user is kept, and typing notices are dropped. Connection states and left conversations always
    /// go in.
    /// </summary>
    public int EventBufferCapacity { get; init; } = 10_000;

    /// <summary>
    /// How long one <see cref="ChatWireConnection.SendAsync(Guid, ReadOnlyMemory{byte}, string, Guid?, CancellationToken)"/>
    /// (or edit, delete, reaction, read mark, status or presence watch) may spend waiting out <c>RATE_LIMITED</c>
    /// answers: it waits each answer's <c>retry_after_ms</c> and sends the same request again, until this
    /// much waiting has passed, then throws the <c>RATE_LIMITED</c> <see cref="ChatWireException"/>.
    /// <see cref="TimeSpan.Zero"/> throws at the first one.
    /// </summary>
    public TimeSpan MaxRateLimitWait { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Whether <see cref="ChatWireConnection.ConnectAsync"/> keeps trying when the server cannot be reached, times out
    /// or answers a code that means "later" (<c>TOO_MANY_CONNECTIONS</c>, <c>SERVER_BUSY</c>, <c>SHUTTING_DOWN</c>,
    /// <c>RATE_LIMITED</c>, <c>STORAGE_UNAVAILABLE</c>, …: an app started offline, a server restarting), with <see cref="Reconnect"/>'s backoff, attempt
    /// limit and <see cref="FallbackEndpoints"/>, until its cancellation token says stop. A refused token
    /// (<c>INVALID_TOKEN</c>, <c>SESSION_REVOKED</c>, …), an untrusted TLS certificate or Noise key, and plain TCP off
    /// loopback, and any other refusal, are thrown at once either way; so is the last failure when the attempts run
    /// out. <see langword="false"/> (the default): the first failure is thrown.
    /// </summary>
    public bool RetryFirstConnect { get; init; }

    /// <summary>How long opening a link may take: TCP connect, TLS handshake, HELLO and AUTH.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long one of the app's requests (send, edit, delete, reaction, read mark, typing, status, presence watch,
    /// history, conversation states, ping) waits for the server's answer once it has gone out, each time it goes out:
    /// past it the call throws <see cref="TimeoutException"/>, and the connection stays up (an answer that comes later
    /// is dropped). A node that accepts requests but stalls (its store is stuck) then fails calls instead of holding
    /// them; a dead link is found by the heartbeat and fails them with <see cref="IOException"/>. A send that timed
    /// out may still have been stored: send it again with the same message id, which the server stores at most once.
    /// Waiting for a link while reconnecting is not counted (the call's cancellation token bounds that), nor are the
    /// waits of <see cref="MaxRateLimitWait"/>. <see cref="Timeout.InfiniteTimeSpan"/> waits as long as the link lives.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Options for the endpoints a server announces in <c>GET /v1/server-info</c>. Unless <paramref name="transport"/>
    /// says otherwise: Noise when the server has a Noise listener (and TLS was not asked for with
    /// <paramref name="preferTls"/>); else TLS when the server has a TLS listener, except on a loopback host (the
    /// traffic never leaves the machine), where plain TCP is taken when announced; plain TCP otherwise. Plain TCP to a
    /// host off loopback still needs <see cref="AllowPlaintext"/> to connect. For Noise the announced key becomes
    /// <see cref="NoiseServerKey"/> only where it can be believed: server-info came over HTTPS
    /// (<see cref="ServerInfo.ReceivedOverHttps"/>) or the Noise host is loopback; otherwise the key is trusted on
    /// first use, because anyone on the path could have written it into a plain HTTP answer.
    /// </summary>
    /// <param name="serverInfo">The server's answer to <see cref="ChatWireApiClient.GetServerInfoAsync"/>.</param>
    /// <param name="sessionToken">The device's session token.</param>
    /// <param name="deviceId">The device the token was issued to.</param>
    /// <param name="preferTls">Whether to choose TLS when both TCP listeners are enabled; <see langword="true"/> also passes over Noise; <see langword="null"/>: TLS off loopback only.</param>
    /// <param name="transport">The transport to use; <see langword="null"/> chooses as described.</param>
    /// <exception cref="InvalidOperationException">The server announces no listener for the transport (or none at all).</exception>
    public static ChatWireConnectionOptions FromServerInfo(ServerInfo serverInfo, string sessionToken, Guid deviceId, bool? preferTls = null, ChatWireTransport? transport = null)
    {
        ArgumentNullException.ThrowIfNull(serverInfo);
        ArgumentException.ThrowIfNullOrEmpty(sessionToken);
        var endpoints = serverInfo.Endpoints ?? new ServerEndpoints(null, null, null);
        var chosen = transport ?? ChooseTransport(endpoints, preferTls);
        var endpoint = chosen switch
        {
            ChatWireTransport.Noise => endpoints.Noise,
            ChatWireTransport.Tls => endpoints.Tls,
            _ => endpoints.Tcp,
        } ?? throw new InvalidOperationException($"The server announces no {chosen.ToString().ToUpperInvariant()} endpoint.");

        ReadOnlyMemory<byte>? noiseKey = null;
        if (chosen == ChatWireTransport.Noise && serverInfo.NoiseStaticPublicKey is { } announced
            && (serverInfo.ReceivedOverHttps || IsLoopback(endpoint.Host)))
        {
            noiseKey = NoiseKeys.Parse(announced);
        }

        return new ChatWireConnectionOptions
        {
            Host = endpoint.Host,
            Port = endpoint.Port,
            Transport = chosen,
            NoiseServerKey = noiseKey,
            SessionToken = sessionToken,
            DeviceId = deviceId,
        };
    }

    private static ChatWireTransport ChooseTransport(ServerEndpoints endpoints, bool? preferTls)
    {
        if (endpoints.Noise is not null && preferTls != true)
        {
            return ChatWireTransport.Noise;
        }

        var host = (endpoints.Tls ?? endpoints.Tcp)?.Host;
        var wantTls = preferTls ?? !IsLoopback(host);
        return (wantTls, endpoints.Tcp, endpoints.Tls) switch
        {
            (true, _, { }) => ChatWireTransport.Tls,
            (_, { }, _) => ChatWireTransport.Tcp,
            (_, null, { }) => ChatWireTransport.Tls,
            _ => throw new InvalidOperationException("The server announces neither a Noise, a TCP nor a TLS endpoint."),
        };
    }

    /// <summary>Whether <paramref name="host"/> is this machine: <c>localhost</c> or a loopback address.</summary>
    /// <param name="host">A host name or address.</param>
    public static bool IsLoopback(string? host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (System.Net.IPAddress.TryParse(host, out var address) && System.Net.IPAddress.IsLoopback(address));
}
