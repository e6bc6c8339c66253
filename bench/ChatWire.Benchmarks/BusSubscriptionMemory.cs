using System.Collections.Concurrent;
using System.Globalization;
using ChatWire.Routing;
using ChatWire.Routing.Redis;
using StackExchange.Redis;

namespace ChatWire.Benchmarks;

/// <summary>
/// <c>--bus-memory REDIS [MODE] [n1 n2 ...]</c>: the managed bytes one node retains per subscribed topic on the
/// distributed-mode bus, as the slope of <see cref="GC.GetTotalMemory(bool)"/> (after full collections) between
/// two topic counts, against a real Redis (<c>host:port</c>, e.g. from <c>scripts/services.sh</c>). MODE:
/// <c>bus</c> (default) subscribes through <see cref="RedisMessageBus"/>, one subscriber per topic as the
/// gateway does; <c>presence</c> watches one user per topic through <see cref="RedisPresenceRegistry"/> (a
/// presence channel each, as a node watching users for its connections); the others subscribe the same channels
/// straight through StackExchange.Redis, to tell its part
/// from ChatWire's: <c>queue-loop</c> (a <see cref="ChannelMessageQueue"/> per channel read by
/// <c>OnMessage</c>), <c>queue</c> (the queue, nobody reading it), <c>handler</c> (one shared handler for every
/// channel). The subscriber object itself is one shared instance, so only the bus's cost is counted.
/// </summary>
/// <remarks>
/// <c>--handler-order REDIS [channels] [messages]</c>: whether StackExchange.Redis hands one channel's messages
/// to a handler subscription in arrival order. One connection publishes round-robin over the channels, another
/// receives through one shared handler; prints how many messages reached the handler after a later one of
/// the same channel.
/// </remarks>
internal static class BusSubscriptionMemory
{
    public static async Task<int> RunAsync(string redis, string mode, IReadOnlyList<int> counts)
    {
        Console.WriteLine($"bus subscriptions ({mode}) against {redis}, counts {string.Join(", ", counts)}");
        await using var connection = await ConnectAsync(redis);
        await using var bus = new RedisMessageBus(connection, Guid.NewGuid());
        await using var presence = new RedisPresenceRegistry(connection, "bench-" + Guid.NewGuid().ToString("N"));
        var subscriber = connection.GetSubscriber();
        var sink = new Sink();
        Action<RedisChannel, RedisValue> handler = sink.OnMessage;
        var held = new List<object>();
        var subscribed = 0;
        var readings = new List<(int Topics, long Bytes)>();

        // Everything that is created once (the bus's and the connection's first-use state) before the first reading.
        await SubscribeAsync(bus, presence, subscriber, handler, sink, mode, 0, held);
        subscribed = 1;
        readings.Add((1, await HeapSlopes.SettledHeapAsync(TimeSpan.FromSeconds(1))));
        foreach (var count in counts.Order())
        {
            // Not all at once: a few hundred SUBSCRIBEs in flight keep the connection busy without a backlog.
            while (subscribed < count)
            {
                var batch = Math.Min(256, count - subscribed);
                await Task.WhenAll(Enumerable.Range(subscribed, batch).Select(i => SubscribeAsync(bus, presence, subscriber, handler, sink, mode, i, held)));
                subscribed += batch;
            }

            var bytes = await HeapSlopes.SettledHeapAsync(TimeSpan.FromSeconds(1));
            readings.Add((count, bytes));
            var server = connection.GetServer(connection.GetEndPoints()[0]);
            var channels = (await server.ExecuteAsync("PUBSUB", "CHANNELS", mode is "bus" or "presence" ? "chatwire:*" : "bench:*")).Length;
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{count} topics: {bytes / 1024.0:N0} KiB managed, bus topics {bus.SubscribedTopics}, subscribe failures {bus.SubscribeFailures}, Redis channels {channels}"));
        }

        HeapSlopes.Print(readings, $"subscribed topic ({mode})");

        GC.KeepAlive(held);
        await subscriber.UnsubscribeAllAsync();
        return 0;
    }

    private static async Task SubscribeAsync(
        RedisMessageBus bus,
        RedisPresenceRegistry presence,
        ISubscriber subscriber,
        Action<RedisChannel, RedisValue> handler,
        Sink sink,
        string mode,
        int index,
        List<object> held)
    {
        var id = new Guid(index, 0, 0, new byte[8]);
        var channel = RedisChannel.Literal($"bench:user:{id:D}");
        object handle;
        switch (mode)
        {
            case "bus":
                handle = await bus.SubscribeAsync(BusTopic.User(id), sink);
                break;
            case "presence":
                await presence.WatchAsync([id], CancellationToken.None);
                handle = id;
                break;
            case "queue-loop":
                var loop = await subscriber.SubscribeAsync(channel);
                loop.OnMessage(sink.OnChannelMessage);
                handle = loop;
                break;
            case "queue":
                handle = await subscriber.SubscribeAsync(channel);
                break;
            case "handler":
                await subscriber.SubscribeAsync(channel, handler);
                handle = channel;
                break;
            default:
                throw new ArgumentException($"unknown mode {mode}: bus, presence, queue-loop, queue or handler");
        }

        lock (held)
        {
            held.Add(handle);
        }
    }

