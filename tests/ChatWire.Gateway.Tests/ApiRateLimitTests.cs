using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests;

// docs/http-api.md, "Rate limits": every /v1/ request is charged to its account, or without a valid session to its
// address; every answer carries RateLimit-Policy and RateLimit, a refusal 429 RATE_LIMITED with Retry-After.
public sealed class ApiRateLimitTests
{
    [Fact]
    public async Task Account_SpendsItsBudget_ThenRateLimited_WhileAnotherAccountIsNot()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:ApiRequestsPerMinutePerUser"] = "5",
            ["Limits:ApiRequestsPerMinutePerAddress"] = "1000",
        });
        var alice = await server.SignupAsync("alice");
        var bob = await server.SignupAsync("bob");

        var charging = Stopwatch.StartNew();
        for (var remaining = 4; remaining >= 0; remaining--)
        {
            var ok = await alice.SendAsync(HttpMethod.Get, "v1/me");
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal("\"account\";q=5;w=60", Header(ok, "RateLimit-Policy"));
            Assert.StartsWith($"\"account\";r={remaining};t=", Header(ok, "RateLimit"), StringComparison.Ordinal);
        }

        var refused = await alice.SendAsync(HttpMethod.Get, "v1/teams");
        await HttpApiTests.AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, 3001, "RATE_LIMITED");
        AssertRetryAfter(refused, 12, charging);
        Assert.StartsWith("\"account\";r=0;t=", Header(refused, "RateLimit"), StringComparison.Ordinal);

        // Any answer under /v1/, a 404 for a path that matches nothing too, reports the budget.
        var missing = await bob.SendAsync(HttpMethod.Get, "v1/no-such-endpoint");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.StartsWith("\"account\";r=4;t=", Header(missing, "RateLimit"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Address_AnonymousRequests_SpendItsBudget_ThenRateLimited_BlobUrlsAreNotCharged()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:ApiRequestsPerMinutePerUser"] = "1000",
            ["Limits:ApiRequestsPerMinutePerAddress"] = "4",
        });
        var charging = Stopwatch.StartNew();
        var carol = await server.SignupAsync("carol"); // one of the address's four

        var info = await server.Http.GetAsync("v1/server-info");
        Assert.Equal(HttpStatusCode.OK, info.StatusCode);
        Assert.Equal("\"address\";q=4;w=60", Header(info, "RateLimit-Policy"));
        Assert.StartsWith("\"address\";r=2;t=", Header(info, "RateLimit"), StringComparison.Ordinal);
        var blob = await server.Http.GetAsync($"v1/blobs/{Guid.NewGuid()}?token=x");
        Assert.False(blob.Headers.Contains("RateLimit"));
        await server.Http.GetAsync("v1/server-info");
        await server.Http.GetAsync("v1/server-info");

        var refused = await server.Http.GetAsync("v1/server-info");
        await HttpApiTests.AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, 3001, "RATE_LIMITED");
        AssertRetryAfter(refused, 15, charging);

        // Sign-up and login are charged before their own gate and throttles.
        var login = await server.Http.PostAsJsonAsync("v1/accounts/login", new { username = "carol", password = "whatever1" }, TestServer.Json);
        Assert.Equal(HttpStatusCode.TooManyRequests, login.StatusCode);
        Assert.StartsWith("\"address\";r=0;t=", Header(login, "RateLimit"), StringComparison.Ordinal);

        // A valid session from the same address is charged to its account.
        var me = await carol.SendAsync(HttpMethod.Get, "v1/me");
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Equal("\"account\";q=1000;w=60", Header(me, "RateLimit-Policy"));
    }

    [Fact]
    public async Task Address_TooManyRefusedTokens_ThenEveryTokenRefusedBeforeItIsLookedUp()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:ApiRequestsPerMinutePerUser"] = "1000",
            ["Limits:ApiRequestsPerMinutePerAddress"] = "1000",
            ["Limits:RefusedTokensPerMinutePerAddress"] = "3",
        });
        var dave = await server.SignupAsync("dave");

        var charging = Stopwatch.StartNew();
        for (var remaining = 2; remaining >= 0; remaining--)
        {
            using var guess = new HttpRequestMessage(HttpMethod.Get, "v1/me");
            guess.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", new string('A', 43));
            var wrong = await server.Http.SendAsync(guess);
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
            Assert.StartsWith($"\"refused-token\";r={remaining};t=", Header(wrong, "RateLimit"), StringComparison.Ordinal);
        }

        // The anonymous budget is another: server info still answers.
        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync("v1/server-info")).StatusCode);

        // Spent: a missing token and a valid one alike are refused before any lookup, until the budget refills.
        await HttpApiTests.AssertProblemAsync(await server.Http.GetAsync("v1/me"), HttpStatusCode.TooManyRequests, 3001, "RATE_LIMITED");
        var valid = await dave.SendAsync(HttpMethod.Get, "v1/me");
        await HttpApiTests.AssertProblemAsync(valid, HttpStatusCode.TooManyRequests, 3001, "RATE_LIMITED");
        AssertRetryAfter(valid, 20, charging);

        // The protocol's AUTH shares the budget: the same address's valid token is refused there too.
        await using var tcp = await RawClient.ConnectAsync(server);
        await tcp.HelloAsync();
        await tcp.SendAsync(new Protocol.Frames.Auth(7, dave.Token, dave.DeviceId));
        var error = await tcp.ExpectErrorAsync();
        await tcp.ExpectClosedAsync();
        Assert.Equal((7u, Protocol.ErrorCode.RateLimited), (error.RequestId, error.Code));
        Assert.InRange(error.RetryAfterMs, 20_000u - Math.Min((uint)Math.Ceiling(charging.Elapsed.TotalMilliseconds), 19_000u), 20_000u);
    }

    // The budget refills all along (one request per interval): a refusal's wait is the interval less the time since the
    // first charge of the spent budget, which a busy machine stretches.
    private static void AssertRetryAfter(HttpResponseMessage refused, int intervalSeconds, Stopwatch sinceFirstCharge)
    {
        var elapsed = (int)Math.Ceiling(sinceFirstCharge.Elapsed.TotalSeconds);
        var retryAfter = refused.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        Assert.InRange(retryAfter.Value.TotalSeconds, Math.Max(1, intervalSeconds - elapsed), intervalSeconds);
    }

    // A target whose dot segments climb out of /v1/ is resolved by the server before the budget sees the path; its
    // refusal is charged all the same, once.
    [Theory]
    [InlineData("/v1/%2e%2e/server-info")]
    [InlineData("/v1/../v2")]
    public async Task DotSegments_OutOfV1_RefusedAndCharged(string target)
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Limits:ApiRequestsPerMinutePerAddress"] = "10" });

        var (status, head) = await HttpEdgeTests.RawRequestAsync(server, $"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", headers: true);

        Assert.Equal(400, status);
        Assert.Contains("RateLimit: \"address\";r=9;", head, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LimitsOff_NoRateLimitHeaders()
    {
        await using var server = await TestServer.StartAsync();

        var info = await server.Http.GetAsync("v1/server-info");

        Assert.Equal(HttpStatusCode.OK, info.StatusCode);
        Assert.False(info.Headers.Contains("RateLimit"));
        Assert.False(info.Headers.Contains("RateLimit-Policy"));
    }

    private static string Header(HttpResponseMessage response, string name) =>
        Assert.Single(response.Headers.GetValues(name));
}
