using System.Threading.Channels;

namespace ChatWire.Client.Internal;

// The events waiting for the app to read them, kept near a capacity so that an app that stops reading does not
// make the connection hold everything that happens meanwhile:
// - stored events (messages, edits, …) are not lost when it is full: ConversationStreams stops emitting a
//   conversation's live events and raises its fill target instead, and the fill pages HISTORY only when a page
//   fits (TryReserve/ReserveAsync), so they come out later, in order, from the server's history;
// - the newest read state per conversation and presence per user replace older ones waiting behind a full buffer;
// - typing notices that meet a full buffer are dropped (a late one is worth nothing);
// - connection states, left conversations and key rotations always go in (they are few and must not be lost).
// Reads make room again (OnRead), waking fills that wait and letting waiting read states and presence out.
internal sealed class EventBuffer
{
    private readonly Channel<ChatWireEvent> _channel = Channel.CreateUnbounded<ChatWireEvent>();
    private readonly int _capacity;
    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, ChatWireEvent> _latestReadStates = [];
    private readonly Dictionary<Guid, ChatWireEvent> _latestPresence = [];
    private TaskCompletionSource _room = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _reserved;
    private int _roomWaiters;
    private bool _waiting;

    public EventBuffer(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
    }

    public ChannelReader<ChatWireEvent> Reader => _channel.Reader;

    public ChannelWriter<ChatWireEvent> Writer => _channel.Writer;

    public int Count => _channel.Reader.Count;

    public bool IsFull => _channel.Reader.Count >= _capacity;

    // Full, counting the room promised to fill pages in flight, or a fill waits for room: live stored events wait
    // for a fill from here on, so that a page that arrives finds the room it was promised, and a conversation whose
    // fill waits does not hold its live events meanwhile.
    public bool IsBehind => Volatile.Read(ref _roomWaiters) > 0 || _channel.Reader.Count + Volatile.Read(ref _reserved) >= _capacity;

    // Waiting read states and presence changes, and the room reserved for fill pages in flight.
    public (int Coalesced, int Reserved) Pending
    {
        get
        {
            lock (_lock)
            {
                return (_latestReadStates.Count + _latestPresence.Count, _reserved);
            }
        }
    }

    public void Write(ChatWireEvent item) => _channel.Writer.TryWrite(item);

    public void Complete(Exception? error) => _channel.Writer.TryComplete(error);

    public void WriteReadState(ReadStateChanged item) => WriteLatest(_latestReadStates, item.ConversationId, item);

    public void WritePresence(PresenceChanged item) => WriteLatest(_latestPresence, item.UserId, item);

    public void WriteTyping(TypingStarted item)
    {
        if (!IsFull)
        {
            _channel.Writer.TryWrite(item);
        }
    }

    // Room for a page of up to size fetched events: granted while the buffer and the pages already in flight
    // leave that much below the capacity, or to the first page when the buffer is empty however small the
    // capacity (so a fill always advances). Each grant is given back with Release once the page is in.
    public bool TryReserve(int size)
    {
        lock (_lock)
        {
            return TryReserveLocked(size);
        }
    }

    public async Task ReserveAsync(int size, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _roomWaiters);
        try
        {
            while (true)
            {
                Task room;
                lock (_lock)
                {
                    if (TryReserveLocked(size))
                    {
                        return;
                    }

                    _waiting = true;
                    room = _room.Task;
                }

                await room.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _roomWaiters);
        }
    }

    public void Release(int size)
    {
        lock (_lock)
        {
            _reserved -= size;
            if (_waiting && !IsFull)
            {
                WakeLocked();
            }
        }
    }

    // The app took one event: below the capacity, what waits for room gets its turn. Always under the lock: a
    // waiter that found the buffer full, and a read that emptied it a moment later, must not miss each other.
    public void OnRead()
    {
        lock (_lock)
        {
            if (_waiting && !IsFull)
            {
                WakeLocked();
            }
        }
    }

    private void WriteLatest(Dictionary<Guid, ChatWireEvent> latest, Guid key, ChatWireEvent item)
    {
        lock (_lock)
        {
            if (IsFull)
            {
                latest[key] = item;
                _waiting = true;
                return;
            }

            latest.Remove(key);
            _channel.Writer.TryWrite(item);
        }
    }

    // Called under _lock.
    private bool TryReserveLocked(int size)
    {
        var count = _channel.Reader.Count;
        if (count + _reserved + size > _capacity && !(count == 0 && _reserved == 0))
        {
            return false;
        }

        _reserved += size;
        return true;
    }

    // Called under _lock: lets waiting read states and presence out, and wakes the fills waiting for room.
    private void WakeLocked()
    {
        foreach (var latest in new[] { _latestReadStates, _latestPresence })
        {
            foreach (var item in latest.Values)
            {
                _channel.Writer.TryWrite(item);
            }

            latest.Clear();
        }

        _waiting = false;
        _room.TrySetResult();
        _room = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
