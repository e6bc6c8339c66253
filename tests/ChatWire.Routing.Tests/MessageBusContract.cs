namespace ChatWire.Routing.Tests;

/// <summary>
/// What every <see cref="IMessageBus"/> adapter promises the gateway (the remarks on <see cref="IMessageBus"/>),
/// written once: the in-process bus and the Redis pub/sub adapter run it. An adapter's test
/// class supplies a publishing bus and one or more subscribing buses (for the in-process bus, the same one;
/// for Redis, connections of different nodes).
/// </summary>
public abstract class MessageBusContract : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>Where the tests publish.</summary>
    protected IMessageBus Publisher { get; private set; } = null!;

    /// <summary>Where the tests subscribe: another node's view of the same bus.</summary>
    protected IMessageBus Subscriber { get; private set; } = null!;

    protected abstract Task<(IMessageBus Publisher, IMessageBus Subscriber)> CreateAsync();

    protected virtual Task DisposeBusesAsync() => Task.CompletedTask;

    /// <summary>What the adapter can say about its state, for a failure message (counters, connections).</summary>
    protected virtual string Describe() => "";

    /// <summary>
    /// Whether one publisher's payloads on different topics reach <see cref="Subscriber"/> in publish order
    /// (the in-process bus: yes; a remote subscriber of Redis pub/sub: per topic only).
    /// </summary>
    protected virtual bool OrdersAcrossTopics => true;

    public async Task InitializeAsync() => (Publisher, Subscriber) = await CreateAsync();

    public Task DisposeAsync() => DisposeBusesAsync();

    [Fact]
    public async Task Publish_ToSubscribedTopic_ReachesEverySubscriberOnce()
    {
        var topic = BusTopic.Conversation(Guid.CreateVersion7());
        var a = new Recorder();
        var b = new Recorder();
        await using var sa = await Subscriber.SubscribeAsync(topic, a);
        await using var sb = await Subscriber.SubscribeAsync(topic, b);

        await Publisher.PublishAsync(topic, new byte[] { 1, 2, 3 });

        await a.WaitForAsync(1, Describe);
        await b.WaitForAsync(1, Describe);
        await Settle();
        Assert.Equal([new byte[] { 1, 2, 3 }], a.Payloads);
        Assert.Equal([new byte[] { 1, 2, 3 }], b.Payloads);
    }

    [Fact]
    public async Task Publish_ToOtherTopic_IsNotDelivered()
    {
        var recorder = new Recorder();
        var user = BusTopic.User(Guid.CreateVersion7());
        await using var subscription = await Subscriber.SubscribeAsync(user, recorder);

        await Publisher.PublishAsync(BusTopic.User(Guid.CreateVersion7()), new byte[] { 9 });
        await Publisher.PublishAsync(BusTopic.Conversation(user.Id), new byte[] { 9 });
        await Publisher.PublishAsync(user, new byte[] { 1 });

        await recorder.WaitForAsync(1, Describe);
        await Settle();
        Assert.Equal([new byte[] { 1 }], recorder.Payloads);
    }

    [Fact]
    public async Task Dispose_Subscription_StopsDeliveryToThatSubscriberOnly()
    {
        var topic = BusTopic.Conversation(Guid.CreateVersion7());
        var kept = new Recorder();
        var dropped = new Recorder();
        await using var keep = await Subscriber.SubscribeAsync(topic, kept);
        var drop = await Subscriber.SubscribeAsync(topic, dropped);

        await drop.DisposeAsync();
        await drop.DisposeAsync();
        await Publisher.PublishAsync(topic, new byte[] { 7 });

        await kept.WaitForAsync(1, Describe);
        await Settle();
        Assert.Empty(dropped.Payloads);
    }

    [Fact]
    public async Task Publish_ManyWithoutAwaiting_ArriveInPublishOrder()
    {
        // The gateway's one publisher relies on this: a conversation's events reach a node in the order
        // published; and on a bus that orders across topics, a membership change on the conversation's topic
        // then the user's too.
        var conversation = BusTopic.Conversation(Guid.CreateVersion7());
        var user = BusTopic.User(Guid.CreateVersion7());
        var recorder = new Recorder();
        await using var onConversation = await Subscriber.SubscribeAsync(conversation, recorder);
        await using var onUser = await Subscriber.SubscribeAsync(user, recorder);

        var publishes = new List<Task>();
        for (var i = 0; i < 1_000; i++)
        {
            publishes.Add(Publisher.PublishAsync(i % 3 == 0 ? user : conversation, BitConverter.GetBytes(i)).AsTask());
        }

        await Task.WhenAll(publishes);
        await recorder.WaitForAsync(1_000, Describe);
        var received = recorder.Payloads.Select(p => BitConverter.ToInt32(p)).ToList();
        if (OrdersAcrossTopics)
        {
            Assert.Equal(Enumerable.Range(0, 1_000), received);
        }
        else
        {
            Assert.Equal(Enumerable.Range(0, 1_000).Where(i => i % 3 == 0), received.Where(i => i % 3 == 0));
            Assert.Equal(Enumerable.Range(0, 1_000).Where(i => i % 3 != 0), received.Where(i => i % 3 != 0));
        }
    }

    [Fact]
    public async Task Publish_FromManyThreads_NeverCallsOneSubscriberConcurrently()
    {
        var topic = BusTopic.Conversation(Guid.CreateVersion7());
        var recorder = new Recorder();
        await using var subscription = await Subscriber.SubscribeAsync(topic, recorder);

        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(async () =>
        {
            for (var i = 0; i < 200; i++)
            {
                await Publisher.PublishAsync(topic, new byte[] { (byte)t });
            }
        })));

        await recorder.WaitForAsync(1_600, Describe);
        Assert.Equal(1, recorder.MostAtOnce);
    }

    [Fact]
    public async Task Publish_NoSubscriber_Succeeds()
    {
        await Publisher.PublishAsync(BusTopic.Conversation(Guid.CreateVersion7()), new byte[] { 1 });
    }

    [Fact]
    public void BusTopic_ToString_NamesKindAndId()
    {
        var id = Guid.Parse("01937a1e-6d4b-7c3a-9f12-3b5c7d9e1f20");
        Assert.Equal("conv:01937a1e-6d4b-7c3a-9f12-3b5c7d9e1f20", BusTopic.Conversation(id).ToString());
        Assert.Equal("user:01937a1e-6d4b-7c3a-9f12-3b5c7d9e1f20", BusTopic.User(id).ToString());
    }

    // Lets anything still in flight arrive, so "nothing more arrived" is a real observation.
    protected static Task Settle() => Task.Delay(100);

    protected sealed class Recorder : IBusSubscriber
    {
        private readonly List<byte[]> _payloads = [];
        private int _inside;
        private int _mostAtOnce;

        public List<byte[]> Payloads
        {
            get
            {
                lock (_payloads)
                {
                    return [.. _payloads];
                }
            }
        }

        public int MostAtOnce => Volatile.Read(ref _mostAtOnce);

        public void OnPublished(BusTopic topic, ReadOnlyMemory<byte> payload)
        {
            var inside = Interlocked.Increment(ref _inside);
            if (inside > _mostAtOnce)
            {
                Volatile.Write(ref _mostAtOnce, inside);
            }

            // Long enough for an overlapping call to show up, if the bus allowed one.
            Thread.SpinWait(200);
            lock (_payloads)
            {
                _payloads.Add(payload.ToArray());
            }

            Interlocked.Decrement(ref _inside);
        }

        public async Task WaitForAsync(int count, Func<string>? describe = null)
        {
            var deadline = DateTime.UtcNow + Patience;
            while (Payloads.Count < count)
            {
                Assert.True(
                    DateTime.UtcNow < deadline,
                    $"{Payloads.Count} of {count} payloads within {Patience}. {describe?.Invoke()}");
                await Task.Delay(10);
            }
        }
    }
}
