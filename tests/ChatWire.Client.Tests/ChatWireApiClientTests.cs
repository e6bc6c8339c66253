using System.Net;
using System.Text;
using System.Text.Json;
using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Protocol;

namespace ChatWire.Client.Tests;

public sealed class ChatWireApiClientTests
{
    private static readonly Uri Base = new("http://chatwire.test:7480");

    [Fact]
    public async Task Call_ProblemJson_ThrowsWithCodeNameStatusAndDetail()
    {
        var http = new CannedHttpHandler().Problem(HttpMethod.Get, "/v1/teams", HttpStatusCode.Forbidden, 4001, "NOT_A_MEMBER", "You are not a member of this team.");
        using var api = new ChatWireApiClient(Base, http) { SessionToken = "t" };

        var ex = await Assert.ThrowsAsync<ChatWireException>(() => api.ListTeamsAsync());

        Assert.Equal(ErrorCode.NotAMember, ex.Code);
        Assert.Equal("NOT_A_MEMBER", ex.Name);
        Assert.Equal(403, ex.HttpStatus);
        Assert.Equal("You are not a member of this team.", ex.Message);
        Assert.Null(ex.RetryAfter);
    }

    [Fact]
    public async Task Call_RateLimitedWithRetryAfterSeconds_CarriesRetryAfter()
    {
        var http = new CannedHttpHandler().Answer(HttpMethod.Post, "/v1/accounts/login", () =>
        {
            var response = new HttpResponseMessage(HttpStatusCode.TooManyRequests)
            {
                Content = new StringContent("""{"status":429,"detail":"Slow down.","code":3001,"name":"RATE_LIMITED"}""", Encoding.UTF8, "application/problem+json"),
            };
            response.Headers.Add("Retry-After", "7");
            return response;
        });
        using var api = new ChatWireApiClient(Base, http);

        var ex = await Assert.ThrowsAsync<ChatWireException>(() => api.LoginAsync(new LoginRequest("alice", "password1")));

        Assert.Equal(ErrorCode.RateLimited, ex.Code);
        Assert.Equal(429, ex.HttpStatus);
        Assert.Equal(TimeSpan.FromSeconds(7), ex.RetryAfter);
        Assert.Equal("Slow down.", ex.Message);
    }

