namespace ChatWire.Routing.Tests;

public sealed class InProcessMessageBusTests : MessageBusContract
{
    protected override Task<(IMessageBus Publisher, IMessageBus Subscriber)> CreateAsync()
    {
        var bus = new InProcessMessageBus();
        return Task.FromResult<(IMessageBus, IMessageBus)>((bus, bus));
    }

    [Fact]
    public async Task Publish_FromInsideACallback_IsDeliveredWithoutDeadlock()
    {
        var bus = new InProcessMessageBus();
        var first = BusTopic.Conversation(Guid.CreateVersion7());
        var second = BusTopic.User(Guid.CreateVersion7());
        var seen = new List<BusTopic>();
        await using var a = await bus.SubscribeAsync(first, new Callback(topic =>
        {
            seen.Add(topic);
            bus.PublishAsync(second, new byte[] { 2 }).AsTask().GetAwaiter().GetResult();
        }));
        await using var b = await bus.SubscribeAsync(second, new Callback(seen.Add));

        await bus.PublishAsync(first, new byte[] { 1 });

        Assert.Equal([first, second], seen);
    }

    [Fact]
    public async Task SubscribeEveryTopic_GetsEachTopicInPublishOrder_BesideTopicSubscribers_UntilDisposed()
    {
        var bus = new InProcessMessageBus();
        var conversation = BusTopic.Conversation(Guid.CreateVersion7());
        var user = BusTopic.User(Guid.CreateVersion7());
        var everything = new List<(BusTopic, byte)>();
        var onConversation = new List<byte>();
        var every = bus.SubscribeEveryTopic(new Payloads((topic, payload) => everything.Add((topic, payload))));
        await using var one = await bus.SubscribeAsync(conversation, new Payloads((_, payload) => onConversation.Add(payload)));

        await bus.PublishAsync(conversation, new byte[] { 1 });
        await bus.PublishAsync(user, new byte[] { 2 });
        await bus.PublishAsync(conversation, new byte[] { 3 });
        every.Dispose();
        every.Dispose();
        await bus.PublishAsync(user, new byte[] { 4 });
        await bus.PublishAsync(conversation, new byte[] { 5 });

        Assert.Equal([(conversation, 1), (user, 2), (conversation, 3)], everything);
        Assert.Equal([1, 3, 5], onConversation);
    }

    private sealed class Payloads(Action<BusTopic, byte> onPublished) : IBusSubscriber
    {
        public void OnPublished(BusTopic topic, ReadOnlyMemory<byte> payload) => onPublished(topic, payload.Span[0]);
    }

    private sealed class Callback(Action<BusTopic> onPublished) : IBusSubscriber
    {
        public void OnPublished(BusTopic topic, ReadOnlyMemory<byte> payload) => onPublished(topic);
    }
}
