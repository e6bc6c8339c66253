using ChatWire.Gateway.Hosting;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Gateway.Transport;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using static ChatWire.Gateway.Tests.Infrastructure.TransportSettings;

namespace ChatWire.Gateway.Tests.Transport;

// The lean transport under the whole gateway: which listeners it serves, and what an idle session holds.
public sealed class LeanGatewayTests
{
    [Fact]
    public async Task IdleAuthenticatedSessions_OnLean_HoldNoBlockAfterTraffic()
    {
        await using var server = await TestServer.StartAsync(TransportOverride(null, ProtocolTransports.Lean));
        var pool = server.Server.App.Services.GetRequiredService<LeanBufferPool>();
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        await using var receiver = await RawClient.ConnectAuthenticatedAsync(bob);
        await using var sender = await RawClient.ConnectTlsAsync(server, System.Security.Authentication.SslProtocols.Tls13);
        await sender.HandshakeAsync(alice.Token, alice.DeviceId);

        await sender.SendTextAsync(dm, "over TLS on the lean transport");
        await receiver.ExpectMessageAsync();
        await sender.SendAsync(new Ping(9));
        await sender.ExpectAsync<Pong>();
        await receiver.SendAsync(new Ping(10));
        await receiver.ExpectAsync<Pong>();

        // Both sessions are idle now: their reads are pending, every block is back in the pool.
        await WaitUntilAsync(() => pool.Outstanding == 0);
        Assert.True(pool.Taken > 0);
    }

    [Fact]
    public async Task ProtocolTransport_Sockets_LeanPoolUnused()
    {
        await using var server = await TestServer.StartAsync(TransportOverride(null, ProtocolTransports.Sockets));
        var pool = server.Server.App.Services.GetRequiredService<LeanBufferPool>();
        var alice = await server.SignupAsync();
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);
        await client.SendAsync(new Ping(1));
        await client.ExpectAsync<Pong>();

        Assert.Equal(0, pool.Taken);
    }

    [Fact]
    public async Task Start_UnknownProtocolTransport_RefusedWithTheValues()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServer.StartAsync(TransportOverride(null, "epoll")));

        Assert.Contains(ex.Failures, f => f.Contains("Gateway:ProtocolTransport must be 'lean' or 'sockets'; got 'epoll'", StringComparison.Ordinal));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not hold within the wait.");
            await Task.Delay(20);
        }
    }
}
