using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Routing.Presence;
using ChatWire.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace ChatWire.Gateway.Tests.Push;

// The embedded queue (Push:Queue = store) when sending a notification fails.
public sealed class PushQueueTests
{
    private const string Metric = "chatwire_push_notifications_total";

    // A notification whose sending fails stays queued and is tried again (its user waiting a little longer after each
    // failure) until it is sent; another user's, due at the same time, is sent while it keeps failing. No setting makes
    // sending fail, so the presence registry, which the dispatcher reads for do-not-disturb, throws for bob until told
    // to stop.
    [Fact]
    public async Task Send_DispatchFailing_TriedAgainUntilDelivered_OtherUserNotHeld()
    {
        var presence = new ReadFails(new InProcessPresenceRegistry());
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await TestServer.StartAsync(
            PushFixture.Settings(receiver), replaceServices: services => services.AddSingleton<IPresenceRegistry>(presence));
        var (alice, bob, carol, aliceBob, aliceCarol) = await PushFixture.ThreeInATeamAsync(server);
        await PushFixture.RegisterWebhookAsync(bob, receiver, "bob");
        await PushFixture.RegisterWebhookAsync(carol, receiver, "carol");
        presence.FailFor(bob.UserId, times: int.MaxValue);
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);

        var toBob = await aliceDesk.SendTextAsync(aliceBob, "to bob");
        var toCarol = await aliceDesk.SendTextAsync(aliceCarol, "to carol");

        // Carol's goes out while bob's keeps failing (tried at least twice by then).
        await server.WaitForMetricAsync(Metric, "provider=\"webhook\",outcome=\"delivered\"", v => v == 1);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (presence.FailuresLeft > int.MaxValue - 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.True(presence.FailuresLeft <= int.MaxValue - 2, "bob's notification was tried at least twice");
        var first = Assert.Single(receiver.Drain());
        Assert.Equal(("/hook/carol", toCarol.MessageId), (first.Path, first.Json.GetProperty("message_id").GetGuid()));

        // Once sending works again, bob's is delivered.
        presence.FailFor(bob.UserId, times: 0);
        await server.WaitForMetricAsync(Metric, "provider=\"webhook\",outcome=\"delivered\"", v => v == 2);
        var second = Assert.Single(receiver.Drain());
        Assert.Equal(("/hook/bob", toBob.MessageId), (second.Path, second.Json.GetProperty("message_id").GetGuid()));
    }

    // Throws from ReadAsync of one user alone (the dispatcher's do-not-disturb read) as many times as asked.
    private sealed class ReadFails(IPresenceRegistry inner) : IPresenceRegistry
    {
        private readonly Lock _lock = new();
        private Guid _user;
        private int _left;

        public int FailuresLeft
        {
            get
            {
                lock (_lock)
                {
                    return _left;
                }
            }
        }

        public void FailFor(Guid userId, int times)
        {
            lock (_lock)
            {
                (_user, _left) = (userId, times);
            }
        }

        public void Observe(IPresenceObserver observer) => inner.Observe(observer);

        public void MarkPresent(Guid userId) => inner.MarkPresent(userId);

        public void MarkAbsent(Guid userId, long atUnixMs) => inner.MarkAbsent(userId, atUnixMs);

        public void SetStatus(Guid userId, UserStatus status) => inner.SetStatus(userId, status);

        public ValueTask<IReadOnlyDictionary<Guid, UserPresence>> ReadAsync(IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken)
        {
            lock (_lock)
            {
                if (userIds.Count == 1 && userIds.First() == _user && _left > 0)
                {
                    _left--;
                    throw new InvalidOperationException("The presence registry is unreachable (a test's fault).");
                }
            }

            return inner.ReadAsync(userIds, cancellationToken);
        }

        public ValueTask WatchAsync(IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken) => inner.WatchAsync(userIds, cancellationToken);

        public void Unwatch(IReadOnlyCollection<Guid> userIds) => inner.Unwatch(userIds);
    }
}
