using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Testing;
using Microsoft.Extensions.DependencyInjection;
using static ChatWire.Gateway.Tests.HttpApiTests;

namespace ChatWire.Gateway.Tests;

// How the HTTP edge answers what routing and binding refuse (docs/http-api.md, "Conventions"): always
// problem+json with a code, always our own sentence, never the framework's.
public sealed class HttpEdgeTests
{
    [Fact]
    public async Task Body_NotJson_UnsupportedMediaTypeWithAHint()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();

        var response = await alice.SendRawAsync(HttpMethod.Post, "v1/teams", new StringContent("name=Acme", Encoding.UTF8, "application/x-www-form-urlencoded"));

        var problem = await AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType, 4009, "UNSUPPORTED_MEDIA_TYPE");
        Assert.Contains("application/json", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    // JSON bodies are UTF-8; a charset the reader has no decoder for was a 500 (empty, unknown, UTF-7).
    [Theory]
    [InlineData("application/json; charset=bogus")]
    [InlineData("application/json; charset=")]
    [InlineData("application/json; charset=utf-7")]
    [InlineData("application/merge-patch+json; charset=utf-16")]
    [InlineData("application/json; charset=utf-8; charset=latin1")]
    public async Task Body_JsonInACharsetOtherThanUtf8_UnsupportedMediaType_AfterTheSessionCheck(string contentType)
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        HttpContent Body()
        {
            var content = new ByteArrayContent("{\"name\":\"Acme\"}"u8.ToArray());
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            return content;
        }

        var problem = await AssertProblemAsync(await alice.SendRawAsync(HttpMethod.Post, "v1/teams", Body()), HttpStatusCode.UnsupportedMediaType, 4009, "UNSUPPORTED_MEDIA_TYPE");
        var anonymous = await server.Http.PostAsync("v1/teams", Body());

        Assert.Contains("UTF-8", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await AssertProblemAsync(anonymous, HttpStatusCode.Unauthorized, 2001, "NOT_AUTHENTICATED");
    }

    [Theory]
    [InlineData("application/json; charset=\"utf-8\"")]
    [InlineData("application/json; charset=UTF8")]
    public async Task Body_Utf8CharsetQuotedOrNot_Accepted(string contentType)
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var content = new ByteArrayContent("{\"name\":\"Acme\"}"u8.ToArray());
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);

        Assert.Equal(HttpStatusCode.Created, (await alice.SendRawAsync(HttpMethod.Post, "v1/teams", content)).StatusCode);
    }

    // JSON is UTF-8 throughout: a malformed byte sequence is refused wherever it is, in a field the endpoint reads,
    // in one it skips, or between fields, though the framework's reader decodes only the strings it reads.
    [Theory]
    [InlineData("{\"name\":\"Acme \xFF\"}")]
    [InlineData("{\"name\":\"Acme\",\"unknown\":\"\xC3\x28\"}")]
    [InlineData("{\"name\":\"Acme\",\"unknown\":[\"\xED\xA0\x80\"]}")]
    [InlineData("{\"name\":\"Acme\",\"\xF8\x88\x80\x80\x80\":1}")]
    public async Task Body_InvalidUtf8AnywhereInIt_ValidationFailed_AndNothingDone(string latin1Body)
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var content = new ByteArrayContent(Encoding.Latin1.GetBytes(latin1Body));
        content.Headers.TryAddWithoutValidation("Content-Type", "application/json");

        var problem = await AssertProblemAsync(await alice.SendRawAsync(HttpMethod.Post, "v1/teams", content), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        var teams = await alice.CallAsync(HttpMethod.Get, "v1/teams");

        Assert.Contains("JSON object", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Empty(teams.GetProperty("teams").EnumerateArray());
    }

    // JSON can spell half of a UTF-16 surrogate pair on its own, which is no character: the body is refused as unreadable.
    [Theory]
    [InlineData("v1/teams", "{\"name\":\"Acme \\ud800\"}")]
    [InlineData("v1/teams", "{\"name\":\"\\udc00Acme\"}")]
    [InlineData("v1/accounts/signup", "{\"username\":\"zoe\",\"password\":\"plum orchard \\ud83d\"}")]
    public async Task Body_LoneSurrogateEscape_ValidationFailed(string path, string body)
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();

        await AssertProblemAsync(
            await alice.SendRawAsync(HttpMethod.Post, path, new StringContent(body, Encoding.UTF8, "application/json")),
            HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }

    // Noncharacters (U+FFFE, U+FDD0, …) are not for interchange, and the platform's normalizer throws on some of them.
    [Theory]
    [InlineData("v1/teams", "{\"name\":\"\\uffff\\ufffe\"}", "name")]
    [InlineData("v1/teams", "{\"name\":\"ab\\ufffe\"}", "name")]
    [InlineData("v1/accounts/signup", "{\"username\":\"zoe\",\"password\":\"plum orchard 42\",\"device_name\":\"ab\\ufdd0\"}", "device_name")]
    public async Task Body_ReadableNameWithANoncharacter_ValidationFailedNamingTheField(string path, string body, string field)
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();

        var problem = await AssertProblemAsync(
            await alice.SendRawAsync(HttpMethod.Post, path, new StringContent(body, Encoding.UTF8, "application/json")),
            HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    // Kestrel resolves dot segments, percent-encoded ones too, before routing: DELETE …/invites/%2e%2e would
    // delete the team. Such a target is refused before any route runs.
    [Theory]
    [InlineData("DELETE", "/v1/teams/{0}/invites/%2e%2e")]
    [InlineData("DELETE", "/v1/teams/{0}/invites/%2E.")]
    [InlineData("GET", "/v1/teams/{0}/channels/../../../me")]
    [InlineData("GET", "/v1/./me")]
    public async Task Path_DotSegment_ValidationFailed_NothingDone(string method, string target)
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();

        var (status, body) = await RawRequestAsync(server, $"{method} {string.Format(System.Globalization.CultureInfo.InvariantCulture, target, teamId)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {alice.Token}\r\nConnection: close\r\n\r\n");

        Assert.Equal(400, status);
        Assert.Contains("\"VALIDATION_FAILED\"", body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await alice.SendAsync(HttpMethod.Get, $"v1/teams/{teamId}/channels")).StatusCode);
    }

    [Fact]
    public async Task PathId_WithSpacesAround_ValidationFailed()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();

        var problem = await AssertProblemAsync(await alice.SendAsync(HttpMethod.Patch, $"v1/teams/%20{teamId}%20", new { name = "Renamed" }), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");

        Assert.True(problem.GetProperty("errors").TryGetProperty("team_id", out _), problem.ToString());
    }

    // A field named twice is refused: parsers disagree on which one wins.
    [Theory]
    [InlineData("{\"name\":\"Acme\",\"name\":\"Blue\"}")]
    [InlineData("{\"name\":\"Acme\",\"name\":null}")]
    public async Task Body_AFieldNamedTwice_ValidationFailed_AndNothingCreated(string json)
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();

        var response = await alice.SendRawAsync(HttpMethod.Post, "v1/teams", new StringContent(json, Encoding.UTF8, "application/json"));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        Assert.Empty((await alice.CallAsync(HttpMethod.Get, "v1/teams")).GetProperty("teams").EnumerateArray());
    }

    // A value of the wrong type or out of its type's range names its field, as a failed rule does.
    [Theory]
    [InlineData("v1/teams", "{\"name\":12}", "name")]
    [InlineData("v1/teams", "{\"name\":{\"a\":1}}", "name")]
    [InlineData("v1/teams/{team}/invites", "{\"expires_in_seconds\":99999999999999999999}", "expires_in_seconds")]
    [InlineData("v1/teams/{team}/invites", "{\"expires_in_seconds\":2147483648}", "expires_in_seconds")]
    public async Task Body_AValueOfTheWrongTypeOrRange_ValidationFailedNamingTheField(string path, string json, string field)
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();

        var response = await alice.SendRawAsync(HttpMethod.Post, path.Replace("{team}", teamId.ToString(), StringComparison.Ordinal), new StringContent(json, Encoding.UTF8, "application/json"));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    // A body that is not JSON at all fails as a whole, without naming a field, wherever the reader stopped.
    [Theory]
    [InlineData("{\"name\":")]
    [InlineData("{\"name\":\"Acme\"")]
    [InlineData("{\"name\":tru}")]
    [InlineData("{\"name\":\"Acme\",}")]
    public async Task Body_NotJson_ValidationFailedWithoutErrors(string json)
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();

        var response = await alice.SendRawAsync(HttpMethod.Post, "v1/teams", new StringContent(json, Encoding.UTF8, "application/json"));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        Assert.False(problem.TryGetProperty("errors", out _), problem.ToString());
    }

    // Base64 is the standard alphabet with padding and nothing else: the runtime's decoder would skip white space.
    [Theory]
    [InlineData(" {0}")]
    [InlineData("{0}\n")]
    [InlineData("{1} {2}")]
    public async Task KeyField_Base64WithWhiteSpace_ValidationFailedNamingIt(string shape)
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var key = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var text = string.Format(System.Globalization.CultureInfo.InvariantCulture, shape, key, key[..20], key[20..]);

        var problem = await AssertProblemAsync(await alice.SendAsync(HttpMethod.Put, "v1/keys/account", new { signing_key = text }), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");

        Assert.True(problem.GetProperty("errors").TryGetProperty("signing_key", out _), problem.ToString());
        Assert.Equal(HttpStatusCode.OK, (await alice.SendAsync(HttpMethod.Put, "v1/keys/account", new { signing_key = key })).StatusCode);
    }

    [Fact]
    public async Task UserIds_AnEmptyEntry_ValidationFailed()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();

        foreach (var ids in new[] { $"{alice.UserId},", $",{alice.UserId}", $"{alice.UserId},,{alice.UserId}", "," })
        {
            await AssertProblemAsync(await alice.SendAsync(HttpMethod.Get, $"v1/users?ids={ids}"), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        }

        Assert.Equal(HttpStatusCode.OK, (await alice.SendAsync(HttpMethod.Get, $"v1/users?ids={alice.UserId}")).StatusCode);
    }

    [Fact]
    public async Task UserIds_WithSpacesAround_ValidationFailed_InAQueryOrABody()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));

        var query = await alice.SendAsync(HttpMethod.Get, $"v1/users?ids={alice.UserId},%20{bob.UserId}");
        var dm = await alice.SendAsync(HttpMethod.Post, "v1/dms", new { users = new[] { $" {bob.UserId} " } });

        await AssertProblemAsync(query, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(dm, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        Assert.Equal(HttpStatusCode.OK, (await alice.SendAsync(HttpMethod.Post, "v1/dms", new { users = new[] { bob.UserId.ToString() } })).StatusCode);
    }

    // An entry no username or id could be is refused before any lookup, and never quoted back at length.
    [Fact]
    public async Task DirectUsers_EntryLongerThan64_ValidationFailed()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();

        var dm = await alice.SendAsync(HttpMethod.Post, "v1/dms", new { users = new[] { new string('b', 65) } });
        var sixtyFour = await alice.SendAsync(HttpMethod.Post, "v1/dms", new { users = new[] { new string('b', 64) } });

        var problem = await AssertProblemAsync(dm, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        Assert.DoesNotContain(new string('b', 65), problem.GetProperty("detail").GetString()!, StringComparison.Ordinal);
        await AssertProblemAsync(sixtyFour, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
    }

    // Characters are code points: 33 emoji are 33 characters, within login's 64 (they were counted as 66 UTF-16 units).
    [Fact]
    public async Task Login_UsernameOfEmoji_CountedInCharacters()
    {
        await using var server = await TestServer.StartAsync();

        var within = await server.Http.PostAsJsonAsync("v1/accounts/login", new { username = string.Concat(Enumerable.Repeat("😀", 33)), password = "whatever-pw" });
        var over = await server.Http.PostAsJsonAsync("v1/accounts/login", new { username = string.Concat(Enumerable.Repeat("😀", 65)), password = "whatever-pw" });

        await AssertProblemAsync(within, HttpStatusCode.Unauthorized, 2006, "INVALID_CREDENTIALS");
        await AssertProblemAsync(over, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }

    // A team-mate outside a private channel gets word for word the answer a channel id that does not exist gets.
    [Fact]
    public async Task PrivateChannel_NotAMember_SameAnswerAsNoChannel()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        var secret = (await alice.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "secret", @private = true })).GetProperty("conversation_id").GetGuid();

        foreach (var (method, suffix) in new[] { (HttpMethod.Get, "/members"), (HttpMethod.Post, "/leave") })
        {
            var existing = await AssertProblemAsync(await bob.SendAsync(method, $"v1/channels/{secret}{suffix}"), HttpStatusCode.Forbidden, 4001, "NOT_A_MEMBER");
            var none = await AssertProblemAsync(await bob.SendAsync(method, $"v1/channels/{Guid.CreateVersion7()}{suffix}"), HttpStatusCode.Forbidden, 4001, "NOT_A_MEMBER");
            Assert.Equal(none.GetProperty("detail").GetString(), existing.GetProperty("detail").GetString());
        }
    }

    // The body limit holds for endpoints that take no body too: logout with 70 KB is refused, and does nothing.
    [Fact]
    public async Task Body_OverTheLimit_OnAnEndpointWithoutABody_413_NothingDone()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();

        var response = await alice.SendRawAsync(HttpMethod.Post, "v1/accounts/logout", new StringContent(new string(' ', 70_000), Encoding.UTF8, "application/json"));

        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, 4007, "VALIDATION_FAILED");
        Assert.Equal(HttpStatusCode.OK, (await alice.SendAsync(HttpMethod.Get, "v1/me")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await alice.SendRawAsync(HttpMethod.Post, "v1/accounts/logout", new StringContent("{}", Encoding.UTF8, "application/json"))).StatusCode);
    }

    // docs/security.md: a body sent slowly holds its request, and its connection, only until the body deadline, and an
    // account holds only so many requests at once. Here the cap is 2 and the deadline 10 s; a body that stalls is cut off
    // sooner by the server's minimum body rate (240 bytes a second after 5 s), with the same answer.
    [Fact]
    public async Task SlowBodies_AccountCappedInProgress_ThenEachRefusedAtTheDeadline_ConnectionClosed()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:ApiRequestsInProgressPerUser"] = "2",
            ["Gateway:HttpRequestBodyTimeoutMs"] = "10000",
        });
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();

        // Two team creations whose bodies stop after 9 of their 40 bytes.
        var inProgress = server.Server.App.Services.GetRequiredService<Api.AccountRequestsInProgress>();
        var held = new[] { await StartSlowBodyAsync(server, alice, inProgress, 1), await StartSlowBodyAsync(server, alice, inProgress, 2) };
        var third = await alice.SendAsync(HttpMethod.Get, "v1/me");
        var others = await bob.SendAsync(HttpMethod.Get, "v1/me");
        var answers = await Task.WhenAll(held.Select(ReadAnswerAsync));
        var afterwards = await alice.SendAsync(HttpMethod.Get, "v1/me");

        await AssertProblemAsync(third, HttpStatusCode.TooManyRequests, 3001, "RATE_LIMITED");
        Assert.Equal("1", third.Headers.RetryAfter?.Delta?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(HttpStatusCode.OK, others.StatusCode);
        Assert.All(answers, answer =>
        {
            Assert.StartsWith("HTTP/1.1 408 ", answer, StringComparison.Ordinal);
            Assert.Contains("\"name\":\"FRAME_TIMEOUT\"", answer, StringComparison.Ordinal);
            Assert.Contains("Connection: close", answer, StringComparison.OrdinalIgnoreCase);
        });
        Assert.Equal(HttpStatusCode.OK, afterwards.StatusCode);
        Assert.Equal(0, (await alice.CallAsync(HttpMethod.Get, "v1/teams")).GetProperty("teams").GetArrayLength());
    }

    // docs/security.md: a request held open by a slow body does not act once its session was revoked meanwhile (the
    // session is checked again once a body that took a while has arrived). Found by a hostile-traffic review: a held
    // request created a team after the account's deletion.
    [Fact]
    public async Task SlowBody_SessionRevokedWhileItArrives_Refused_NothingDone()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var laptop = await server.LoginAsync(alice, "laptop");
        var inProgress = server.Server.App.Services.GetRequiredService<Api.AccountRequestsInProgress>();

        // Bound to create a team, from the phone, whose session the laptop then ends.
        using var held = await StartSlowBodyAsync(server, alice, inProgress, 1);
        await Task.Delay(Api.RequestLimits.SlowBody);
        Assert.Equal(HttpStatusCode.NoContent, (await laptop.SendAsync(HttpMethod.Delete, $"v1/sessions/{alice.DeviceId}")).StatusCode);
        await held.GetStream().WriteAsync(Encoding.ASCII.GetBytes("\"Acme\"}" + new string(' ', 40 - 8 - 7)));
        var answer = await ReadAnswerAsync(held);

        Assert.StartsWith("HTTP/1.1 401 ", answer, StringComparison.Ordinal);
        Assert.Contains("\"name\":\"SESSION_REVOKED\"", answer, StringComparison.Ordinal);
        Assert.Equal(0, (await laptop.CallAsync(HttpMethod.Get, "v1/teams")).GetProperty("teams").GetArrayLength());
    }

    // A POST whose headers are sent whole and whose body stops part way; the socket stays open until its answer is read.
    private static async Task<System.Net.Sockets.TcpClient> StartSlowBodyAsync(TestServer server, TestUser user, Api.AccountRequestsInProgress inProgress, int count)
    {
        var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(server.ApiBaseAddress.Host, server.ApiBaseAddress.Port);
        await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /v1/teams HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {user.Token}\r\nContent-Type: application/json\r\n"
            + "Content-Length: 40\r\n\r\n{\"name\":"));

        // Until the server holds the request: it is counted in once its headers are read.
        for (var i = 0; i < 1000 && inProgress.Count(user.UserId) < count; i++)
        {
            await Task.Delay(10);
        }

        return client;
    }

    private static async Task<string> ReadAnswerAsync(System.Net.Sockets.TcpClient client)
    {
        using (client)
        {
            using var reader = new StreamReader(client.GetStream(), Encoding.UTF8);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            return await reader.ReadToEndAsync(timeout.Token);
        }
    }

    // One request over a socket of its own, written exactly as given (HttpClient would resolve dot segments).
    /// <summary>Sends <paramref name="request"/> as written; answers the status and the body, or with <paramref name="headers"/> the whole answer.</summary>
    internal static async Task<(int Status, string Body)> RawRequestAsync(TestServer server, string request, bool headers = false, IPAddress? source = null)
    {
        using var client = source is null ? new System.Net.Sockets.TcpClient() : new System.Net.Sockets.TcpClient(new IPEndPoint(source, 0));
        await client.ConnectAsync(server.ApiBaseAddress.Host, server.ApiBaseAddress.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var text = await reader.ReadToEndAsync(timeout.Token);
        var status = int.Parse(text.Split(' ', 3)[1], System.Globalization.CultureInfo.InvariantCulture);
        return (status, headers ? text : text[(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]);
    }

    [Fact]
    public async Task Method_NotTakenByThePath_MethodNotAllowedWithAllow()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();

        var response = await alice.SendAsync(HttpMethod.Delete, "v1/teams");
        var anonymous = await server.Http.PutAsync("v1/server-info", null);

        await AssertProblemAsync(response, HttpStatusCode.MethodNotAllowed, 4010, "METHOD_NOT_ALLOWED");
        Assert.Equal(["GET", "HEAD", "POST"], response.Content.Headers.Allow.Order());
        await AssertProblemAsync(anonymous, HttpStatusCode.MethodNotAllowed, 4010, "METHOD_NOT_ALLOWED");
        Assert.Equal(["GET", "HEAD"], anonymous.Content.Headers.Allow);
    }

    [Theory]
    [InlineData("v1/teams/not-an-id/channels", "team_id")]
    [InlineData("v1/teams/0190a0b26f3c7d4e8a5b1c2d3e4f5a6b/members", "team_id")]
    [InlineData("v1/channels/{0190a0b2-6f3c-7d4e-8a5b-1c2d3e4f5a6b}/join", "conversation_id")]
    [InlineData("v1/sessions/123", "device_id")]
    public async Task PathId_Malformed_ValidationFailedNamingTheField(string path, string field)
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var method = path.EndsWith("/join", StringComparison.Ordinal) ? HttpMethod.Post : path.StartsWith("v1/sessions", StringComparison.Ordinal) ? HttpMethod.Delete : HttpMethod.Get;

        var problem = await AssertProblemAsync(await alice.SendAsync(method, path), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Theory]
    [InlineData("limit=abc")]
    [InlineData("limit=0")]
    [InlineData("limit=101")]
    [InlineData("limit=1e3")]
    public async Task QueryParameter_WrongTypeOrRange_OurSentenceNotTheFrameworks(string query)
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();

        var problem = await AssertProblemAsync(await alice.SendAsync(HttpMethod.Get, $"v1/teams/{teamId}/members?{query}"), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");

        Assert.Equal("limit must be an integer from 1 to 100.", problem.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("{\"name\": 5}")]
    [InlineData("[1, 2]")]
    [InlineData("{not json")]
    [InlineData("")]
    public async Task Body_Unreadable_FixedSentenceWithoutTypeNames(string body)
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();

        var problem = await AssertProblemAsync(
            await alice.SendRawAsync(HttpMethod.Post, "v1/teams", new StringContent(body, Encoding.UTF8, "application/json")),
            HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");

        var detail = problem.GetProperty("detail").GetString()!;
        Assert.DoesNotContain("CreateTeamRequest", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("parameter", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Conversations_ListCarriesEachLastSeq()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, _, dm) = await DeliveryTests.DmPairAsync(server);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);
        await client.SendTextAsync(dm, "one");
        await client.SendTextAsync(dm, "two");

        var conversations = (await alice.CallAsync(HttpMethod.Get, "v1/conversations")).GetProperty("conversations").EnumerateArray().ToList();

        Assert.Equal(4ul, conversations.Single(c => c.GetProperty("conversation_id").GetGuid() == dm).GetProperty("last_seq").GetUInt64());
        Assert.Equal(2ul, conversations.Single(c => c.GetProperty("name").GetString() == "general").GetProperty("last_seq").GetUInt64());
        Assert.Equal(JsonValueKind.Null, conversations.Single(c => c.GetProperty("name").GetString() == "general").GetProperty("members").ValueKind);
    }

    [Fact]
    public async Task Times_AreUtcWithExactlyThreeFractionDigits()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();

        var invite = await alice.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/invites", new { });
        var sessions = (await alice.CallAsync(HttpMethod.Get, "v1/sessions")).GetProperty("sessions")[0];

        foreach (var time in new[] { invite.GetProperty("expires_at"), sessions.GetProperty("created_at"), sessions.GetProperty("last_used_at") })
        {
            Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", time.GetString());
        }
    }

    [Fact]
    public async Task Dms_ListedTwiceOrWithMyself_OneConversationOfTheDistinctPeople()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);

        var again = await alice.CallAsync(HttpMethod.Post, "v1/dms", new { users = new[] { bob.Username, bob.UserId.ToString(), alice.Username, bob.Username.ToUpperInvariant() } });

        Assert.Equal(dm, again.GetProperty("conversation_id").GetGuid());
        Assert.Equal("dm", again.GetProperty("type").GetString());
    }

    [Fact]
    public async Task Body_ANumberSentAsAString_ValidationFailed_AsANumberAccepted()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var (team, _) = await alice.CreateTeamAsync();

        var asString = await alice.SendAsync(HttpMethod.Post, $"v1/teams/{team}/invites", new { expires_in_seconds = "3600" });
        var asNumber = await alice.SendAsync(HttpMethod.Post, $"v1/teams/{team}/invites", new { expires_in_seconds = 3600 });

        await AssertProblemAsync(asString, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        Assert.True(asNumber.IsSuccessStatusCode, $"{(int)asNumber.StatusCode}");
    }

    // RFC 9110 §9.3.2: HEAD is GET without the body, the same status and headers, refusals included.
    [Fact]
    public async Task Head_AnsweredAsGet_WithoutTheBody()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();

        using var info = await server.Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "v1/server-info"));
        using var infoByGet = await server.Http.GetAsync(new Uri("v1/server-info", UriKind.Relative));
        using var me = await alice.SendAsync(HttpMethod.Head, "v1/me");
        using var anonymous = await server.Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "v1/me"));
        using var postOnly = await server.Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "v1/accounts/login"));
        using var nowhere = await alice.SendAsync(HttpMethod.Head, "v1/no-such-route");
        using var deleteMe = await alice.SendAsync(HttpMethod.Delete, "v1/me");

        // HttpClient reads no body after HEAD whatever comes, so on one raw connection: a HEAD, then a GET. Were a body
        // written after the HEAD's headers, the GET's answer would not start right after them. (Kestrel writes none
        // for a request it parsed as HEAD; this holds the method rewrites to that.)
        var (_, pipelined) = await RawRequestAsync(
            server, "HEAD /v1/server-info HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/server-info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", headers: true);
        var afterHeadHeaders = pipelined[(pipelined.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", pipelined, StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", afterHeadHeaders, StringComparison.Ordinal);
        Assert.Contains("\"version\"", afterHeadHeaders, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, info.StatusCode);
        Assert.Equal(infoByGet.Content.Headers.ContentType?.MediaType, info.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await info.Content.ReadAsByteArrayAsync());
        Assert.NotEmpty(await infoByGet.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Empty(await me.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("application/problem+json", anonymous.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await anonymous.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.MethodNotAllowed, postOnly.StatusCode);
        Assert.Contains("POST", postOnly.Content.Headers.Allow);
        Assert.Equal(HttpStatusCode.NotFound, nowhere.StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, deleteMe.StatusCode);
        Assert.Equal(["GET", "HEAD"], deleteMe.Content.Headers.Allow.Order());
    }

    [Fact]
    public async Task OpenApi_EveryOperationDescribed_NoManagementRoutes_BearerScheme()
    {
        await using var server = await TestServer.StartAsync();

        var text = await server.Http.GetStringAsync("openapi/v1.json");
        var document = JsonDocument.Parse(text).RootElement;

        // test.sh lints this copy with Redocly's recommended rules after the tests ran.
        if (Environment.GetEnvironmentVariable("CHATWIRE_OPENAPI_OUT") is { Length: > 0 } output)
        {
            await File.WriteAllTextAsync(output, text);
        }

        var paths = document.GetProperty("paths").EnumerateObject().ToList();
        Assert.All(paths, p => Assert.StartsWith("/v1/", p.Name, StringComparison.Ordinal));
        var operations = paths.SelectMany(p => p.Value.EnumerateObject()).ToList();
        Assert.True(operations.Count >= 25, $"{operations.Count} operations");
        Assert.All(operations, o =>
        {
            Assert.False(string.IsNullOrEmpty(o.Value.GetProperty("operationId").GetString()));
            Assert.False(string.IsNullOrEmpty(o.Value.GetProperty("summary").GetString()));
            Assert.Contains(o.Value.GetProperty("responses").EnumerateObject(), r => r.Name.StartsWith('2'));

            // Any request may meet a store that is down, or a connection refused before it is read (503); a body
            // that does not arrive in time is 408 (docs/http-api.md, "Errors" and "Request bodies").
            var responses = o.Value.GetProperty("responses");
            Assert.True(responses.TryGetProperty("503", out var unavailable), o.Name);
            Assert.Contains("STORAGE_UNAVAILABLE", unavailable.GetProperty("description").GetString(), StringComparison.Ordinal);
            Assert.Equal(o.Value.TryGetProperty("requestBody", out _), responses.TryGetProperty("408", out _));
        });
        Assert.Equal("bearer", document.GetProperty("components").GetProperty("securitySchemes").GetProperty("bearer").GetProperty("scheme").GetString());
        var signup = document.GetProperty("paths").GetProperty("/v1/accounts/signup").GetProperty("post");
        Assert.Equal(0, signup.GetProperty("security").GetArrayLength());
        Assert.True(signup.GetProperty("responses").TryGetProperty("201", out _));
        Assert.True(document.GetProperty("paths").GetProperty("/v1/teams").GetProperty("get").GetProperty("responses").TryGetProperty("401", out _));

        // What a generated client checks: a problem's optional members are not required; the answers the doc
        // lists are declared; a blob upload takes its bytes.
        var problem = document.GetProperty("components").GetProperty("schemas").GetProperty("ApiProblem");
        Assert.DoesNotContain("errors", problem.GetProperty("required").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal("integer", problem.GetProperty("properties").GetProperty("code").GetProperty("type").GetString());
        Assert.True(document.GetProperty("paths").GetProperty("/v1/accounts/login").GetProperty("post").GetProperty("responses").TryGetProperty("403", out _));
        Assert.True(document.GetProperty("paths").GetProperty("/v1/teams").GetProperty("post").GetProperty("responses").TryGetProperty("403", out _));
        // Fields the server takes as optional are not required in the schema either.
        var schemas = document.GetProperty("components").GetProperty("schemas");
        Assert.False(schemas.GetProperty("ConversationPushRequest").TryGetProperty("required", out var pushRequired) && pushRequired.GetArrayLength() > 0, pushRequired.ToString());
        Assert.Equal(["sealed", "user_id"], schemas.GetProperty("KeyBundleEntryItem").GetProperty("required").EnumerateArray().Select(r => r.GetString()).Order());
        var upload = document.GetProperty("paths").GetProperty("/v1/blobs/{attachmentId}").GetProperty("put");
        Assert.True(upload.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/octet-stream", out _), upload.ToString());
    }
}
