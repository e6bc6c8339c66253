using System.Net;
using System.Net.Sockets;
using ChatWire.Gateway.Admission;
using ChatWire.Gateway.Hosting;
using ChatWire.Gateway.Observability;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Tests.Units;

// docs/security.md, "Connection floods": the budget at accept, the caps per listener and per address, and a
// listener whose accept fails reported rather than left dead.
public sealed class AdmissionTests
{
    [Fact]
    public async Task AnAcceptThatFails_IsReported_AndStopsTheProcessWithExitCode3()
    {
        var lifetime = new Lifetime();
        var health = new ListenerHealth(lifetime, NullLogger<ListenerHealth>.Instance);
        var inner = new ScriptedListener();
        inner.Next.Enqueue(() => throw new SocketException((int)SocketError.TooManyOpenSockets));
        var listener = new GuardedListener(inner, Budget(new GatewayOptions()), health, new GatewayMetrics());

        await Assert.ThrowsAsync<SocketException>(async () => await listener.AcceptAsync());

        Assert.False(health.IsHealthy);
        Assert.Equal(3, health.ExitCode);
        Assert.Contains(inner.EndPoint.ToString()!, health.Failures.Keys);
        Assert.True(lifetime.StopRequested);
    }

    [Fact]
    public async Task AStopRequested_IsNotAFailure()
    {
        var lifetime = new Lifetime();
        var health = new ListenerHealth(lifetime, NullLogger<ListenerHealth>.Instance);
        using var stop = new CancellationTokenSource();
        var inner = new ScriptedListener();
        inner.Next.Enqueue(() => throw new OperationCanceledException(stop.Token));
        await stop.CancelAsync();
        var listener = new GuardedListener(inner, Budget(new GatewayOptions()), health, new GatewayMetrics());

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await listener.AcceptAsync(stop.Token));

