using ChatWire.Client.Internal;
using ChatWire.Protocol.Frames;

namespace ChatWire.Client.Tests;

// The bound on what waits for the app in ReadEventsAsync, without a server.
public sealed class EventBufferTests
{
    private static readonly Guid First = Guid.CreateVersion7();
    private static readonly Guid Second = Guid.CreateVersion7();

    [Fact]
    public void Full_ReadStatesAndPresenceKeepTheNewestPerKey_TypingIsDropped_ControlEventsGoIn()
    {
        var buffer = Filled(capacity: 2);

        buffer.WriteReadState(new ReadStateChanged(First, 1, 5, 0));
        buffer.WriteReadState(new ReadStateChanged(First, 3, 3, 0));
        buffer.WriteReadState(new ReadStateChanged(Second, 2, 1, 1));
        buffer.WritePresence(new PresenceChanged(First, PresenceStatus.Away, null));
        buffer.WritePresence(new PresenceChanged(First, PresenceStatus.Online, null));
        buffer.WriteTyping(new TypingStarted(First, Second));
        buffer.Write(new ConversationLeft(Second));

        Assert.Equal(3, buffer.Count);
        Assert.Equal(3, buffer.Pending.Coalesced);

        // Reading makes room (below the capacity): what waited comes out, the newest of each.
        var read = ReadAll(buffer);
        Assert.Equal(0, buffer.Pending.Coalesced);
        Assert.Equal(2, read.OfType<ConnectionStateChanged>().Count());
        Assert.IsType<ConversationLeft>(read[2]);
        Assert.Contains(read, e => e is ReadStateChanged { ConversationId: var c, ReadSeq: 3 } && c == First);
        Assert.DoesNotContain(read, e => e is ReadStateChanged { ReadSeq: 1 });
        Assert.Contains(read, e => e is ReadStateChanged { ConversationId: var c } && c == Second);
        Assert.Equal(PresenceStatus.Online, Assert.Single(read.OfType<PresenceChanged>()).Status);
        Assert.Empty(read.OfType<TypingStarted>());

        // With room, they go straight in.
        buffer.WriteTyping(new TypingStarted(First, Second));
        Assert.Equal(1, buffer.Count);
    }

    [Fact]
    public async Task Reserve_APageWaitsUntilTheAppHasReadEnoughForIt_AndTheFirstPageOfAnEmptyBufferAlwaysGoes()
    {
        var buffer = Filled(capacity: 4);
        Assert.False(buffer.TryReserve(2));

        var waiting = buffer.ReserveAsync(2, CancellationToken.None);
        Assert.True(buffer.Reader.TryRead(out _));
        buffer.OnRead();
        Assert.False(waiting.IsCompleted);

        // 3 waiting + a page of 2 > 4; once one more is read, it fits.
        Assert.True(buffer.Reader.TryRead(out _));
        buffer.OnRead();
        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, buffer.Pending.Reserved);

        buffer.Release(2);
        ReadAll(buffer);

        // A page bigger than the whole capacity still goes when nothing waits, else a fill could never advance.
        Assert.True(buffer.TryReserve(200));
        Assert.False(buffer.TryReserve(1));
    }

    [Fact]
    public async Task Reserve_Cancelled_StopsWaiting()
    {
        var buffer = Filled(capacity: 1);
        using var cancel = new CancellationTokenSource();

        var waiting = buffer.ReserveAsync(1, cancel.Token);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(0, buffer.Pending.Reserved);
    }

    private static EventBuffer Filled(int capacity)
    {
        var buffer = new EventBuffer(capacity);
        for (var i = 0; i < capacity; i++)
        {
            buffer.Write(new ConnectionStateChanged(ConnectionState.Connected, null));
        }

        Assert.True(buffer.IsFull);
        return buffer;
    }

    private static List<ChatWireEvent> ReadAll(EventBuffer buffer)
    {
        var read = new List<ChatWireEvent>();
        while (buffer.Reader.TryRead(out var item))
        {
            buffer.OnRead();
            read.Add(item);
        }

        return read;
    }
}
