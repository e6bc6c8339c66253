using System.Diagnostics;
using System.Net;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests;

// docs/security.md, "Connection floods" and "Accounts": one client address may open Gateway:ConnectionsPerMinutePerIp
// connections a minute and have Limits:RefusedTokensPerMinutePerAddress session tokens refused; past either, it is
// refused with the delay until it may try again, while other addresses are not touched.
public sealed class AddressRateTests
{
    // The test's HTTP calls come from 127.0.0.1; the address under test is another loopback address.
    private static readonly IPAddress Elsewhere = IPAddress.Parse("127.0.0.9");

    [Fact]
    public async Task Connections_PastTheAddresssRate_TooManyConnectionsWithRetryAfter_OtherAddressesAndManagementUntouched()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Gateway:ConnectionsPerMinutePerIp"] = "3" });
        var alice = await server.SignupAsync();

        // Three opened one after the other, each closed again: the rate counts connections opened, not held. The budget
        // refills all along, so each wait answered is the interval less the time since the first of them.
        var charging = Stopwatch.StartNew();
        for (var i = 0; i < 3; i++)
        {
            await using var ok = await RawClient.ConnectAsync(server, Elsewhere);
            await ok.HelloAsync();
        }

        await using var refused = await RawClient.ConnectAsync(server, Elsewhere);
        var error = await refused.ExpectErrorAsync();
        await refused.ExpectClosedAsync();

        // The HTTP listener counts too, and answers 503 with the delay in Retry-After.
        var (status, http) = await HttpEdgeTests.RawRequestAsync(server, "GET /v1/server-info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", headers: true, Elsewhere);
        var charged = Elapsed(charging);

        await using var other = await RawClient.ConnectAuthenticatedAsync(alice);
        var health = await server.Management.GetAsync("health");
        var rejected = await server.ReadMetricAsync("chatwire_connections_rejected_total", "reason=\"per-address connection rate\"");

        Assert.Equal((0u, ErrorCode.TooManyConnections), (error.RequestId, error.Code));
        Assert.InRange(error.RetryAfterMs, 20_000u - Math.Min(charged, 19_000u), 20_000u);
        Assert.Contains("per-address connection rate", error.Message, StringComparison.Ordinal);
        Assert.Equal(503, status);
        var retryAfter = int.Parse(System.Text.RegularExpressions.Regex.Match(http, "\r\nRetry-After: ([0-9]+)\r\n").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 20 - (int)Math.Min((charged + 999) / 1000, 19u), 20);
        Assert.Contains("\"code\":3003", http, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(2, rejected);
    }

    [Fact]
    public async Task Auth_PastTheAddresssRefusedTokens_RateLimitedBeforeLookup_EvenAValidToken_OtherAddressesUntouched()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Limits:RefusedTokensPerMinutePerAddress"] = "2" });
        var alice = await server.SignupAsync();

        // A well-formed unknown token and a malformed one both count.
        var charging = Stopwatch.StartNew();
        foreach (var token in new[] { new string('A', 43), "not a token" })
        {
            await using var guess = await RawClient.ConnectAsync(server, Elsewhere);
            await guess.HelloAsync();
            await guess.SendAsync(new Auth(5, token, alice.DeviceId));
            Assert.Equal(ErrorCode.InvalidToken, (await guess.ExpectErrorAsync()).Code);
        }

        await using var blocked = await RawClient.ConnectAsync(server, Elsewhere);
        await blocked.HelloAsync();
        await blocked.SendAsync(new Auth(6, alice.Token, alice.DeviceId));
        var error = await blocked.ExpectErrorAsync();
        var charged = Elapsed(charging);
        await blocked.ExpectClosedAsync();

        // Alice's own address is another, and a valid token does not count.
        await using var home = await RawClient.ConnectAuthenticatedAsync(alice);
        await using var again = await RawClient.ConnectAuthenticatedAsync(alice);

        Assert.Equal((6u, ErrorCode.RateLimited), (error.RequestId, error.Code));
        Assert.InRange(error.RetryAfterMs, 30_000u - Math.Min(charged, 29_000u), 30_000u);
    }

    private static uint Elapsed(Stopwatch since) => (uint)Math.Ceiling(since.Elapsed.TotalMilliseconds);
}
