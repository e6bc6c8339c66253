using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChatWire.Gateway.Hosting;

namespace ChatWire.Gateway.Tests.Infrastructure;

/// <summary>The whole gateway in process, on loopback port 0 for every listener, over a fresh data directory.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private readonly bool _ownsDirectory;

    private TestServer(ChatWireServer server, string dataDirectory, bool ownsDirectory)
    {
        Server = server;
        DataDirectory = dataDirectory;
        _ownsDirectory = ownsDirectory;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.Endpoints.HttpEndPoint!.Port}/") };
        Management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.Endpoints.ManagementEndPoint!.Port}/") };
    }

    public ChatWireServer Server { get; }

    public string DataDirectory { get; }

    public HttpClient Http { get; }

    public HttpClient Management { get; }

    public IPEndPoint TcpEndPoint => Server.Endpoints.TcpEndPoint!;

    public IPEndPoint TlsEndPoint => Server.Endpoints.TlsEndPoint!;

    public static async Task<TestServer> StartAsync(IReadOnlyDictionary<string, string?>? overrides = null, string? dataDirectory = null)
    {
        var owns = dataDirectory is null;
        dataDirectory ??= Path.Combine(Path.GetTempPath(), "chatwire-test-" + Guid.NewGuid().ToString("N"));
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:TcpEndpoint"] = "127.0.0.1:0",
            ["Gateway:TlsEndpoint"] = "127.0.0.1:0",
            ["Gateway:HttpEndpoint"] = "127.0.0.1:0",
            // Equal endpoint texts are refused (management must differ from the API), so port 0 is spelled another way.
            ["Gateway:ManagementEndpoint"] = "localhost:0",
            ["Gateway:DataDirectory"] = dataDirectory,
            ["Gateway:SweepIntervalMs"] = "100",
            ["Auth:AttemptsPerIpPerMinute"] = "100000",
            ["Auth:AttemptsPerAccountPerMinute"] = "100000",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var server = await ChatWireServer.CreateAsync([], settings);
        await server.StartAsync();
        return new TestServer(server, dataDirectory, owns);
    }

    public async Task<TestUser> SignupAsync(string? username = null, string password = "correct horse battery")
    {
        username ??= "u" + Guid.NewGuid().ToString("N")[..12];
        var response = await Http.PostAsJsonAsync("v1/accounts/signup", new { username, password }, Json);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(Json);
        return new TestUser(this, username, password, body.GetProperty("user_id").GetGuid(), body.GetProperty("device_id").GetGuid(), body.GetProperty("session_token").GetString()!);
    }

    public async Task<TestUser> LoginAsync(TestUser user)
    {
        var response = await Http.PostAsJsonAsync("v1/accounts/login", new { username = user.Username, password = user.Password }, Json);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(Json);
        return user with { DeviceId = body.GetProperty("device_id").GetGuid(), Token = body.GetProperty("session_token").GetString()! };
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        Management.Dispose();
        await Server.DisposeAsync();
        if (_ownsDirectory)
        {
            try
            {
                Directory.Delete(DataDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>A signed-up user with one device session.</summary>
internal sealed record TestUser(TestServer Server, string Username, string Password, Guid UserId, Guid DeviceId, string Token)
{
    public HttpRequestMessage Request(HttpMethod method, string path, object? body = null)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, options: TestServer.Json);
        }

        return request;
    }

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, object? body = null) =>
        await Server.Http.SendAsync(Request(method, path, body));

    public async Task<JsonElement> CallAsync(HttpMethod method, string path, object? body = null)
    {
        var response = await SendAsync(method, path, body);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{method} {path} → {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        return response.Content.Headers.ContentLength == 0 ? default : await response.Content.ReadFromJsonAsync<JsonElement>(TestServer.Json);
    }

    public async Task<(Guid TeamId, Guid GeneralId)> CreateTeamAsync(string name = "Team")
    {
        var team = await CallAsync(HttpMethod.Post, "v1/teams", new { name });
        return (team.GetProperty("team_id").GetGuid(), team.GetProperty("general_channel_id").GetGuid());
    }

    public async Task<string> InviteAsync(Guid teamId) =>
        (await CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/invites", new { })).GetProperty("invite_code").GetString()!;

    public async Task JoinAsync(string inviteCode) => await CallAsync(HttpMethod.Post, $"v1/invites/{inviteCode}/join");

    public async Task<Guid> OpenDmAsync(params string[] users) =>
        (await CallAsync(HttpMethod.Post, "v1/dms", new { users })).GetProperty("conversation_id").GetGuid();
}
