using System.Threading.Channels;
using ChatWire.Protocol.Frames;

namespace ChatWire.Client.Internal;

// Turns the events a connection receives (pushed live, or fetched to fill a gap) into the ordered event
// stream the SDK's user reads, per conversation, following docs/protocol.md §4.10:
// - each conversation has a contiguous watermark: every event up to it has been emitted, in seq order;
// - an event at or below the watermark is a duplicate (delivery is at least once) and is dropped;
// - an event past watermark + 1 is held, and the conversation needs a fill (HISTORY After the watermark);
//   held events come out once the fill has closed the gap.
// The connection runs the fills; this class only keeps the books, under one lock.
internal sealed class ConversationStreams
{
    private readonly ChannelWriter<ChatWireEvent> _events;
    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, Stream> _streams = [];

    public ConversationStreams(ChannelWriter<ChatWireEvent> events, IReadOnlyDictionary<Guid, ulong>? resume = null)
    {
        _events = events;
        foreach (var (conversationId, watermark) in resume ?? new Dictionary<Guid, ulong>())
        {
            _streams[conversationId] = new Stream { Watermark = watermark };
        }
    }

    public int HeldCount
    {
        get
        {
            lock (_lock)
            {
                return _streams.Values.Sum(s => s.Held.Count);
            }
        }
    }

    public ulong? Watermark(Guid conversationId)
    {
        lock (_lock)
        {
            return _streams.TryGetValue(conversationId, out var stream) ? stream.Watermark : null;
        }
    }

    public Dictionary<Guid, ulong> Snapshot()
    {
        lock (_lock)
        {
            return _streams.ToDictionary(pair => pair.Key, pair => pair.Value.Watermark);
        }
    }

    // Where a conversation not seen before starts: events up to startAfter count as already seen. A
    // conversation already known keeps its watermark. True when it was new.
    public bool Start(Guid conversationId, ulong startAfter)
    {
        lock (_lock)
        {
            return _streams.TryAdd(conversationId, new Stream { Watermark = startAfter });
        }
    }

    // A pushed event. True when it is held behind a gap that no running fill covers: the caller starts one.
    public bool OnLive(ConversationEvent e)
    {
        lock (_lock)
        {
            // An event in a conversation not seen before (typically my own MEMBER_JOINED) starts it there.
            var stream = StreamFor(e);
            return Accept(stream, e) && !stream.Filling;
        }
    }

    // An event fetched by a fill.
    public void OnFetched(ConversationEvent e)
    {
        lock (_lock)
        {
            Accept(StreamFor(e), e);
        }
    }

    // Claims the conversation's fill up to at least target. False when one runs already (it is told the
    // new target) or nothing is missing; else from is where to page HISTORY After.
    public bool TryBeginFill(Guid conversationId, ulong target, out ulong from)
    {
        lock (_lock)
        {
            var stream = _streams.TryGetValue(conversationId, out var existing) ? existing : _streams[conversationId] = new Stream();
            stream.Target = Math.Max(stream.Target, target);
            from = stream.Watermark;
            if (stream.Filling || (stream.Watermark >= stream.Target && stream.Held.Count == 0))
            {
                return false;
            }

            stream.Filling = true;
            return true;
        }
    }

    // After a page of a fill: true with where to page next while something is still missing. An empty
    // page with events still held means the gap cannot be filled (the server has nothing there): the held
    // events come out as they are rather than wait forever.
    public bool ContinueFill(Guid conversationId, bool pageWasEmpty, out ulong from)
    {
        lock (_lock)
        {
            var stream = _streams[conversationId];
            from = stream.Watermark;
            var missing = stream.Held.Count > 0 || stream.Watermark < stream.Target;
            if (missing && !pageWasEmpty)
            {
                return true;
            }

            if (stream.Held.Count > 0)
            {
                ReleaseHeld(stream);
            }

            stream.Filling = false;
            return false;
        }
    }

    // The fill stopped early. When the server refused it (no longer a member), what is held comes out as
    // it is; when the link dropped, it stays held for the next catch-up.
    public void AbandonFill(Guid conversationId, bool releaseHeld)
    {
        lock (_lock)
        {
            if (!_streams.TryGetValue(conversationId, out var stream))
            {
                return;
            }

            if (releaseHeld)
            {
                ReleaseHeld(stream);
                stream.Target = stream.Watermark;
            }

            stream.Filling = false;
        }
    }

    // Called under _lock.
    private Stream StreamFor(in ConversationEvent e)
    {
        if (!_streams.TryGetValue(e.ConversationId, out var stream))
        {
            stream = new Stream { Watermark = e.Seq - 1 };
            _streams[e.ConversationId] = stream;
        }

        return stream;
    }

    // Called under _lock; true when the event is held behind a gap.
    private bool Accept(Stream stream, in ConversationEvent e)
    {
        if (e.Seq <= stream.Watermark)
        {
            return false;
        }

        if (e.Seq > stream.Watermark + 1)
        {
            stream.Held.TryAdd(e.Seq, e);
            return true;
        }

        Emit(stream, e);
        while (stream.Held.Remove(stream.Watermark + 1, out var next))
        {
            Emit(stream, next);
        }

        return false;
    }

    // Called under _lock: emits what is held in seq order, skipping the gap.
    private void ReleaseHeld(Stream stream)
    {
        foreach (var e in stream.Held.Values)
        {
            Emit(stream, e);
        }

        stream.Held.Clear();
    }

    private void Emit(Stream stream, in ConversationEvent e)
    {
        stream.Watermark = e.Seq;
        ChatWireEvent? item = e.Kind switch
        {
            EventKind.Message => new MessageReceived(e),
            EventKind.MemberJoined or EventKind.MemberLeft => new MembershipChanged(e),
            EventKind.MessageEdited => new MessageEdited(e),
            EventKind.MessageDeleted => new MessageDeleted(e),
            EventKind.ReactionAdded or EventKind.ReactionRemoved => new ReactionChanged(e),

            // A kind this version does not know still moves the watermark; it is not surfaced.
            _ => null,
        };
        if (item is not null)
        {
            _events.TryWrite(item);
        }
    }

    private sealed class Stream
    {
        public ulong Watermark { get; set; }

        // The seq a fill must reach (a SYNC's last seq); events beyond the watermark arrive as they come.
        public ulong Target { get; set; }

        public bool Filling { get; set; }

        public SortedDictionary<ulong, ConversationEvent> Held { get; } = [];
    }
}
