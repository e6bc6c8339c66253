using System.Net;
using ChatWire.Gateway.Hosting;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests;

// docs/http-api.md, "Browsers": a page from an allowed origin may call the API; its preflight is answered before any
// session check, and every answer to it, refusals too, names the origin and exposes the request budget's headers.
public sealed class HttpCorsTests
{
    private const string Allowed = "https://chat.example.com";

    [Fact]
    public async Task Preflight_FromAnAllowedOrigin_AnsweredWithoutASession()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:CorsOrigins:0"] = Allowed,
            ["Limits:ApiRequestsPerMinutePerAddress"] = "100",
        });

        using var preflight = new HttpRequestMessage(HttpMethod.Options, "v1/teams");
        preflight.Headers.Add("Origin", Allowed);
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        preflight.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
        var response = await server.Http.SendAsync(preflight);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(Allowed, Single(response, "Access-Control-Allow-Origin"));
        Assert.Contains("POST", Single(response, "Access-Control-Allow-Methods"), StringComparison.Ordinal);
        Assert.Contains("authorization", Single(response, "Access-Control-Allow-Headers"), StringComparison.OrdinalIgnoreCase);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Credentials"));

        // Charged once, to the address, like any request without a session.
        Assert.StartsWith("\"address\";r=99;", Single(response, "RateLimit"), StringComparison.Ordinal);
    }

    // Past the address's budget a preflight is still answered 204 (a browser takes anything else as a network error);
    // the request it announces is the one refused, with what the page needs to read why (found by a hostile review).
    [Fact]
    public async Task Preflight_PastTheBudget_StillAnswered_TheRequestIsRefusedReadably()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:CorsOrigins:0"] = Allowed,
            ["Limits:ApiRequestsPerMinutePerAddress"] = "2",
        });

        var preflights = new List<HttpResponseMessage>();
        for (var i = 0; i < 3; i++)
        {
            using var preflight = new HttpRequestMessage(HttpMethod.Options, "v1/server-info");
            preflight.Headers.Add("Origin", Allowed);
            preflight.Headers.Add("Access-Control-Request-Method", "GET");
            preflights.Add(await server.Http.SendAsync(preflight));
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/server-info");
        request.Headers.Add("Origin", Allowed);
        var refused = await server.Http.SendAsync(request);

        Assert.All(preflights, p => Assert.Equal((HttpStatusCode.NoContent, Allowed), (p.StatusCode, Single(p, "Access-Control-Allow-Origin"))));
        Assert.StartsWith("\"address\";r=0;", Single(preflights[2], "RateLimit"), StringComparison.Ordinal);
        await HttpApiTests.AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, 3001, "RATE_LIMITED");
        Assert.Equal(Allowed, Single(refused, "Access-Control-Allow-Origin"));
        Assert.Contains("Retry-After", Single(refused, "Access-Control-Expose-Headers"), StringComparison.OrdinalIgnoreCase);
        Assert.NotNull(refused.Headers.RetryAfter);
    }

    [Fact]
    public async Task Refusal_ToAnAllowedOrigin_CarriesTheOrigin_AndExposesTheBudget()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:CorsOrigins:0"] = Allowed,
            ["Limits:ApiRequestsPerMinutePerAddress"] = "100",
        });

        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/me");
        request.Headers.Add("Origin", Allowed);
        var response = await server.Http.SendAsync(request);

        await HttpApiTests.AssertProblemAsync(response, HttpStatusCode.Unauthorized, 2001, "NOT_AUTHENTICATED");
        Assert.Equal(Allowed, Single(response, "Access-Control-Allow-Origin"));
        var exposed = Single(response, "Access-Control-Expose-Headers");
        Assert.All(HttpCors.ExposedHeaders, h => Assert.Contains(h, exposed, StringComparison.OrdinalIgnoreCase));
        Assert.Contains("Origin", response.Headers.Vary);
    }

    [Fact]
    public async Task ManagementListener_NeverAnswersAPage()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Gateway:CorsOrigins:0"] = "*" });

        using var request = new HttpRequestMessage(HttpMethod.Get, "metrics");
        request.Headers.Add("Origin", Allowed);
        var response = await server.Management.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task OtherOrigin_OrNoneConfigured_NoCorsHeaders()
    {
        await using var configured = await TestServer.StartAsync(new Dictionary<string, string?> { ["Gateway:CorsOrigins:0"] = Allowed });
        await using var plain = await TestServer.StartAsync();

        foreach (var (server, origin) in new[] { (configured, "https://evil.example"), (plain, Allowed) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "v1/server-info");
            request.Headers.Add("Origin", origin);
            var response = await server.Http.SendAsync(request);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
        }
    }

    [Theory]
    [InlineData("*", true)]
    [InlineData("https://chat.example.com", true)]
    [InlineData("http://localhost:5173", true)]
    [InlineData("https://chat.example.com/", false)]
    [InlineData("https://chat.example.com/app", false)]
    [InlineData("https://user@chat.example.com", false)]
    [InlineData("ftp://chat.example.com", false)]
    [InlineData("chat.example.com", false)]
    public void Origins_AreSchemeHostAndPortOnly(string origin, bool valid) =>
        Assert.Equal(valid, HttpCors.IsOrigin(origin));

    private static string Single(HttpResponseMessage response, string name) =>
        Assert.Single(response.Headers.GetValues(name));
}
