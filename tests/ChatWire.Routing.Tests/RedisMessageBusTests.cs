using ChatWire.Routing.Redis;
using ChatWire.Tests.Shared;
using StackExchange.Redis;

namespace ChatWire.Routing.Tests;

/// <summary>
/// The Redis pub/sub bus against the real Redis the suite started: two nodes, each with its own connection,
/// as two gateway processes would have.
/// </summary>
public sealed class RedisMessageBusTests : MessageBusContract
{
    private readonly List<IAsyncDisposable> _owned = [];

    protected override bool OrdersAcrossTopics => false;

    protected override async Task<(IMessageBus Publisher, IMessageBus Subscriber)> CreateAsync()
    {
        var publisher = await NodeAsync(BackingServices.Redis);
        var subscriber = await NodeAsync(BackingServices.Redis);
        return (publisher, subscriber);
    }

    protected override async Task DisposeBusesAsync()
    {
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            await owned.DisposeAsync();
        }
    }

    [Fact]
    public async Task Publish_WithLocalAndRemoteSubscribers_ReachesEachOnceWithOnePublish()
    {
        var bus = (RedisMessageBus)Publisher;
        var remote = (RedisMessageBus)Subscriber;
        var third = await NodeAsync(BackingServices.Redis);
        var topic = BusTopic.Conversation(Guid.CreateVersion7());
        var local = new Recorder();
        var far = new Recorder();
        var farther = new Recorder();
        await using var a = await bus.SubscribeAsync(topic, local);
        await using var b = await remote.SubscribeAsync(topic, far);
        await using var c = await third.SubscribeAsync(topic, farther);
        var publishedBefore = bus.Published;

        await bus.PublishAsync(topic, new byte[] { 4, 2 });

        await far.WaitForAsync(1, Describe);
        await farther.WaitForAsync(1, Describe);
        await Settle();
        Assert.Equal([new byte[] { 4, 2 }], local.Payloads);
        Assert.Equal([new byte[] { 4, 2 }], far.Payloads);
        Assert.Equal([new byte[] { 4, 2 }], farther.Payloads);
        Assert.Equal(1, bus.Published - publishedBefore);
    }

    [Fact]
    public async Task Publish_RoundRobinOverManyTopics_ReachesARemoteNodeInOrderPerTopic()
    {
        // Per-topic order across nodes rests on each channel's queue: a handler subscription alone is called
        // on the thread pool in no promised order, and a burst over many channels shows it (BusSubscriptionMemory's
        // --handler-order counted 5 to 114 overtaken messages in 200,000 over 16 channels on this machine).
        var topics = Enumerable.Range(0, 64).Select(_ => BusTopic.Conversation(Guid.CreateVersion7())).ToArray();
        var recorders = topics.Select(_ => new Recorder()).ToArray();
        var subscriptions = new List<IAsyncDisposable>();
        for (var t = 0; t < topics.Length; t++)
        {
            subscriptions.Add(await Subscriber.SubscribeAsync(topics[t], recorders[t]));
        }

        const int PerTopic = 1_000;
        for (var i = 0; i < PerTopic * topics.Length; i++)
        {
            await Publisher.PublishAsync(topics[i % topics.Length], BitConverter.GetBytes(i / topics.Length));
        }

        for (var t = 0; t < topics.Length; t++)
        {
            await recorders[t].WaitForAsync(PerTopic, Describe);
            Assert.Equal(Enumerable.Range(0, PerTopic), recorders[t].Payloads.Select(p => BitConverter.ToInt32(p)));
        }

        foreach (var subscription in subscriptions)
        {
            await subscription.DisposeAsync();
        }
    }

    [Fact]
    public async Task Subscribe_TwiceOnOneNode_HoldsOneRedisSubscriptionUntilTheLastLeaves()
    {
        var node = (RedisMessageBus)Subscriber;
        var topic = BusTopic.Conversation(Guid.CreateVersion7());
        var channel = RedisChannel.Literal("chatwire:" + topic);
        var probe = await ConnectAsync(BackingServices.Redis);
        var server = probe.GetServer(probe.GetEndPoints()[0]);

        var first = await node.SubscribeAsync(topic, new Recorder());
        var second = await node.SubscribeAsync(topic, new Recorder());
        Assert.Equal(1, await server.SubscriptionSubscriberCountAsync(channel));

        await first.DisposeAsync();
        Assert.Equal(1, await server.SubscriptionSubscriberCountAsync(channel));
        await second.DisposeAsync();
        Assert.Equal(0, await server.SubscriptionSubscriberCountAsync(channel));
        Assert.Equal(0, node.SubscribedTopics);
    }

    [Fact]
    public async Task RedisRestart_DeliveryResumesAndLocalDeliveryNeverStops()
    {
        await using var redis = await PrivateRedis.StartAsync();
        var publisherConnection = await ConnectAsync(redis.Configuration);
        var publisher = new RedisMessageBus(publisherConnection, Guid.NewGuid());
        _owned.Add(publisher);
        var subscriber = await NodeAsync(redis.Configuration);
        var topic = BusTopic.Conversation(Guid.CreateVersion7());
        var local = new Recorder();
        var remote = new Recorder();
        await using var a = await publisher.SubscribeAsync(topic, local);
        await using var b = await subscriber.SubscribeAsync(topic, remote);
        var reconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        subscriber.Reconnected += () => reconnected.TrySetResult();

        await publisher.PublishAsync(topic, new byte[] { 1 });
        await remote.WaitForAsync(1, Describe);

        // The client sees the closed sockets on its own threads a moment after the server is gone; published before
        // then, payload 2 would go out fire-and-forget (and be replayed all the same) rather than count as a failure.
        await redis.StopAsync();
        using (var down = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while (publisherConnection.IsConnected)
            {
                await Task.Delay(20, down.Token);
            }
        }

        await publisher.PublishAsync(topic, new byte[] { 2 });
        Assert.Equal(2, local.Payloads.Count);
        Assert.Equal(1, publisher.PublishFailures);

        await redis.StartAgainAsync();
        await reconnected.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // The subscription is restored, and what was published while Redis was down is published again.
        using (var replay = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while (!remote.Payloads.Any(p => p[0] == 2))
            {
                await Task.Delay(100, replay.Token);
            }
        }

        Assert.True(publisher.Replayed >= 1);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!remote.Payloads.Any(p => p[0] == 3))
        {
            await publisher.PublishAsync(topic, new byte[] { 3 });
            await Task.Delay(100, timeout.Token);
        }

        // The replay is for other nodes: the local subscriber had payload 2 once, at once, and not again.
        Assert.Single(local.Payloads, p => p[0] == 2);
    }

    [Fact]
    public async Task Subscribe_WhileRedisIsDown_ServesLocallyAndSubscribesWhenRedisIsBack()
    {
        await using var redis = await PrivateRedis.StartAsync();
        var publisher = await NodeAsync(redis.Configuration);
        var subscriber = await NodeAsync(redis.Configuration);
        var topic = BusTopic.User(Guid.CreateVersion7());
        await redis.StopAsync();

        var local = new Recorder();
        var remote = new Recorder();
        await using var a = await publisher.SubscribeAsync(topic, local);
        await using var b = await subscriber.SubscribeAsync(topic, remote);
        await publisher.PublishAsync(topic, new byte[] { 1 });
        Assert.Single(local.Payloads);
        Assert.True(subscriber.SubscribeFailures > 0);

        await redis.StartAgainAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        while (!remote.Payloads.Any(p => p[0] == 2))
        {
            await publisher.PublishAsync(topic, new byte[] { 2 });
            await Task.Delay(100, timeout.Token);
        }

        // Payload 1 was published while Redis was down: the publisher publishes it again once its connection is
        // back, so it reaches the remote node too when the remote's subscription was back first.
        Assert.All(remote.Payloads, p => Assert.Contains(p[0], new byte[] { 1, 2 }));
    }

    [Fact]
    public async Task Subscribe_RefusedOnALiveConnection_IsTriedAgainUntilItWorks()
    {
        // A SUBSCRIBE can fail while the connection stays up (in production: in the moment between a
        // reconnection and the connection being ready; here: Redis refuses the channel to the node's user).
        // No reconnection follows to try it again, so the node keeps trying on its own.
        await using var redis = await PrivateRedis.StartAsync();
        var admin = await ConnectAsync(redis.Configuration);
        await admin.GetDatabase().ExecuteAsync(
            "ACL", "SETUSER", "node", "on", ">node-secret", "~*", "+@all", "resetchannels", "&__Booksleeve_MasterChanged");
        var publisher = await NodeAsync(redis.Configuration);
        var subscriber = await NodeAsync(redis.Configuration + ",user=node,password=node-secret");
        var reconnections = 0;
        subscriber.Reconnected += () => Interlocked.Increment(ref reconnections);
        var topic = BusTopic.User(Guid.CreateVersion7());
        var remote = new Recorder();

        await using var b = await subscriber.SubscribeAsync(topic, remote);
        Assert.True(subscriber.SubscribeFailures > 0);
        await admin.GetDatabase().ExecuteAsync("ACL", "SETUSER", "node", "allchannels");

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (remote.Payloads.Count == 0)
        {
            await publisher.PublishAsync(topic, new byte[] { 7 });
            await Task.Delay(100, timeout.Token);
        }

        Assert.All(remote.Payloads, p => Assert.Equal(7, p[0]));
        Assert.Equal(0, Volatile.Read(ref reconnections));
    }

    private async Task<RedisMessageBus> NodeAsync(string configuration)
    {
        var connection = await ConnectAsync(configuration);
        var bus = new RedisMessageBus(connection, Guid.NewGuid());
        _owned.Add(bus);
        return bus;
    }

    private async Task<ConnectionMultiplexer> ConnectAsync(string configuration)
    {
        var options = ConfigurationOptions.Parse(configuration);
        options.AbortOnConnectFail = false;
        options.BacklogPolicy = BacklogPolicy.FailFast;
        options.ConnectRetry = 1;
        options.ReconnectRetryPolicy = new LinearRetry(200);
        var connection = await ConnectionMultiplexer.ConnectAsync(options);
        _owned.Add(connection);

        // Without AbortOnConnectFail, ConnectAsync returns after its connect timeout whether or not the
        // connection is up, and a loaded machine can take that long: every test starts from nodes that are
        // connected (a bus that is not yet connected drops publishes, by design). IsConnected speaks only of
        // the interactive connection (PUBLISH); SUBSCRIBE goes over a second one that connects on its own
        // schedule, and a SUBSCRIBE sent before it is up fails fast and is retried a second later, after the
        // test's publish has gone by: wait for both.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var subscriber = connection.GetSubscriber();
        while (!connection.IsConnected || !subscriber.IsConnected())
        {
            await Task.Delay(50, timeout.Token);
        }

        return connection;
    }

    protected override string Describe() =>
        $"publisher: {Describe((RedisMessageBus)Publisher)}; subscriber: {Describe((RedisMessageBus)Subscriber)}";

    private static string Describe(RedisMessageBus bus) =>
        $"published {bus.Published}, publish failures {bus.PublishFailures}, received {bus.Received}, subscribe failures {bus.SubscribeFailures}";
}
