using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests;

// The offline grace (Gateway:PresenceOfflineGraceMs): a user whose last device goes and comes back within it is
// never shown offline; one who stays away is, with the moment the device went as last seen. A hostile-traffic
// review had one account connect and close in a loop: each connection pushed two changes to every watcher.
public sealed class PresenceGraceTests
{
    [Fact]
    public async Task LastDeviceBackWithinTheGrace_WatchersSeeNoChange_ThenOfflineOnceItStaysAway()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Gateway:PresenceOfflineGraceMs"] = "8000" });
        var (alice, bob, _) = await DeliveryTests.DmPairAsync(server);
        await using var watcher = await RawClient.ConnectAuthenticatedAsync(alice);
        await watcher.SendAsync(new PresenceWatch(watcher.NextRequestId(), [bob.UserId]));
        Assert.Equal(PresenceStatus.Offline, Assert.Single((await watcher.ExpectAsync<PresenceFrame>()).Entries).Status);

        var first = await RawClient.ConnectAuthenticatedAsync(bob);
        Assert.Equal(PresenceStatus.Online, Assert.Single((await watcher.ExpectAsync<PresenceFrame>()).Entries).Status);
        await first.DisposeAsync();
        var again = await RawClient.ConnectAuthenticatedAsync(bob);
        await again.SendAsync(new SetStatus(again.NextRequestId(), PresenceStatus.Away));
        await again.ExpectAsync<Ok>();

        // The next change the watcher sees is the status, not an offline and an online before it.
        Assert.Equal(PresenceStatus.Away, Assert.Single((await watcher.ExpectAsync<PresenceFrame>()).Entries).Status);

        var wentAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await again.DisposeAsync();
        var offline = Assert.Single((await watcher.ExpectAsync<PresenceFrame>(TimeSpan.FromSeconds(30))).Entries);
        Assert.Equal(PresenceStatus.Offline, offline.Status);
        Assert.InRange(offline.LastSeenUnixMs, wentAt - 5_000, wentAt + 1_000);
    }
}
