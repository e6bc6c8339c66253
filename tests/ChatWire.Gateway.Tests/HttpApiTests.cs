using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests;

// The HTTP API (docs/http-api.md): each endpoint's success and refusal paths, as a client sees them.
public sealed class HttpApiTests
{
    [Fact]
    public async Task Signup_NewName_CreatedWithSessionToken()
    {
        await using var server = await TestServer.StartAsync();

        var response = await server.Http.PostAsJsonAsync("v1/accounts/signup", new { username = "Alice", password = "correct horse", display_name = "Alice A." }, TestServer.Json);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("alice", body.GetProperty("username").GetString());
        Assert.Equal("Alice A.", body.GetProperty("display_name").GetString());
        Assert.Equal(43, body.GetProperty("session_token").GetString()!.Length);
        Assert.True(body.GetProperty("expires_at").GetDateTime() > DateTime.UtcNow);
    }

    [Fact]
    public async Task Signup_TakenName_AlreadyExistsCaseInsensitive()
    {
        await using var server = await TestServer.StartAsync();
        await server.SignupAsync("carol");

        var response = await server.Http.PostAsJsonAsync("v1/accounts/signup", new { username = "CAROL", password = "another password" }, TestServer.Json);

        await AssertProblemAsync(response, HttpStatusCode.Conflict, 4004, "ALREADY_EXISTS");
    }

