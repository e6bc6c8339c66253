using ChatWire.Gateway.Delivery;
using ChatWire.Routing;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChatWire.Gateway.Tests.Units;

// Gateway:TopicLingerMs: with a bus whose subscriptions cost a round trip, a topic stays subscribed for the linger
// after its last local user goes, so a device that reconnects meanwhile costs the bus nothing.
public sealed partial class DeliveryFanoutTests
{
    [Fact]
    public async Task Reconnect_WithinTheLinger_SubscribesNothingAgain_AndTheTopicsGoWhenItEnds()
    {
        var bus = new CountingBus();
        var clock = new ManualClock();
        var fanout = Fanout(bus, lingerMs: 60_000, time: clock);
        var dm = _directory.AddConversation(null, _alice, _bob);
        var first = new RecordingTarget(_alice, Guid.CreateVersion7());
        await fanout.RegisterAsync(first);
        Assert.Equal(2, bus.Subscribes);

        fanout.Unregister(first);
        await PublishAsync(bus.Inner, fanout, Message(dm, 1));
        Assert.Empty(first.Frames);
        Assert.Equal(2, fanout.LingeringSubscriptions);

        var second = new RecordingTarget(_alice, Guid.CreateVersion7());
        await fanout.RegisterAsync(second);
        await PublishAsync(bus.Inner, fanout, Message(dm, 2));
        Assert.Equal([2ul], second.Seqs);
        Assert.Equal(2, bus.Subscribes);
        Assert.Equal(0, fanout.LingeringSubscriptions);

        // The linger counts from the last release, not the first.
        clock.Advance(TimeSpan.FromSeconds(50));
        fanout.Unregister(second);
        clock.Advance(TimeSpan.FromSeconds(50));
        await fanout.EndLingersAsync();
        Assert.Equal(2, fanout.Subscriptions);
        Assert.Equal(0, bus.Unsubscribes);

        clock.Advance(TimeSpan.FromSeconds(11));
        await fanout.EndLingersAsync();
        Assert.Equal(0, fanout.Subscriptions);
        Assert.Equal(2, bus.Unsubscribes);

        var third = new RecordingTarget(_alice, Guid.CreateVersion7());
        await fanout.RegisterAsync(third);
        await PublishAsync(bus.Inner, fanout, Message(dm, 3));
        Assert.Equal([3ul], third.Seqs);
        Assert.Equal(4, bus.Subscribes);
    }

    // A topic taken again while its linger's unsubscribe is under way is subscribed again once that is done.
    [Fact]
    public async Task TopicTakenWhileItsUnsubscribeIsUnderWay_IsSubscribedAgain()
    {
        var (bus, _, topics, topic) = await LingerEndedAsync();
        using var disposing = topics;

        bus.HoldUnsubscribes();
        Assert.Equal(1, topics.SweepLingering());
        var ending = topics.ApplyAsync();
        await WaitUntilAsync(() => bus.UnsubscribesStarted == 1);
        topics.Acquire(topic);
        var taken = topics.ApplyAsync();
        bus.ReleaseUnsubscribes();
        await ending;
        await taken;

        Assert.Equal(1, bus.Unsubscribes);
        Assert.Equal(2, bus.Subscribes);
        Assert.Equal(1, topics.ActiveCount);
        Assert.Equal(0, topics.LingeringCount);
    }

    // A topic released again after its linger's end was found keeps its subscription for the new linger.
    [Fact]
    public async Task TopicTakenAndReleasedAgainBeforeItsUnsubscribe_LingersAnew()
    {
        var (bus, clock, topics, topic) = await LingerEndedAsync();
        using var disposing = topics;

        Assert.Equal(1, topics.SweepLingering());
        topics.Acquire(topic);
        topics.Release(topic);
        await topics.ApplyAsync();
        Assert.Equal(0, bus.Unsubscribes);
        Assert.Equal(1, topics.LingeringCount);

        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(1, topics.SweepLingering());
        await topics.ApplyAsync();
        Assert.Equal(1, bus.Unsubscribes);
        Assert.Equal(0, topics.ActiveCount);
    }

    // A topic subscribed, released, and past its linger of 1 s, not yet swept.
    private static async Task<(CountingBus Bus, ManualClock Clock, TopicSubscriptions Topics, BusTopic Topic)> LingerEndedAsync()
    {
        var bus = new CountingBus();
        var clock = new ManualClock();
        var topics = new TopicSubscriptions(bus, new NoSubscriber(), NullLogger.Instance, TimeSpan.FromSeconds(1), clock);
        var topic = BusTopic.Conversation(Guid.CreateVersion7());
        topics.Acquire(topic);
        await topics.ApplyAsync();
        topics.Release(topic);
        clock.Advance(TimeSpan.FromSeconds(2));
        return (bus, clock, topics, topic);
    }

    // A clock the test moves, whose timers never fire: the tests end lingers themselves, at the moments they choose.
    private sealed class ManualClock : TimeProvider
    {
        private long _ticks = 1;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Interlocked.Read(ref _ticks);

        public void Advance(TimeSpan step) => Interlocked.Add(ref _ticks, step.Ticks);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => new NeverFires();

        private sealed class NeverFires : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;

            public void Dispose()
            {
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }

    private sealed class NoSubscriber : IBusSubscriber
    {
        public void OnPublished(BusTopic topic, ReadOnlyMemory<byte> payload)
        {
        }
    }

    // The in-process bus with counted subscribes and unsubscribes, whose unsubscribes the test can hold.
    private sealed class CountingBus : IMessageBus
    {
        private int _subscribes;
        private int _unsubscribes;
        private int _unsubscribesStarted;
        private TaskCompletionSource? _held;

        public InProcessMessageBus Inner { get; } = new();

        public int Subscribes => Volatile.Read(ref _subscribes);

        public int Unsubscribes => Volatile.Read(ref _unsubscribes);

        public int UnsubscribesStarted => Volatile.Read(ref _unsubscribesStarted);

        public event Action? Reconnected
        {
            add { }
            remove { }
        }

        public void HoldUnsubscribes() => _held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void ReleaseUnsubscribes() => _held?.TrySetResult();

        public ValueTask PublishAsync(BusTopic topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
            Inner.PublishAsync(topic, payload, cancellationToken);

        public async ValueTask<IAsyncDisposable> SubscribeAsync(BusTopic topic, IBusSubscriber subscriber, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _subscribes);
            return new Counted(this, await Inner.SubscribeAsync(topic, subscriber, cancellationToken));
        }

        private sealed class Counted(CountingBus bus, IAsyncDisposable inner) : IAsyncDisposable
        {
            public async ValueTask DisposeAsync()
            {
                Interlocked.Increment(ref bus._unsubscribesStarted);
                if (bus._held is { } held)
                {
                    await held.Task;
                }

                await inner.DisposeAsync();
                Interlocked.Increment(ref bus._unsubscribes);
            }
        }
    }
}