        Assert.True(health.IsHealthy);
        Assert.False(lifetime.StopRequested);
    }

    [Fact]
    public async Task OverTheBudget_TheConnectionIsClosedAtAccept_AndTheNextOneWaitsForASlot()
    {
        var budget = Budget(new GatewayOptions { MaxConnections = 1 });
        var inner = new ScriptedListener();
        var first = new Connection("first");
        var second = new Connection("second");
        var third = new Connection("third");
        inner.Next.Enqueue(() => first);
        inner.Next.Enqueue(() => second);
        inner.Next.Enqueue(() => null);
        var metrics = new GatewayMetrics();
        var listener = new GuardedListener(inner, budget, new ListenerHealth(new Lifetime(), NullLogger<ListenerHealth>.Instance), metrics);

        Assert.Same(first, await listener.AcceptAsync());

        // The second is over the budget of one: closed, and the accept goes on to the next (here, the end).
        Assert.Null(await listener.AcceptAsync());
        Assert.True(second.Aborted && second.Disposed);
        Assert.False(first.Aborted);
        Assert.Equal(1, budget.Open);
        Assert.Equal(1, metrics.Rejected.WithLabels("process budget").Value);

        budget.ReleaseSlot();
        inner.Next.Enqueue(() => third);
        Assert.Same(third, await listener.AcceptAsync());
    }

    [Fact]
    public void ListenerCaps_KeepOneListenerFromTakingTheOthersSlots()
    {
        var budget = Budget(new GatewayOptions { MaxConnections = 100, MaxHttpConnections = 2, MaxManagementConnections = 1, MaxConnectionsPerIp = 1000 });
        var client = IPAddress.Parse("192.0.2.1");

        Assert.Null(budget.TryAdmit(ListenerKind.Http, client));
        Assert.Null(budget.TryAdmit(ListenerKind.Http, client));
        Assert.Equal("http listener cap", budget.TryAdmit(ListenerKind.Http, client));
        Assert.Null(budget.TryAdmit(ListenerKind.Management, client));
        Assert.Equal("management listener cap", budget.TryAdmit(ListenerKind.Management, client));
        Assert.Null(budget.TryAdmit(ListenerKind.Tcp, client));

        budget.Release(ListenerKind.Http, client);
        Assert.Null(budget.TryAdmit(ListenerKind.Http, client));
        Assert.Equal(2, budget.OpenOn(ListenerKind.Http));
    }

    [Fact]
    public void AnAddressAtItsCap_StillReachesTheManagementListener_WhichDoesNotCountTowardsIt()
    {
        var budget = Budget(new GatewayOptions { MaxConnections = 100, MaxManagementConnections = 4, MaxConnectionsPerIp = 2 });
        var host = IPAddress.Parse("192.0.2.9");
        Assert.Null(budget.TryAdmit(ListenerKind.Tcp, host));
        Assert.Null(budget.TryAdmit(ListenerKind.Http, host));
        Assert.Equal("per-address connection cap", budget.TryAdmit(ListenerKind.Tcp, host));

        for (var i = 0; i < 4; i++)
        {
            Assert.Null(budget.TryAdmit(ListenerKind.Management, host));
        }

        Assert.Equal("management listener cap", budget.TryAdmit(ListenerKind.Management, host));
        budget.Release(ListenerKind.Management, host);
        budget.Release(ListenerKind.Tcp, host);
        Assert.Null(budget.TryAdmit(ListenerKind.Tcp, host));
        Assert.Equal("per-address connection cap", budget.TryAdmit(ListenerKind.Tls, host));
    }

    [Fact]
    public void ThePerAddressCap_CountsIpv6By64_AndMappedIpv4AsIpv4_AndExemptsTrustedProxies()
    {
        var budget = Budget(new GatewayOptions { MaxConnections = 100, MaxConnectionsPerIp = 2, TrustedProxies = ["10.0.0.5", "2001:db8:9:9::5"] });

        // Two addresses of one /64 are one client.
        Assert.Null(budget.TryAdmit(ListenerKind.Tcp, IPAddress.Parse("2001:db8:1:2::1")));
        Assert.Null(budget.TryAdmit(ListenerKind.Tls, IPAddress.Parse("2001:db8:1:2:ffff::9")));
        Assert.Equal("per-address connection cap", budget.TryAdmit(ListenerKind.Http, IPAddress.Parse("2001:db8:1:2:aaaa:bbbb:cccc:dddd")));
        Assert.Null(budget.TryAdmit(ListenerKind.Tcp, IPAddress.Parse("2001:db8:1:3::1")));

        // An IPv4-mapped address is its IPv4 address.
        Assert.Null(budget.TryAdmit(ListenerKind.Tcp, IPAddress.Parse("192.0.2.7")));
        Assert.Null(budget.TryAdmit(ListenerKind.Tcp, IPAddress.Parse("::ffff:192.0.2.7")));
        Assert.NotNull(budget.TryAdmit(ListenerKind.Tcp, IPAddress.Parse("192.0.2.7")));

        // A refusal gives back what it took; a release makes room.
        budget.Release(ListenerKind.Tcp, IPAddress.Parse("::ffff:192.0.2.7"));
        Assert.Null(budget.TryAdmit(ListenerKind.Tcp, IPAddress.Parse("192.0.2.7")));

        for (var i = 0; i < 10; i++)
        {
            Assert.Null(budget.TryAdmit(ListenerKind.Http, IPAddress.Parse("10.0.0.5")));
            Assert.Null(budget.TryAdmit(ListenerKind.Http, IPAddress.Parse("2001:db8:9:9::5")));
        }

        // The proxy's exact address is exempt, not its whole /64.
        Assert.Null(budget.TryAdmit(ListenerKind.Tcp, IPAddress.Parse("2001:db8:9:9::6")));
        Assert.Null(budget.TryAdmit(ListenerKind.Tcp, IPAddress.Parse("2001:db8:9:9::7")));
        Assert.Equal("per-address connection cap", budget.TryAdmit(ListenerKind.Tcp, IPAddress.Parse("2001:db8:9:9::8")));
    }

    [Fact]
    public void ThePerAddressRate_RefusesTheConnectionPastAMinutesAllowance_UntilTheBucketRefills()
    {
        var clock = new SteppingClock();
        using var budget = new ConnectionBudget(
            Options.Create(new GatewayOptions { MaxConnections = 100, MaxConnectionsPerIp = 100, ConnectionsPerMinutePerIp = 3, TrustedProxies = ["10.0.0.5"] }),
            clock);
        var host = IPAddress.Parse("192.0.2.9");

        // Three at once, each closed again: the rate counts connections opened, not held.
        for (var i = 0; i < 3; i++)
        {
            Assert.Null(budget.TryAdmit(ListenerKind.Tcp, host));
            budget.Release(ListenerKind.Tcp, host);
        }

        Assert.Equal(ConnectionBudget.PerAddressRateReason, budget.TryAdmit(ListenerKind.Tls, host, out var retryAfter));
        Assert.Equal(20_000u, retryAfter);
        Assert.Equal(0, budget.OpenOn(ListenerKind.Tls));

        // Other addresses, the management listener and trusted proxies are not charged to it.
        Assert.Null(budget.TryAdmit(ListenerKind.Tcp, IPAddress.Parse("192.0.2.10")));
        Assert.Null(budget.TryAdmit(ListenerKind.Management, host));
        for (var i = 0; i < 10; i++)
        {
            Assert.Null(budget.TryAdmit(ListenerKind.Http, IPAddress.Parse("10.0.0.5")));
        }

        // One every 60/3 s after the burst.
        clock.Advance(TimeSpan.FromSeconds(19));
        Assert.NotNull(budget.TryAdmit(ListenerKind.Noise, host));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(budget.TryAdmit(ListenerKind.Noise, host));
        Assert.NotNull(budget.TryAdmit(ListenerKind.Noise, host));
    }

    [Fact]
    public void RefusedTokens_AreCountedByAddressGroup_TrustedProxiesExemptByTheirExactAddressOnly()
    {
        using var connections = Budget(new GatewayOptions { TrustedProxies = ["10.0.0.5", "2001:db8:9:9::5"] });
        using var refused = new RefusedTokenBudget(Options.Create(new LimitsOptions()), connections, TimeProvider.System);

        Assert.Null(refused.KeyOf(new IPEndPoint(IPAddress.Parse("10.0.0.5"), 1)));
        Assert.Null(refused.KeyOf(new IPEndPoint(IPAddress.Parse("::ffff:10.0.0.5"), 1)));
        Assert.Null(refused.KeyOf(new IPEndPoint(IPAddress.Parse("2001:db8:9:9::5"), 1)));
        Assert.Equal("2001:db8:9:9::/64", refused.KeyOf(new IPEndPoint(IPAddress.Parse("2001:db8:9:9::6"), 1)));
        Assert.Equal("10.0.0.6", refused.KeyOf(new IPEndPoint(IPAddress.Parse("::ffff:10.0.0.6"), 1)));
        Assert.Null(refused.KeyOf(null));
    }

    [Fact]
    public void ARateRefusal_GivesBackTheAddresssCount()
    {
        var clock = new SteppingClock();
        using var budget = new ConnectionBudget(
            Options.Create(new GatewayOptions { MaxConnections = 100, MaxConnectionsPerIp = 2, ConnectionsPerMinutePerIp = 2 }), clock);
        var host = IPAddress.Parse("192.0.2.9");
        Assert.Null(budget.TryAdmit(ListenerKind.Tcp, host));
        Assert.Null(budget.TryAdmit(ListenerKind.Tcp, host));
        budget.Release(ListenerKind.Tcp, host);

        Assert.Equal(ConnectionBudget.PerAddressRateReason, budget.TryAdmit(ListenerKind.Tcp, host));

        // A leaked count would make this one the third the cap refuses.
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Null(budget.TryAdmit(ListenerKind.Tcp, host));
        Assert.Equal("per-address connection cap", budget.TryAdmit(ListenerKind.Tcp, host));
    }

    [Theory]
    [InlineData(256, null, 1024)]
    [InlineData(1_000_000, null, 1_000_000)]
    [InlineData(256, 0, 0)]
    [InlineData(256, 60, 60)]
    public void ThePerAddressRate_DefaultsToFourTimesThePerAddressCap(int cap, int? configured, int rate)
    {
        using var budget = new ConnectionBudget(Options.Create(new GatewayOptions { MaxConnectionsPerIp = cap, ConnectionsPerMinutePerIp = configured }), TimeProvider.System);
        Assert.Equal(rate, budget.PerAddressRate);
    }

    [Theory]
    [InlineData("203.0.113.7", "203.0.113.7")]
    [InlineData("::ffff:203.0.113.7", "203.0.113.7")]
    [InlineData("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64")]
    public void ClientAddressKeys(string address, string key) =>
        Assert.Equal(key, ClientAddress.Key(IPAddress.Parse(address)));

    [Fact]
    public void TheDerivedBudget_LeavesAReserveBelowTheOpenFileLimit()
    {
        var budget = Budget(new GatewayOptions());
        Assert.NotNull(budget.OpenFileLimit);
        Assert.True(budget.Reserve >= 64);
        Assert.Equal(budget.OpenFileLimit!.Value - budget.Reserve, budget.Total);

        // A configured maximum above the derived budget is lowered to it.
        var capped = Budget(new GatewayOptions { MaxConnections = int.MaxValue });
        Assert.Equal(capped.OpenFileLimit!.Value - capped.Reserve, capped.Total);
        Assert.Equal(10, Budget(new GatewayOptions { MaxConnections = 10 }).Total);
    }

    private static ConnectionBudget Budget(GatewayOptions options) => new(Options.Create(options), TimeProvider.System);

    private sealed class ScriptedListener : IConnectionListener
    {
        public Queue<Func<ConnectionContext?>> Next { get; } = new();

        public EndPoint EndPoint { get; } = new IPEndPoint(IPAddress.Loopback, 7443);

        public ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(Next.Dequeue()());

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class Connection(string id) : ConnectionContext
    {
        public bool Aborted { get; private set; }

        public bool Disposed { get; private set; }

        public override string ConnectionId { get; set; } = id;

        public override Microsoft.AspNetCore.Http.Features.IFeatureCollection Features { get; } = new Microsoft.AspNetCore.Http.Features.FeatureCollection();

        public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

        public override System.IO.Pipelines.IDuplexPipe Transport { get; set; } = null!;

        public override void Abort(ConnectionAbortedException abortReason) => Aborted = true;

        public override ValueTask DisposeAsync()
        {
            Disposed = true;
            return base.DisposeAsync();
        }
    }

    private sealed class Lifetime : IHostApplicationLifetime
    {
        public bool StopRequested { get; private set; }

        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => CancellationToken.None;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication() => StopRequested = true;
    }
}
