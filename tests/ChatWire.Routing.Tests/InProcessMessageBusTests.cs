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

    private sealed class Callback(Action<BusTopic> onPublished) : IBusSubscriber
    {
        public void OnPublished(BusTopic topic, ReadOnlyMemory<byte> payload) => onPublished(topic);
    }
}
