namespace ChatWire.Routing.Tests;

public sealed class InProcessMessageBusTests
{
    [Fact]
    public async Task Publish_ToSubscribedTopic_ReachesEverySubscriberOnce()
    {
        var bus = new InProcessMessageBus();
        var topic = BusTopic.Conversation(Guid.CreateVersion7());
        var a = new Recorder();
        var b = new Recorder();
        using var sa = bus.Subscribe(topic, a);
        using var sb = bus.Subscribe(topic, b);

        await bus.PublishAsync(topic, new byte[] { 1, 2, 3 });

        Assert.Equal([new byte[] { 1, 2, 3 }], a.Payloads);
        Assert.Equal([new byte[] { 1, 2, 3 }], b.Payloads);
    }

    [Fact]
    public async Task Publish_ToOtherTopic_IsNotDelivered()
    {
        var bus = new InProcessMessageBus();
        var recorder = new Recorder();
        using var subscription = bus.Subscribe(BusTopic.User(Guid.CreateVersion7()), recorder);

        await bus.PublishAsync(BusTopic.User(Guid.CreateVersion7()), new byte[] { 9 });
        await bus.PublishAsync(BusTopic.Conversation(Guid.CreateVersion7()), new byte[] { 9 });

        Assert.Empty(recorder.Payloads);
    }

    [Fact]
    public async Task Dispose_Subscription_StopsDeliveryToThatSubscriberOnly()
    {
        var bus = new InProcessMessageBus();
        var topic = BusTopic.Conversation(Guid.CreateVersion7());
        var kept = new Recorder();
        var dropped = new Recorder();
        using var keep = bus.Subscribe(topic, kept);
        var drop = bus.Subscribe(topic, dropped);

        drop.Dispose();
        drop.Dispose();
        await bus.PublishAsync(topic, new byte[] { 7 });

        Assert.Single(kept.Payloads);
        Assert.Empty(dropped.Payloads);
    }

    [Fact]
    public void BusTopic_ToString_NamesKindAndId()
    {
        var id = Guid.Parse("01937a1e-6d4b-7c3a-9f12-3b5c7d9e1f20");
        Assert.Equal("conv:01937a1e-6d4b-7c3a-9f12-3b5c7d9e1f20", BusTopic.Conversation(id).ToString());
        Assert.Equal("user:01937a1e-6d4b-7c3a-9f12-3b5c7d9e1f20", BusTopic.User(id).ToString());
    }

    private sealed class Recorder : IBusSubscriber
    {
        public List<byte[]> Payloads { get; } = [];

        public void OnPublished(BusTopic topic, ReadOnlyMemory<byte> payload)
        {
            lock (Payloads)
            {
                Payloads.Add(payload.ToArray());
            }
        }
    }
}
