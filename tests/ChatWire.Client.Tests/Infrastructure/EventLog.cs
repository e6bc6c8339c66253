using System.Threading.Channels;
using ChatWire.Protocol.Frames;

namespace ChatWire.Client.Tests.Infrastructure;

// A connection's event stream, pumped into a channel as it comes, so a test can wait for the next event with a
// bound and give up without leaving a read pending on the SDK's enumerator (disposing one mid-read throws).
internal sealed class EventLog
{
    private readonly Channel<ChatWireEvent> _events = Channel.CreateUnbounded<ChatWireEvent>();

    public EventLog(ChatWireConnection connection)
    {
        _ = Task.Run(async () =>
        {
            try
            {
                await foreach (var item in connection.ReadEventsAsync())
                {
                    _events.Writer.TryWrite(item);
                }

                _events.Writer.TryComplete();
            }
            catch (Exception ex)
            {
                _events.Writer.TryComplete(ex);
            }
        });
    }

    public async Task<T> NextAsync<T>()
        where T : ChatWireEvent
    {
        using var timeout = new CancellationTokenSource(Patience.Default);
        var item = await _events.Reader.ReadAsync(timeout.Token);
        return Assert.IsType<T>(item);
    }

    public async Task<ConversationEvent> NextMessageAsync() => (await NextAsync<MessageReceived>()).Message;

    // The next event of type T, passing over any other.
    public async Task<T> NextOfAsync<T>()
        where T : ChatWireEvent
    {
        while (true)
        {
            if (await NextAnyAsync() is T item)
            {
                return item;
            }
        }
    }

    // What has arrived and not been read yet, without waiting.
    public List<ChatWireEvent> Arrived()
    {
        var items = new List<ChatWireEvent>();
        while (_events.Reader.TryRead(out var item))
        {
            items.Add(item);
        }

        return items;
    }

    public async Task<ChatWireEvent> NextAnyAsync()
    {
        using var timeout = new CancellationTokenSource(Patience.Default);
        return await _events.Reader.ReadAsync(timeout.Token);
    }

    // The next connection state change, passing over events (a connection receives its own messages too).
    public async Task<ConnectionStateChanged> NextStateAsync()
    {
        while (true)
        {
            using var timeout = new CancellationTokenSource(Patience.Default);
            var item = await _events.Reader.ReadAsync(timeout.Token);
            if (item is ConnectionStateChanged change)
            {
                return change;
            }

            Assert.True(item is MessageReceived or MembershipChanged, $"Unexpected {item.GetType().Name}.");
        }
    }

    // The next message, passing over connection state changes (a restart may add a few).
    public async Task<ConversationEvent> NextMessageSkippingStatesAsync()
    {
        while (true)
        {
            using var timeout = new CancellationTokenSource(Patience.Default);
            var item = await _events.Reader.ReadAsync(timeout.Token);
            if (item is MessageReceived received)
            {
                return received.Message;
            }

            Assert.IsType<ConnectionStateChanged>(item);
        }
    }
}
