using System.Threading.Channels;
using ChatWire.Client.Internal;
using ChatWire.Client.Tests.Infrastructure;

namespace ChatWire.Client.Tests;

public sealed class MessageDeliveryTests
{
    private static readonly Guid Conversation = Guid.CreateVersion7();
    private static readonly Guid Other = Guid.CreateVersion7();

    private readonly Channel<ChatWireEvent> _events = Channel.CreateUnbounded<ChatWireEvent>();

    [Fact]
    public void DeliverLive_SameMessageTwice_EmitsOnce()
    {
        var delivery = new MessageDelivery(_events.Writer, 100);
        var message = Messages.Text(Conversation, 1);

        delivery.DeliverLive(message);
        delivery.DeliverLive(message);
        delivery.DeliverMissed(message);

        Assert.Equal([1UL], Seqs());
        Assert.Equal(1UL, delivery.HighestSeq(Conversation));
    }

    [Fact]
    public void DeliverLive_SameIdInAnotherConversation_IsNotADuplicate()
    {
        var delivery = new MessageDelivery(_events.Writer, 100);
        var id = Guid.CreateVersion7();

        delivery.DeliverLive(Messages.Text(Conversation, 1, messageId: id));
        delivery.DeliverLive(Messages.Text(Other, 1, messageId: id));

        Assert.Equal(2, Seqs().Count);
    }

    [Fact]
    public void Hold_LiveMessagesWaitForTheCatchUp_ThenDuplicatesDrop()
    {
        var delivery = new MessageDelivery(_events.Writer, 100);
        delivery.DeliverLive(Messages.Text(Conversation, 1));
        var four = Messages.Text(Conversation, 4);

        var targets = delivery.BeginHold();
        delivery.DeliverLive(four);
        delivery.DeliverLive(Messages.Text(Conversation, 5));
        Assert.Equal(2, delivery.HeldCount);
        delivery.DeliverMissed(Messages.Text(Conversation, 2));
        delivery.DeliverMissed(Messages.Text(Conversation, 3));
        delivery.DeliverMissed(four);
        delivery.EndHold(_ => true);

        Assert.Equal([new KeyValuePair<Guid, ulong>(Conversation, 1)], targets);
        Assert.Equal([1UL, 2, 3, 4, 5], Seqs());
        Assert.Equal(5UL, delivery.HighestSeq(Conversation));
    }

    [Fact]
    public void EndHold_ReleaseSaysNo_DropsThoseHeldMessages()
    {
        var delivery = new MessageDelivery(_events.Writer, 100);
        delivery.BeginHold();
        delivery.DeliverLive(Messages.Text(Conversation, 7));
        delivery.DeliverLive(Messages.Text(Other, 1));

        delivery.EndHold(conversation => conversation == Other);

        var received = Drain();
        Assert.Equal(Other, Assert.Single(received).ConversationId);
        Assert.Null(delivery.HighestSeq(Conversation));
    }

    [Fact]
    public void Dedupe_WindowIsBounded_OldestIdsForgotten()
    {
        var delivery = new MessageDelivery(_events.Writer, 2);
        var first = Messages.Text(Conversation, 1);

        delivery.DeliverLive(first);
        delivery.DeliverLive(Messages.Text(Conversation, 2));
        delivery.DeliverLive(Messages.Text(Conversation, 3));
        delivery.DeliverLive(first);

        Assert.Equal([1UL, 2, 3, 1], Seqs());
    }

    private List<ulong> Seqs() => Drain().Select(message => message.Seq).ToList();

    private List<Protocol.Frames.ChatMessage> Drain()
    {
        var list = new List<Protocol.Frames.ChatMessage>();
        while (_events.Reader.TryRead(out var item))
        {
            list.Add(Assert.IsType<MessageReceived>(item).Message);
        }

        return list;
    }
}
