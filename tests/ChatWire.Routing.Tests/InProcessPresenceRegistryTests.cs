using ChatWire.Routing.Presence;

namespace ChatWire.Routing.Tests;

public sealed class InProcessPresenceRegistryTests
{
    [Fact]
    public void MarkPresentSetStatusMarkAbsent_ReportedInsideTheCall_InOrder()
    {
        var registry = new InProcessPresenceRegistry();
        var observer = new Recorder();
        registry.Observe(observer);
        var user = Guid.NewGuid();

        registry.MarkPresent(user);
        registry.SetStatus(user, UserStatus.Away);
        registry.SetStatus(user, UserStatus.Away);
        registry.MarkAbsent(user, 42);
        registry.SetStatus(user, UserStatus.DoNotDisturb);

        Assert.Equal(
            [new(user, UserStatus.Online, 0), new(user, UserStatus.Away, 0), new(user, UserStatus.Offline, 42)],
            observer.Changes);
        Assert.Equal([(user, 42L)], observer.Offline);
    }

    [Fact]
    public async Task ReadAsync_OnlineOfflineAndNeverSeen()
    {
        var registry = new InProcessPresenceRegistry();
        var (online, left, never) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        registry.MarkPresent(online);
        registry.SetStatus(online, UserStatus.DoNotDisturb);
        registry.MarkPresent(left);
        registry.MarkAbsent(left, 7);

        var read = await registry.ReadAsync([online, left, never], CancellationToken.None);

        Assert.Equal(new UserPresence(online, UserStatus.DoNotDisturb, 0), read[online]);
        Assert.Equal(new UserPresence(left, UserStatus.Offline, 7), read[left]);
        Assert.Equal(new UserPresence(never, UserStatus.Offline, 0), read[never]);
    }

    [Fact]
    public void MarkPresent_AfterOffline_IsOnlineAgainWithTheStatusReset()
    {
        var registry = new InProcessPresenceRegistry();
        var observer = new Recorder();
        registry.Observe(observer);
        var user = Guid.NewGuid();
        registry.MarkPresent(user);
        registry.SetStatus(user, UserStatus.Away);
        registry.MarkAbsent(user, 1);

        registry.MarkPresent(user);

        Assert.Equal(new UserPresence(user, UserStatus.Online, 0), observer.Changes[^1]);
    }

    private sealed class Recorder : IPresenceObserver
    {
        public List<UserPresence> Changes { get; } = [];

        public List<(Guid UserId, long LastSeenUnixMs)> Offline { get; } = [];

        public void PresenceChanged(UserPresence presence) => Changes.Add(presence);

        public void WentOffline(Guid userId, long lastSeenUnixMs) => Offline.Add((userId, lastSeenUnixMs));
    }
}
