using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using ChatWire.Gateway.Hosting;

namespace ChatWire.Testing;

/// <summary>
/// The whole gateway in process, on loopback port 0 for every listener (or on fixed ports, for restarts),
/// over a fresh data directory unless one is given. Shared by every suite that drives the real server.
/// </summary>
public sealed class TestServer : IAsyncDisposable
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private readonly bool _ownsDirectory;

    private TestServer(ChatWireServer server, string dataDirectory, bool ownsDirectory)
    {
        Server = server;
        DataDirectory = dataDirectory;
        _ownsDirectory = ownsDirectory;
        ApiUrl = $"http://127.0.0.1:{server.Endpoints.HttpEndPoint!.Port}";
        Http = new HttpClient { BaseAddress = new Uri(ApiUrl + "/") };
        Management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.Endpoints.ManagementEndPoint!.Port}/") };
    }

    public ChatWireServer Server { get; }

    public string DataDirectory { get; }

    /// <summary>The HTTP API listener as a user types it, e.g. <c>http://127.0.0.1:41234</c> (no trailing slash).</summary>
    public string ApiUrl { get; }

    /// <summary>The HTTP API listener as a base address (with a trailing slash).</summary>
    public Uri ApiBaseAddress => Http.BaseAddress!;

    public HttpClient Http { get; }

    public HttpClient Management { get; }

    public IPEndPoint TcpEndPoint => Server.Endpoints.TcpEndPoint!;

    public IPEndPoint TlsEndPoint => Server.Endpoints.TlsEndPoint!;

    public IPEndPoint NoiseEndPoint => Server.Endpoints.NoiseEndPoint!;

    /// <summary>The listener test clients connect to by default (a parameterised protocol test sets it).</summary>
    public WireTransport Wire { get; set; } = WireTransport.Tcp;

    /// <summary>The Noise listener's static public key, as the server publishes it in server-info.</summary>
    public byte[] NoisePublicKey => Server.NoiseStaticPublicKey!;

    /// <summary>The SHA-256 (hex) of the DER bytes of the development certificate the TLS listener presents.</summary>
    public string DevelopmentCertificateSha256
    {
        get
        {
            using var certificate = X509CertificateLoader.LoadPkcs12FromFile(Path.Combine(DataDirectory, "dev-certificate.pfx"), password: null);
            return Convert.ToHexString(SHA256.HashData(certificate.RawData));
        }
    }

    /// <param name="overrides">Configuration over the test defaults.</param>
    /// <param name="dataDirectory">An existing data directory (a restart); a fresh one, deleted on dispose, when null.</param>
    /// <param name="replaceServices">Run on the gateway's services last: to put a failing component in place.</param>
    public static async Task<TestServer> StartAsync(
        IReadOnlyDictionary<string, string?>? overrides = null, string? dataDirectory = null, Action<Microsoft.Extensions.DependencyInjection.IServiceCollection>? replaceServices = null)
    {
        var owns = dataDirectory is null;
        dataDirectory ??= NewDataDirectory();
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:TcpEndpoint"] = "127.0.0.1:0",
            ["Gateway:TlsEndpoint"] = "127.0.0.1:0",
            ["Gateway:NoiseEndpoint"] = "127.0.0.1:0",
            ["Gateway:HttpEndpoint"] = "127.0.0.1:0",
            // Equal endpoint texts are refused (management must differ from the API), so port 0 is spelled another way.
            ["Gateway:ManagementEndpoint"] = "localhost:0",
            ["Gateway:DataDirectory"] = dataDirectory,
            ["Gateway:SweepIntervalMs"] = "100",
            ["Auth:AttemptsPerIpPerMinute"] = "100000",
            ["Auth:AttemptsPerAccountPerMinute"] = "100000",
            ["Auth:AttemptsPerAccountFromAllAddressesPerMinute"] = "100000",

            // Tests pipeline thousands of SENDs from one user; the SEND limits have tests of their own.
            ["Limits:SendMessagesPerSecondPerUser"] = "0",
            // Tests make many API requests from one user and one address; the API budget has tests of its own.
            ["Limits:ApiRequestsPerMinutePerUser"] = "0",
            ["Limits:ApiRequestsPerMinutePerAddress"] = "0",
            // Tests connect, and present wrong tokens, many times a minute from one address; both budgets have tests of their own.
            ["Limits:RefusedTokensPerMinutePerAddress"] = "0",
            ["Gateway:ConnectionsPerMinutePerIp"] = "0",
            ["Limits:SendBytesPerSecondPerUser"] = "0",
            ["Limits:SendMessagesPerSecondPerDevice"] = "0",
            ["Limits:SendBytesPerSecondPerDevice"] = "0",
            ["Limits:SendMessagesPerSecondPerConversation"] = "0",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var server = await ChatWireServer.CreateAsync([], settings, replaceServices, CancellationToken.None);
        await server.StartAsync();
        return new TestServer(server, dataDirectory, owns);
    }

    /// <summary>A path for a data directory that does not exist yet; the caller deletes it (see <see cref="DeleteDirectory"/>).</summary>
    public static string NewDataDirectory() => Path.Combine(Path.GetTempPath(), "chatwire-test-" + Guid.NewGuid().ToString("N"));

    public static void DeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp directory left behind does no harm.
        }
    }

    /// <summary>
    /// Overrides that put every listener on a fixed loopback port, free when picked, so a second server can start
    /// where a stopped one listened: a restart as clients see it. The ports lie below the ephemeral range where
    /// the system can tell, so no port-0 listener or outgoing connection takes one while the server is down.
    /// </summary>
    public static Dictionary<string, string?> FixedPortOverrides()
    {
        var ports = ChatWire.Tests.Shared.LoopbackPorts.PickBelowEphemeral(5);
        return new Dictionary<string, string?>
        {
            ["Gateway:TcpEndpoint"] = $"127.0.0.1:{ports[0]}",
            ["Gateway:TlsEndpoint"] = $"127.0.0.1:{ports[1]}",
            ["Gateway:NoiseEndpoint"] = $"127.0.0.1:{ports[4]}",
            ["Gateway:HttpEndpoint"] = $"127.0.0.1:{ports[2]}",
            ["Gateway:ManagementEndpoint"] = $"127.0.0.1:{ports[3]}",
        };
    }

    public async Task<TestUser> SignupAsync(string? username = null, string password = "correct horse battery", string? displayName = null, string? deviceName = null)
    {
        username ??= "u" + Guid.NewGuid().ToString("N")[..12];
        var request = new Dictionary<string, string> { ["username"] = username, ["password"] = password };
        if (displayName is not null)
        {
            request["display_name"] = displayName;
        }

        if (deviceName is not null)
        {
            request["device_name"] = deviceName;
        }

        var response = await Http.PostAsJsonAsync("v1/accounts/signup", request, Json);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(Json);
        return new TestUser(this, username, password, body.GetProperty("user_id").GetGuid(), body.GetProperty("device_id").GetGuid(), body.GetProperty("session_token").GetString()!);
    }

    /// <summary>A new device session of <paramref name="user"/> on this server; its HTTP helpers call this server.</summary>
    public async Task<TestUser> LoginAsync(TestUser user, string? deviceName = null)
    {
        var request = new Dictionary<string, string> { ["username"] = user.Username, ["password"] = user.Password };
        if (deviceName is not null)
        {
            request["device_name"] = deviceName;
        }

        var response = await Http.PostAsJsonAsync("v1/accounts/login", request, Json);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(Json);
        return user with { Server = this, DeviceId = body.GetProperty("device_id").GetGuid(), Token = body.GetProperty("session_token").GetString()! };
    }

    /// <summary>
    /// The sum of a counter or gauge on the management listener's <c>/metrics</c> over the series whose labels
    /// contain <paramref name="labels"/> (e.g. <c>opcode="PONG"</c>); 0 when no series matches.
    /// </summary>
    public async Task<double> ReadMetricAsync(string name, string? labels = null)
    {
        var text = await Management.GetStringAsync("metrics");
        var total = 0.0;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith('#') || !line.StartsWith(name, StringComparison.Ordinal))
            {
                continue;
            }

            var rest = line[name.Length..];
            var series = rest.StartsWith('{') ? rest[..(rest.IndexOf('}', StringComparison.Ordinal) + 1)] : string.Empty;
            if (!(rest.StartsWith('{') || rest.StartsWith(' ')) || (labels is not null && !series.Contains(labels, StringComparison.Ordinal)))
            {
                continue;
            }

            total += double.Parse(rest[series.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        }

        return total;
    }

    /// <summary>Polls <see cref="ReadMetricAsync"/> until <paramref name="condition"/> holds; fails after <paramref name="wait"/> (30 s by default: a bound, not a speed check).</summary>
    public async Task<double> WaitForMetricAsync(string name, string? labels, Func<double, bool> condition, TimeSpan? wait = null)
    {
        using var timeout = new CancellationTokenSource(wait ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var value = await ReadMetricAsync(name, labels);
            if (condition(value))
            {
                return value;
            }

            if (timeout.IsCancellationRequested)
            {
                throw new TimeoutException($"{name}{{{labels}}} is {value.ToString(CultureInfo.InvariantCulture)}; the condition did not hold within the wait.");
            }

            await Task.Delay(50, CancellationToken.None);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        Management.Dispose();
        await Server.DisposeAsync();
        if (_ownsDirectory)
        {
            DeleteDirectory(DataDirectory);
        }
    }
}

/// <summary>The protocol listeners a test client can reach.</summary>
public enum WireTransport
{
    /// <summary>Plain TCP (7400).</summary>
    Tcp,

    /// <summary>TLS (7443), pinning the development certificate.</summary>
    Tls,

    /// <summary>Noise (7401), IK with the server's key.</summary>
    Noise,
}