    [Theory]
    [InlineData("{\"username\":\"ab\",\"password\":\"long enough\"}")]
    [InlineData("{\"username\":\"has space\",\"password\":\"long enough\"}")]
    [InlineData("{\"username\":\"dave\",\"password\":\"short\"}")]
    [InlineData("{\"password\":\"long enough\"}")]
    [InlineData("{\"username\":\"dave\",\"password\":\"long enough\",\"display_name\":\"\"}")]
    [InlineData("{not json")]
    [InlineData("[]")]
    public async Task Signup_InvalidBody_ValidationFailedProblem(string json)
    {
        await using var server = await TestServer.StartAsync();

        var response = await server.Http.PostAsync("v1/accounts/signup", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }

    [Fact]
    public async Task Login_UnknownUserAndWrongPassword_IdenticalAnswers()
    {
        await using var server = await TestServer.StartAsync();
        await server.SignupAsync("erin", "the right password");

        var wrong = await server.Http.PostAsJsonAsync("v1/accounts/login", new { username = "erin", password = "the wrong password" }, TestServer.Json);
        var unknown = await server.Http.PostAsJsonAsync("v1/accounts/login", new { username = "nobody", password = "the wrong password" }, TestServer.Json);

        var a = await AssertProblemAsync(wrong, HttpStatusCode.Unauthorized, 2006, "INVALID_CREDENTIALS");
        var b = await AssertProblemAsync(unknown, HttpStatusCode.Unauthorized, 2006, "INVALID_CREDENTIALS");
        Assert.Equal(a.GetRawText(), b.GetRawText());
    }

    [Fact]
    public async Task Login_RightPassword_NewDeviceSession()
    {
        await using var server = await TestServer.StartAsync();
        var first = await server.SignupAsync();

        var second = await server.LoginAsync(first);

        Assert.NotEqual(first.DeviceId, second.DeviceId);
        Assert.NotEqual(first.Token, second.Token);
        var sessions = (await second.CallAsync(HttpMethod.Get, "v1/sessions")).GetProperty("sessions").EnumerateArray().ToList();
        Assert.Equal(2, sessions.Count);
        Assert.Single(sessions, s => s.GetProperty("current").GetBoolean() && s.GetProperty("device_id").GetGuid() == second.DeviceId);
    }

    [Fact]
    public async Task Login_TooManyFromOneAddress_RateLimitedWithRetryAfter()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Auth:AttemptsPerIpPerMinute"] = "3" });

        var statuses = new List<HttpResponseMessage>();
        for (var i = 0; i < 4; i++)
        {
            statuses.Add(await server.Http.PostAsJsonAsync("v1/accounts/login", new { username = $"user{i}", password = "whatever123" }, TestServer.Json));
        }

        Assert.All(statuses.Take(3), r => Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode));
        await AssertProblemAsync(statuses[3], HttpStatusCode.TooManyRequests, 3001, "RATE_LIMITED");
        Assert.NotNull(statuses[3].Headers.RetryAfter);
    }

    [Fact]
    public async Task Login_TooManyForOneAccount_RateLimitedWhileOtherAccountsPass()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Auth:AttemptsPerAccountPerMinute"] = "2" });
        var frank = await server.SignupAsync("frank");
        var grace = await server.SignupAsync("grace");

        await server.Http.PostAsJsonAsync("v1/accounts/login", new { username = "frank", password = "bad password 1" }, TestServer.Json);
        await server.Http.PostAsJsonAsync("v1/accounts/login", new { username = "frank", password = "bad password 2" }, TestServer.Json);
        var third = await server.Http.PostAsJsonAsync("v1/accounts/login", new { username = "frank", password = frank.Password }, TestServer.Json);
        var other = await server.Http.PostAsJsonAsync("v1/accounts/login", new { username = "grace", password = grace.Password }, TestServer.Json);

        await AssertProblemAsync(third, HttpStatusCode.TooManyRequests, 3001, "RATE_LIMITED");
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
    }

    [Fact]
    public async Task Login_GuessesFromOneAddress_LockOutThatAddressOnly_TheSessionAndOtherAddressesWork_UntilTheGlobalCeiling()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Auth:AttemptsPerAccountPerMinute"] = "2",
            ["Auth:AttemptsPerAccountFromAllAddressesPerMinute"] = "4",
        });
        var frank = await server.SignupAsync("frank");
        using var attacker = From(server, "127.0.0.2");
        using var elsewhere = From(server, "127.0.0.3");
        using var later = From(server, "127.0.0.4");

        await attacker.PostAsJsonAsync("v1/accounts/login", new { username = "frank", password = "bad password 1" }, TestServer.Json);
        await attacker.PostAsJsonAsync("v1/accounts/login", new { username = "frank", password = "bad password 2" }, TestServer.Json);
        var attackerAgain = await attacker.PostAsJsonAsync("v1/accounts/login", new { username = "frank", password = frank.Password }, TestServer.Json);
        var frankElsewhere = await elsewhere.PostAsJsonAsync("v1/accounts/login", new { username = "frank", password = frank.Password }, TestServer.Json);
        var me = await frank.CallAsync(HttpMethod.Get, "v1/me");

        await AssertProblemAsync(attackerAgain, HttpStatusCode.TooManyRequests, 3001, "RATE_LIMITED");
        Assert.Equal(HttpStatusCode.OK, frankElsewhere.StatusCode);
        Assert.Equal(frank.UserId, me.GetProperty("user_id").GetGuid());

        // Three attempts so far count toward the account's ceiling of 4 from everywhere (the refused one did
        // not): one more from a fresh address reaches it, and the next is refused there too.
        await later.PostAsJsonAsync("v1/accounts/login", new { username = "frank", password = "bad password 3" }, TestServer.Json);
        var overCeiling = await later.PostAsJsonAsync("v1/accounts/login", new { username = "frank", password = frank.Password }, TestServer.Json);
        await AssertProblemAsync(overCeiling, HttpStatusCode.TooManyRequests, 3001, "RATE_LIMITED");
    }

    [Fact]
    public async Task Login_ThisAddressHasTooManyHashesWaiting_ServerBusyWithRetryAfter_OthersStillGetIn()
    {
        // One hashing slot, no queue, one hash per address. The test takes that slot for the test client's
        // address (127.0.0.1) by verifying against a stored hash of 1,500 passes (seconds of work), so the
        // login below finds it taken however they are scheduled.
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Auth:MaxConcurrentHashes"] = "1",
            ["Auth:MaxQueuedHashes"] = "0",
            ["Auth:MaxHashesPerIp"] = "1",
        });
        var hasher = server.Server.App.Services.GetRequiredService<ChatWire.Gateway.Accounts.PasswordHasher>();
        var slowStoredHash = "$argon2id$v=19$m=19456,t=1500,p=1$" + Convert.ToBase64String(new byte[16]).TrimEnd('=') + "$" + Convert.ToBase64String(new byte[32]).TrimEnd('=');

        var occupying = hasher.VerifyAsync("holds the only slot", slowStoredHash, "127.0.0.1", CancellationToken.None);
        // Connection: close, so the login after it opens a connection of its own: this one would sit idle while the slow
        // hash runs, and on a busy machine that outlasts the server's 15 s keep-alive (the reused connection was closed
        // under the request once: "the response ended prematurely").
        using var busyRequest = new HttpRequestMessage(HttpMethod.Post, "v1/accounts/login")
        {
            Content = JsonContent.Create(new { username = "nobody", password = "some password" }, options: TestServer.Json),
        };
        busyRequest.Headers.ConnectionClose = true;
        var busy = await server.Http.SendAsync(busyRequest);

        // Another address is let into the queue however full it is: it waits its turn, not refused.
        var otherAddress = hasher.VerifyAsync("another address", "$argon2id$v=19$m=19456,t=2,p=1$" + Convert.ToBase64String(new byte[16]).TrimEnd('=') + "$" + Convert.ToBase64String(new byte[32]).TrimEnd('='), "192.0.2.9", CancellationToken.None);
        var stillOccupied = !occupying.IsCompleted;
        await occupying;
        Assert.False((await otherAddress).Valid);
        var after = await server.Http.PostAsJsonAsync("v1/accounts/login", new { username = "nobody", password = "some password" }, TestServer.Json);

        Assert.True(stillOccupied, "The slow verification ended before the login arrived; the test proved nothing.");
        await AssertProblemAsync(busy, HttpStatusCode.ServiceUnavailable, 3004, "SERVER_BUSY");
        Assert.NotNull(busy.Headers.RetryAfter);
        await AssertProblemAsync(after, HttpStatusCode.Unauthorized, 2006, "INVALID_CREDENTIALS");
    }

    [Fact]
    public async Task AuthenticatedCall_MissingOrBadToken_Unauthorized()
    {
        await using var server = await TestServer.StartAsync();

        var missing = await server.Http.GetAsync("v1/teams");
        var bad = new HttpRequestMessage(HttpMethod.Get, "v1/teams");
        bad.Headers.Authorization = new("Bearer", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");

        await AssertProblemAsync(missing, HttpStatusCode.Unauthorized, 2001, "NOT_AUTHENTICATED");
        await AssertProblemAsync(await server.Http.SendAsync(bad), HttpStatusCode.Unauthorized, 2003, "INVALID_TOKEN");
    }

    [Fact]
    public async Task AuthenticatedCall_IdleTokenPastExpiry_SessionExpired()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Auth:SessionIdleTimeout"] = "00:00:01",
            ["Auth:SessionMaxAge"] = "1.00:00:00",
        });
        var alice = await server.SignupAsync();
        await Task.Delay(1_500);

        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Get, "v1/teams"), HttpStatusCode.Unauthorized, 2004, "SESSION_EXPIRED");
    }

    [Fact]
    public async Task Logout_Token_NoLongerAccepted()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();

        var logout = await alice.SendAsync(HttpMethod.Post, "v1/accounts/logout");

        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Get, "v1/me"), HttpStatusCode.Unauthorized, 2005, "SESSION_REVOKED");
    }

    [Fact]
    public async Task Sessions_RevokeOtherAndAll_TokensStopWorking()
    {
        await using var server = await TestServer.StartAsync();
        var desk = await server.SignupAsync();
        var phone = await server.LoginAsync(desk);
        var tablet = await server.LoginAsync(desk);

        Assert.Equal(HttpStatusCode.NoContent, (await desk.SendAsync(HttpMethod.Delete, $"v1/sessions/{phone.DeviceId}")).StatusCode);
        await AssertProblemAsync(await phone.SendAsync(HttpMethod.Get, "v1/me"), HttpStatusCode.Unauthorized, 2005, "SESSION_REVOKED");
        await AssertProblemAsync(await desk.SendAsync(HttpMethod.Delete, $"v1/sessions/{Guid.CreateVersion7()}"), HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        Assert.Equal(HttpStatusCode.OK, (await tablet.SendAsync(HttpMethod.Get, "v1/me")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await desk.SendAsync(HttpMethod.Delete, "v1/sessions")).StatusCode);
        await AssertProblemAsync(await tablet.SendAsync(HttpMethod.Get, "v1/me"), HttpStatusCode.Unauthorized, 2005, "SESSION_REVOKED");
        await AssertProblemAsync(await desk.SendAsync(HttpMethod.Get, "v1/me"), HttpStatusCode.Unauthorized, 2005, "SESSION_REVOKED");
    }

    [Fact]
    public async Task Sessions_RevokeAnotherUsersDevice_NotFound()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();

        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Delete, $"v1/sessions/{bob.DeviceId}"), HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        Assert.Equal(HttpStatusCode.OK, (await bob.SendAsync(HttpMethod.Get, "v1/me")).StatusCode);
    }

    [Fact]
    public async Task ChangePassword_RevokesEveryOtherSessionAndKeepsThisOne()
    {
        await using var server = await TestServer.StartAsync();
        var desk = await server.SignupAsync(password: "old password 1");
        var phone = await server.LoginAsync(desk);

        var wrong = await desk.SendAsync(HttpMethod.Post, "v1/accounts/password", new { current_password = "not it at all", new_password = "new password 2" });
        var changed = await desk.SendAsync(HttpMethod.Post, "v1/accounts/password", new { current_password = "old password 1", new_password = "new password 2" });

        await AssertProblemAsync(wrong, HttpStatusCode.Unauthorized, 2006, "INVALID_CREDENTIALS");
        Assert.Equal(HttpStatusCode.NoContent, changed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await desk.SendAsync(HttpMethod.Get, "v1/me")).StatusCode);
        await AssertProblemAsync(await phone.SendAsync(HttpMethod.Get, "v1/me"), HttpStatusCode.Unauthorized, 2005, "SESSION_REVOKED");
        var relogin = await server.Http.PostAsJsonAsync("v1/accounts/login", new { username = desk.Username, password = "new password 2" }, TestServer.Json);
        Assert.Equal(HttpStatusCode.OK, relogin.StatusCode);
    }

    [Fact]
    public async Task ServerInfo_ListsBoundEndpointsAndLimits()
    {
        await using var server = await TestServer.StartAsync();

        var info = await server.Http.GetFromJsonAsync<JsonElement>("v1/server-info");

        Assert.Equal(server.TcpEndPoint.Port, info.GetProperty("endpoints").GetProperty("tcp").GetProperty("port").GetInt32());
        Assert.Equal(server.TlsEndPoint.Port, info.GetProperty("endpoints").GetProperty("tls").GetProperty("port").GetInt32());
        Assert.Equal(server.NoiseEndPoint.Port, info.GetProperty("endpoints").GetProperty("noise").GetProperty("port").GetInt32());
        Assert.Equal(Convert.ToHexStringLower(server.NoisePublicKey), info.GetProperty("noise_static_public_key").GetString());
        Assert.Equal([1], info.GetProperty("protocol_versions").EnumerateArray().Select(v => v.GetInt32()));
        Assert.Equal(262_144, info.GetProperty("limits").GetProperty("max_frame_length").GetInt32());

        // No push provider is configured by default: a client learns not to register one.
        Assert.Equal(0, info.GetProperty("push_providers").GetArrayLength());
    }

    [Fact]
    public async Task ServerInfo_AnHttp10RequestWithoutHost_GetsTheAddressItReached()
    {
        await using var server = await TestServer.StartAsync();
        using var socket = new System.Net.Sockets.TcpClient();
        await socket.ConnectAsync(System.Net.IPAddress.Loopback, server.Http.BaseAddress!.Port);
        var stream = socket.GetStream();

        await stream.WriteAsync("GET /v1/server-info HTTP/1.0\r\n\r\n"u8.ToArray());
        var answer = await new StreamReader(stream).ReadToEndAsync();

        Assert.StartsWith("HTTP/1.1 200", answer, StringComparison.Ordinal);
        var info = JsonDocument.Parse(answer[answer.IndexOf("\r\n\r\n", StringComparison.Ordinal)..]).RootElement;
        Assert.Equal("127.0.0.1", info.GetProperty("endpoints").GetProperty("tcp").GetProperty("host").GetString());
    }

    [Fact]
    public async Task Metrics_OnlyOnManagementListener()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        await using (await RawClient.ConnectAuthenticatedAsync(alice))
        {
            var text = await server.Management.GetStringAsync("metrics");
            Assert.Contains("chatwire_connections{state=\"authenticated\"} 1", text);
            Assert.Contains("chatwire_frames_received_total{opcode=\"AUTH\"} 1", text);
            Assert.Contains("chatwire_send_duration_seconds", text);
        }

        Assert.Equal(HttpStatusCode.OK, (await server.Management.GetAsync("health")).StatusCode);
        await AssertProblemAsync(await server.Http.GetAsync("metrics"), HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        await AssertProblemAsync(await server.Http.GetAsync("health"), HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        await AssertProblemAsync(await server.Management.GetAsync("v1/server-info"), HttpStatusCode.NotFound, 4002, "NOT_FOUND");
    }

    [Fact]
    public async Task OpenApi_DocumentListsTheApi()
    {
        await using var server = await TestServer.StartAsync();

        var document = await server.Http.GetFromJsonAsync<JsonElement>("openapi/v1.json");

        var paths = document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("/v1/accounts/signup", paths);
        Assert.Contains("/v1/teams/{teamId}/channels", paths);
        Assert.Contains("/v1/dms", paths);
    }

    [Fact]
    public async Task OpenApi_LimitsAreTheOnesTheServerEnforces()
    {
        await using var server = await TestServer.StartAsync();
        var schemas = (await server.Http.GetFromJsonAsync<JsonElement>("openapi/v1.json")).GetProperty("components").GetProperty("schemas");
        var signup = schemas.GetProperty("SignupRequest").GetProperty("properties");
        var username = signup.GetProperty("username");
        var displayName = signup.GetProperty("display_name");

        // The document states the validator's rules...
        Assert.Equal("^[a-z0-9._-]{3,32}$", username.GetProperty("pattern").GetString());
        Assert.Equal(32, username.GetProperty("maxLength").GetInt32());
        Assert.Equal(64, displayName.GetProperty("maxLength").GetInt32());
        Assert.Equal(["admin", "member", "owner"], schemas.GetProperty("SetRoleRequest").GetProperty("properties").GetProperty("role").GetProperty("enum").EnumerateArray().Select(e => e.GetString()).Order());

        // ... and the server holds to them: a value of exactly the documented length is taken, one character more refused.
        var longestName = new string('u', username.GetProperty("maxLength").GetInt32());
        var longestDisplay = new string('x', displayName.GetProperty("maxLength").GetInt32());
        Assert.Equal(HttpStatusCode.Created, (await SignupAsync(longestName, longestDisplay)).StatusCode);
        await AssertProblemAsync(await SignupAsync("limits-b", longestDisplay + "x"), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(await SignupAsync(longestName + "u", "Limits C"), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        Assert.Equal(HttpStatusCode.Created, (await SignupAsync("limits-d", "Limits D")).StatusCode);

        // No field is left unbounded: a string has a length or its values, an integer its range, a list its size.
        foreach (var schema in schemas.EnumerateObject())
        {
            AssertBounded(schema.Name, schema.Value);
        }

        Task<HttpResponseMessage> SignupAsync(string name, string display) =>
            server.Http.PostAsJsonAsync("v1/accounts/signup", new { username = name, password = "correct horse battery", display_name = display }, TestServer.Json);

        static void AssertBounded(string path, JsonElement schema)
        {
            var types = schema.TryGetProperty("type", out var type)
                ? type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString()).ToList() : [type.GetString()]
                : [];
            Assert.True(!types.Contains("string") || schema.TryGetProperty("maxLength", out _) || schema.TryGetProperty("enum", out _), $"{path}: a string without maxLength or enum");
            Assert.True(!types.Contains("integer") || (schema.TryGetProperty("minimum", out _) && schema.TryGetProperty("maximum", out _)), $"{path}: an integer without minimum and maximum");
            Assert.True(!types.Contains("array") || schema.TryGetProperty("maxItems", out _), $"{path}: a list without maxItems");
            foreach (var (name, child) in new[] { "items", "additionalProperties" }.Where(n => schema.TryGetProperty(n, out var c) && c.ValueKind == JsonValueKind.Object).Select(n => (n, schema.GetProperty(n))))
            {
                AssertBounded($"{path}.{name}", child);
            }

            if (schema.TryGetProperty("properties", out var properties))
            {
                foreach (var property in properties.EnumerateObject())
                {
                    AssertBounded($"{path}.{property.Name}", property.Value);
                }
            }
        }
    }

    [Fact]
    public async Task UnknownPath_NotFoundForCallersUnauthorizedForStrangers()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();

        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Get, "v1/nothing-here"), HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        await AssertProblemAsync(await server.Http.GetAsync("v1/nothing-here"), HttpStatusCode.Unauthorized, 2001, "NOT_AUTHENTICATED");
        await AssertProblemAsync(await server.Http.GetAsync("nothing-here"), HttpStatusCode.NotFound, 4002, "NOT_FOUND");
    }

    [Fact]
    public async Task AuthenticatedCall_NoTokenAndBadBody_UnauthorizedBeforeValidation()
    {
        await using var server = await TestServer.StartAsync();

        var response = await server.Http.PostAsync("v1/teams", new StringContent("{not json", System.Text.Encoding.UTF8, "application/json"));

        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, 2001, "NOT_AUTHENTICATED");
    }

    internal static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, int code, string name)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"Expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal(code, problem.GetProperty("code").GetInt32());
        Assert.Equal(name, problem.GetProperty("name").GetString());
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.Equal("urn:chatwire:error:" + name, problem.GetProperty("type").GetString());
        return problem;
    }

    /// <summary>An HTTP client to the server's API whose connections come from <paramref name="source"/> (another loopback address).</summary>
    private static HttpClient From(TestServer server, string source) =>
        new(new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Parse(source), 0));
                await socket.ConnectAsync(context.DnsEndPoint, ct);
                return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
            },
        })
        {
            BaseAddress = server.Http.BaseAddress,
        };
}