    [Fact]
    public async Task Call_ServerBusyWithRetryAfterDate_CarriesPositiveRetryAfter()
    {
        var http = new CannedHttpHandler().Answer(HttpMethod.Post, "/v1/accounts/signup", () =>
        {
            var response = new HttpResponseMessage(HttpStatusCode.ServiceUnavailable)
            {
                Content = new StringContent("""{"detail":"Busy.","code":3004,"name":"SERVER_BUSY"}""", Encoding.UTF8, "application/problem+json"),
            };
            response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(DateTimeOffset.UtcNow.AddMinutes(2));
            return response;
        });
        using var api = new ChatWireApiClient(Base, http);

        var ex = await Assert.ThrowsAsync<ChatWireException>(() => api.SignupAsync(new SignupRequest("alice", "password1")));

        Assert.Equal(ErrorCode.ServerBusy, ex.Code);
        Assert.NotNull(ex.RetryAfter);
        Assert.InRange(ex.RetryAfter.Value, TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2));
    }

    [Fact]
    public async Task Call_NonJsonBody_MapsStatusAndQuotesBody()
    {
        var http = new CannedHttpHandler().Answer(HttpMethod.Get, "/v1/me", () => new HttpResponseMessage(HttpStatusCode.BadGateway)
        {
            Content = new StringContent("<html>upstream down</html>", Encoding.UTF8, "text/html"),
        });
        using var api = new ChatWireApiClient(Base, http) { SessionToken = "t" };

        var ex = await Assert.ThrowsAsync<ChatWireException>(() => api.GetMeAsync());

        Assert.Equal(ErrorCode.InternalError, ex.Code);
        Assert.Equal("INTERNAL_ERROR", ex.Name);
        Assert.Equal(502, ex.HttpStatus);
        Assert.Contains("502", ex.Message, StringComparison.Ordinal);
        Assert.Contains("upstream down", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(HttpStatusCode.Unauthorized, ErrorCode.NotAuthenticated)]
    [InlineData(HttpStatusCode.NotFound, ErrorCode.NotFound)]
    [InlineData(HttpStatusCode.Conflict, ErrorCode.AlreadyExists)]
    [InlineData(HttpStatusCode.Gone, ErrorCode.InviteInvalid)]
    [InlineData(HttpStatusCode.TooManyRequests, ErrorCode.RateLimited)]
    public async Task Call_EmptyErrorBody_CodeFollowsStatus(HttpStatusCode status, ErrorCode expected)
    {
        var http = new CannedHttpHandler().Answer(HttpMethod.Get, "/v1/me", () => new HttpResponseMessage(status));
        using var api = new ChatWireApiClient(Base, http) { SessionToken = "t" };

        var ex = await Assert.ThrowsAsync<ChatWireException>(() => api.GetMeAsync());

        Assert.Equal(expected, ex.Code);
        Assert.Equal((int)status, ex.HttpStatus);
    }

    [Fact]
    public async Task Call_ProblemJsonWithUnknownCode_KeepsNumberAndName()
    {
        var http = new CannedHttpHandler().Problem(HttpMethod.Get, "/v1/me", HttpStatusCode.BadRequest, 4999, "SOMETHING_NEW", "A newer server's code.");
        using var api = new ChatWireApiClient(Base, http) { SessionToken = "t" };

        var ex = await Assert.ThrowsAsync<ChatWireException>(() => api.GetMeAsync());

        Assert.Equal((ErrorCode)4999, ex.Code);
        Assert.Equal("SOMETHING_NEW", ex.Name);
    }

    [Fact]
    public async Task Login_KeepsToken_AndSendsItAsBearerButNotToServerInfo()
    {
        var http = new CannedHttpHandler()
            .Json(HttpMethod.Post, "/v1/accounts/login", """{"user_id":"0190a0b2-0000-7000-8000-000000000001","username":"alice","display_name":"Alice","device_id":"0190a0b2-0000-7000-8000-0000000000d1","session_token":"tok","expires_at":"2026-11-25T16:20:00.000Z"}""")
            .Json(HttpMethod.Get, "/v1/me", """{"user_id":"0190a0b2-0000-7000-8000-000000000001","username":"alice","display_name":"Alice","device_id":"0190a0b2-0000-7000-8000-0000000000d1"}""")
            .Json(HttpMethod.Get, "/v1/server-info", ServerInfoJson);
        using var api = new ChatWireApiClient(Base, http);

        var result = await api.LoginAsync(new LoginRequest("alice", "password1", "laptop"));
        var me = await api.GetMeAsync();
        await api.GetServerInfoAsync();

        Assert.Equal("tok", api.SessionToken);
        Assert.Equal(result.UserId, me.UserId);
        Assert.Null(http.Requests[0].Authorization);
        Assert.Equal("Bearer tok", http.Requests[1].Authorization);
        Assert.Null(http.Requests[2].Authorization);
        using var body = JsonDocument.Parse(http.Requests[0].Body!);
        Assert.Equal("laptop", body.RootElement.GetProperty("device_name").GetString());
        Assert.Equal("alice", body.RootElement.GetProperty("username").GetString());
    }

    [Fact]
    public async Task Signup_OmitsAbsentOptionalFields()
    {
        var http = new CannedHttpHandler().Json(
            HttpMethod.Post,
            "/v1/accounts/signup",
            """{"user_id":"0190a0b2-0000-7000-8000-000000000001","username":"alice","display_name":"alice","device_id":"0190a0b2-0000-7000-8000-0000000000d1","session_token":"tok","expires_at":null}""",
            HttpStatusCode.Created);
        using var api = new ChatWireApiClient(Base, http);

        await api.SignupAsync(new SignupRequest("alice", "password1", DisplayName: "Alice"));

        using var body = JsonDocument.Parse(http.Requests[0].Body!);
        Assert.Equal("Alice", body.RootElement.GetProperty("display_name").GetString());
        Assert.False(body.RootElement.TryGetProperty("device_name", out _));
    }

    [Fact]
    public async Task GetServerInfo_ParsesEndpointsAndLimits()
    {
        var http = new CannedHttpHandler().Json(HttpMethod.Get, "/v1/server-info", ServerInfoJson);
        using var api = new ChatWireApiClient(Base, http);

        var info = await api.GetServerInfoAsync();

        Assert.Equal(new ServerEndpoint("127.0.0.1", 7400), info.Endpoints.Tcp);
        Assert.Equal(new ServerEndpoint("127.0.0.1", 7443), info.Endpoints.Tls);
        Assert.Null(info.Endpoints.Noise);
        Assert.Equal(200, info.Limits.MaxHistoryLimit);
        Assert.Equal([1], info.ProtocolVersions);
    }

    [Fact]
    public async Task ListMembers_PrefixAndLimit_GoInTheQuery()
    {
        var teamId = Guid.Parse("0190a0b2-0000-7000-8000-0000000000f1");
        var http = new CannedHttpHandler().Json(HttpMethod.Get, $"/v1/teams/{teamId}/members?prefix=al%20b&limit=5", """{"members":[]}""");
        using var api = new ChatWireApiClient(Base, http) { SessionToken = "t" };

        var members = await api.ListMembersAsync(teamId, "al b", 5);

        Assert.Empty(members);
        Assert.Single(http.Requests);
    }

    [Fact]
    public void FromServerInfo_ChoosesTcp_UnlessTlsPreferredOrTheOnlyOne()
    {
        var info = JsonSerializer.Deserialize<ServerInfo>(ServerInfoJson, Internal.ApiJson.Options)!;
        var deviceId = Guid.CreateVersion7();

        var plain = ChatWireConnectionOptions.FromServerInfo(info, "tok", deviceId);
        var secure = ChatWireConnectionOptions.FromServerInfo(info, "tok", deviceId, preferTls: true);
        var tlsOnly = ChatWireConnectionOptions.FromServerInfo(info with { Endpoints = info.Endpoints with { Tcp = null } }, "tok", deviceId);

        Assert.Equal((7400, false), (plain.Port, plain.UseTls));
        Assert.Equal((7443, true), (secure.Port, secure.UseTls));
        Assert.Equal((7443, true), (tlsOnly.Port, tlsOnly.UseTls));
        Assert.Equal(deviceId, plain.DeviceId);
        Assert.Throws<InvalidOperationException>(() =>
            ChatWireConnectionOptions.FromServerInfo(info with { Endpoints = new ServerEndpoints(null, null, null) }, "tok", deviceId));
    }

    internal const string ServerInfoJson = """
        { "server": "chatwire", "version": "0.1.0", "protocol_versions": [1],
          "endpoints": { "tcp": { "host": "127.0.0.1", "port": 7400 },
                         "tls": { "host": "127.0.0.1", "port": 7443 },
                         "noise": null },
          "noise_static_public_key": null,
          "limits": { "max_frame_length": 262144, "max_content_length": 258048,
                      "max_history_limit": 200, "heartbeat_interval_ms": 30000, "auth_deadline_ms": 10000 } }
        """;
}