    /// <summary>
    /// <c>--bus-throughput REDIS [topics] [messages]</c>: one node publishes round-robin over the topics, another
    /// node subscribed to them all receives; prints the time from the first publish to the last receipt and
    /// the managed bytes allocated on the way (both nodes are in this process).
    /// </summary>
    public static async Task<int> RunThroughputAsync(string redis, int topics, int messages)
    {
        await using var publishing = await ConnectAsync(redis);
        await using var receiving = await ConnectAsync(redis);
        await using var publisher = new RedisMessageBus(publishing, Guid.NewGuid());
        await using var subscriber = new RedisMessageBus(receiving, Guid.NewGuid());
        var names = Enumerable.Range(0, topics).Select(_ => BusTopic.Conversation(Guid.NewGuid())).ToArray();
        var counter = new Counter(messages);
        foreach (var name in names)
        {
            await subscriber.SubscribeAsync(name, counter);
        }

        var payload = new byte[64];
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        for (var i = 0; i < messages; i++)
        {
            await publisher.PublishAsync(names[i % topics], payload);
        }

        await counter.Done.Task.WaitAsync(TimeSpan.FromSeconds(120));
        var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{messages} payloads of 64 bytes over {topics} topics to a remote node: {elapsed.TotalMilliseconds:N0} ms, {messages / elapsed.TotalSeconds:N0}/s, {(double)allocated / messages:N0} B allocated per payload (publisher and receiver)"));
        return 0;
    }

    private sealed class Counter(int expected) : IBusSubscriber
    {
        private int _count;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void OnPublished(BusTopic topic, ReadOnlyMemory<byte> payload)
        {
            if (++_count == expected)
            {
                Done.TrySetResult();
            }
        }
    }

    public static async Task<int> RunHandlerOrderAsync(string redis, int channels, int messages)
    {
        await using var receiving = await ConnectAsync(redis);
        await using var publishing = await ConnectAsync(redis);
        var names = Enumerable.Range(0, channels).Select(i => RedisChannel.Literal($"bench:order:{Guid.NewGuid():D}")).ToArray();
        var last = new ConcurrentDictionary<RedisChannel, int>();
        var received = 0;
        var overtaken = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnMessage(RedisChannel channel, RedisValue value)
        {
            var n = (int)value;
            var previous = last.AddOrUpdate(channel, n, (_, seen) => Math.Max(seen, n));
            if (previous != n)
            {
                Interlocked.Increment(ref overtaken);
            }

            if (Interlocked.Increment(ref received) == messages)
            {
                done.TrySetResult();
            }
        }

        var subscriber = receiving.GetSubscriber();
        foreach (var name in names)
        {
            await subscriber.SubscribeAsync(name, OnMessage);
        }

        var publisher = publishing.GetSubscriber();
        for (var i = 0; i < messages; i++)
        {
            publisher.Publish(names[i % channels], i, CommandFlags.FireAndForget);
        }

        await done.Task.WaitAsync(TimeSpan.FromSeconds(120));
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"handler subscription, {channels} channels, {messages} messages from one connection: {overtaken} reached the handler after a later message of their channel"));
        await subscriber.UnsubscribeAllAsync();
        return 0;
    }

    private static async Task<ConnectionMultiplexer> ConnectAsync(string redis)
    {
        var options = ConfigurationOptions.Parse(redis);
        options.AbortOnConnectFail = true;
        var connection = await ConnectionMultiplexer.ConnectAsync(options);
        var subscriber = connection.GetSubscriber();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!connection.IsConnected || !subscriber.IsConnected())
        {
            await Task.Delay(50, timeout.Token);
        }

        return connection;
    }

    private sealed class Sink : IBusSubscriber
    {
        private long _count;

        public void OnPublished(BusTopic topic, ReadOnlyMemory<byte> payload) => Interlocked.Increment(ref _count);

        public void OnMessage(RedisChannel channel, RedisValue value) => Interlocked.Increment(ref _count);

        public void OnChannelMessage(ChannelMessage message) => Interlocked.Increment(ref _count);
    }
}
