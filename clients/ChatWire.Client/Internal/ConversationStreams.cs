using System.Threading.Channels;
using ChatWire.Protocol.Frames;

namespace ChatWire.Client.Internal;

// Turns the events a connection receives (pushed live, or fetched to fill a gap) into the ordered event
// stream the SDK's user reads, per conversation, following docs/protocol.md §4.10:
// - each conversation has a contiguous watermark: every event up to it has been emitted, in seq order;
// - an event at or below the watermark is a duplicate (delivery is at least once) and is dropped;
// - an event past watermark + 1 is held, and the conversation needs a fill (HISTORY After the watermark);
//   held events come out once the fill has closed the gap.
// - between a link's AUTH_OK and its SYNC answer (a catch-up), a live event in a conversation without a
//   watermark is held in an unstarted stream: SYNC, not the first event that happens to arrive, says where
//   the conversation starts (a device resuming from its cursor must not skip what it missed).
// - a conversation I left (my own MEMBER_LEFT came out) is marked left; one with a watermark that a complete SYNC
//   no longer lists was left while this connection could not see it, and gets a ConversationLeft instead (the
//   MEMBER_LEFT cannot be fetched: HISTORY answers NOT_MEMBER). A left conversation that comes back (I joined it
//   again) starts afresh, like one never seen, except that what already came out never comes out again: its
//   new watermark is at least the old one.
// - a conversation an event arrived for during the catch-up is one I am in now (joined again after the SYNC was
//   read, perhaps), whatever that SYNC listed: if I am removed again, my own MEMBER_LEFT says so.
// - while the app is behind (the event buffer is full), a started conversation's live events are not kept: its
//   fill target rises to them instead, and the fill fetches them from history once the app has read enough
//   (EventBuffer); until that fill ends, the conversation's live events keep going that way, so nothing piles up.
// The connection runs the fills; this class only keeps the books, under one lock.
internal sealed class ConversationStreams
{
    private readonly ChannelWriter<ChatWireEvent> _events;
    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, Stream> _streams = [];
    private readonly Func<bool> _appBehind;
    private bool _catchingUp;
    private Guid _me;

    public ConversationStreams(ChannelWriter<ChatWireEvent> events, IReadOnlyDictionary<Guid, ulong>? resume = null, Func<bool>? appBehind = null)
    {
        _events = events;
        _appBehind = appBehind ?? (static () => false);
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
            return _streams.TryGetValue(conversationId, out var stream) && !stream.Unstarted ? stream.Watermark : null;
        }
    }

    public Dictionary<Guid, ulong> Snapshot()
    {
        lock (_lock)
        {
            return _streams.Where(pair => !pair.Value.Unstarted && !pair.Value.Left).ToDictionary(pair => pair.Key, pair => pair.Value.Watermark);
        }
    }

    // A link is authenticated as me and its SYNC not yet answered: from now until EndCatchUp, live events in
    // conversations without a watermark wait for Start. Called before the link's read loop can see an event.
    public void BeginCatchUp(Guid me)
    {
        lock (_lock)
        {
            _catchingUp = true;
            _me = me;
            foreach (var stream in _streams.Values)
            {
                stream.LiveDuringCatchUp = false;
            }
        }
    }

    // Where a conversation not seen before starts: events up to startAfter count as already seen; what
    // arrived live meanwhile and lies beyond comes out once the gap up to it is filled. A conversation
    // already known keeps its watermark. True when it was new.
    public bool Start(Guid conversationId, ulong startAfter)
    {
        lock (_lock)
        {
            if (!_streams.TryGetValue(conversationId, out var stream))
            {
                _streams[conversationId] = new Stream { Watermark = startAfter };
                return true;
            }

            if (stream.Left)
            {
                Replace(conversationId, stream, new Stream { Watermark = Math.Max(startAfter, stream.Watermark) });
                return true;
            }

            if (!stream.Unstarted)
            {
                return false;
            }

            stream.Unstarted = false;
            stream.Watermark = Math.Max(startAfter, stream.Floor);
            foreach (var seq in stream.Held.Keys.Where(seq => seq <= stream.Watermark).ToList())
            {
                stream.Held.Remove(seq);
            }

            EmitContiguous(stream);
            return true;
        }
    }

    // The catch-up's starts are made. A conversation that SYNC did not list but an event arrived for (joined
    // after the SYNC was read) starts at its first held event, as a live event outside a catch-up would.
    // Returns those still held behind a gap, for the caller to fill.
    public List<Guid> EndCatchUp()
    {
        lock (_lock)
        {
            _catchingUp = false;
            var gapped = new List<Guid>();
            foreach (var (conversationId, stream) in _streams)
            {
                if (!stream.Unstarted)
                {
                    continue;
                }

                stream.Unstarted = false;
                stream.Watermark = Math.Max(stream.Held.Keys.First() - 1, stream.Floor);
                EmitContiguous(stream);
                if (stream.Held.Count > 0)
                {
                    gapped.Add(conversationId);
                }
            }

            return gapped;
        }
    }

    // The conversations a complete SYNC listed, after their Start: every other conversation with a watermark
    // that I have not seen myself leave is one I left, or was removed from, unseen. What it still holds comes out
    // (nothing fills the gap now), then one ConversationLeft; it leaves the snapshot.
    public void EndMembership(IReadOnlySet<Guid> listed)
    {
        lock (_lock)
        {
            foreach (var (conversationId, stream) in _streams)
            {
                if (stream.Unstarted || stream.Left || stream.LiveDuringCatchUp || listed.Contains(conversationId))
                {
                    continue;
                }

                End(conversationId, stream, heldJoinCounts: false);
            }
        }
    }

    // A pushed event. True when it is held behind a gap that no running fill covers: the caller starts one.
    public bool OnLive(ConversationEvent e)
    {
        lock (_lock)
        {
            if (_streams.TryGetValue(e.ConversationId, out var left) && left.Left && !left.LeftByFill)
            {
                if (e.Seq <= left.Watermark)
                {
                    return false;
                }

                // I joined it again: it starts afresh at this event (or where SYNC says, during a catch-up).
                Replace(e.ConversationId, left, NewStream(e.Seq, floor: left.Watermark));
            }

            if (!_streams.TryGetValue(e.ConversationId, out var stream))
            {
                stream = NewStream(e.Seq, floor: 0);
                _streams[e.ConversationId] = stream;
            }

            stream.LiveDuringCatchUp |= _catchingUp;
            if (stream.Unstarted)
            {
                if (e.Seq > stream.Floor)
                {
                    stream.Held.TryAdd(e.Seq, e);
                }

                return false;
            }

            if (stream.Deferring || _appBehind())
            {
                // The app is behind: the fill fetches this event when it has room.
                if (e.Seq <= stream.Watermark)
                {
                    return false;
                }

                stream.Deferring = true;
                stream.Target = Math.Max(stream.Target, e.Seq);
                return !stream.Filling;
            }

            return Accept(stream, e) && !stream.Filling;
        }
    }

    // An event fetched by a fill. One for a conversation I have left since, or that started afresh and waits
    // for SYNC to say where, is dropped: the fill that fetched it was asked before, from a watermark that
    // no longer holds. Unless the leave came out of this fill itself: what the same fill fetches after it is the
    // history the server let me read (my join again comes with it).
    public void OnFetched(ConversationEvent e)
    {
        lock (_lock)
        {
            var stream = StreamFor(e);
            if ((!stream.Left || stream.LeftByFill) && !stream.Unstarted)
            {
                Accept(stream, e);
                stream.LeftByFill = stream.Left;
            }
        }
    }

    // Claims the conversation's fill up to at least target. False when one runs already (it is told the
    // new target) or nothing is missing; else from is where to page HISTORY After.
    public bool TryBeginFill(Guid conversationId, ulong target, out ulong from) => TryBeginFill(conversationId, target, out from, out _);

    // As above; generation names the stream the fill was claimed for (a conversation I left and joined again is
    // a new one), for AbandonFill.
    public bool TryBeginFill(Guid conversationId, ulong target, out ulong from, out int generation)
    {
        lock (_lock)
        {
            var stream = _streams.TryGetValue(conversationId, out var existing) ? existing : _streams[conversationId] = new Stream();
            generation = stream.Generation;
            if (stream.Unstarted)
            {
                from = 0;
                return false;
            }

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
            if ((stream.Left && !stream.LeftByFill) || stream.Unstarted)
            {
                // Left meanwhile (nothing to fetch), or started afresh during a catch-up, whose end fills it.
                stream.Filling = false;
                stream.Deferring = false;
                stream.LeftByFill = false;
                return false;
            }

            // Left by an event of this fill, with more held or wanted past it (my join again, left to the fill while
            // the app was behind): the next page brings it, or a NOT_A_MEMBER refusal says I am out after all.
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
            stream.Deferring = false;
            stream.LeftByFill = false;
            stream.RetriedAfterRejoin = false;
            return false;
        }
    }

    // The fill stopped early. When the link dropped, what is held stays held for the next catch-up. When the
    // server refused it because I am not a member, the conversation ends here as one SYNC stopped listing does,
    // except where the refusal may predate my being in it again: it was asked for the stream before a rejoin
    // (generation), or my own MEMBER_JOINED is held behind the gap (events of several nodes out of order). Then
    // true: fill again (once, for a held join), since as a member I may read the gap after all.
    public bool AbandonFill(Guid conversationId, bool notAMember, int generation = -1)
    {
        lock (_lock)
        {
            if (!_streams.TryGetValue(conversationId, out var stream))
            {
                return false;
            }

            stream.Filling = false;
            stream.LeftByFill = false;
            if (!notAMember || stream.Unstarted || stream.Left)
            {
                return false;
            }

            if (generation >= 0 && generation != stream.Generation)
            {
                return true;
            }

            if (!stream.RetriedAfterRejoin && LastOwnMembershipHeldIsJoin(stream))
            {
                stream.RetriedAfterRejoin = true;
                return true;
            }

            End(conversationId, stream, heldJoinCounts: true);
            return false;
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

    // Called under _lock. A conversation first seen through a live event: during a catch-up it waits for where
    // SYNC starts it; otherwise (typically my own MEMBER_JOINED) it starts at this event. Floor is where a
    // conversation I left and joined again had come out up to.
    private Stream NewStream(ulong seq, ulong floor) =>
        _catchingUp ? new Stream { Unstarted = true, Floor = floor } : new Stream { Watermark = Math.Max(seq - 1, floor) };

    // Called under _lock: a left conversation starts afresh. A fill still running for the old stream goes on
    // as this one's (one fill per conversation), from this one's watermark.
    private void Replace(Guid conversationId, Stream old, Stream fresh)
    {
        fresh.Filling = old.Filling;
        fresh.Generation = old.Generation + 1;
        _streams[conversationId] = fresh;
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
        EmitContiguous(stream);
        return false;
    }

    // Called under _lock: I am not a member of the conversation any more. What it holds comes out as it is
    // (nothing can fill the gap), then one ConversationLeft unless my own MEMBER_LEFT was the last of my
    // membership events among them (that said it). When the refusal may be older than what is held (a fill's
    // NOT_A_MEMBER, with events of several nodes out of order), my own MEMBER_JOINED coming out last means I
    // am in it again and it goes on; a complete SYNC that does not list it is newer than anything held before it.
    private void End(Guid conversationId, Stream stream, bool heldJoinCounts)
    {
        var rejoined = LastOwnMembershipHeldIsJoin(stream);
        ReleaseHeld(stream);
        stream.Target = stream.Watermark;
        if (stream.Left || (rejoined && heldJoinCounts))
        {
            return;
        }

        stream.Left = true;
        _events.TryWrite(new ConversationLeft(conversationId));
    }

    // Called under _lock.
    private bool LastOwnMembershipHeldIsJoin(Stream stream)
    {
        var rejoined = false;
        foreach (var e in stream.Held.Values)
        {
            if (e.SubjectId == _me && e.Kind is EventKind.MemberJoined or EventKind.MemberLeft)
            {
                rejoined = e.Kind == EventKind.MemberJoined;
            }
        }

        return rejoined;
    }

    // Called under _lock: emits the held events that now follow the watermark without a gap.
    private void EmitContiguous(Stream stream)
    {
        while (stream.Held.Remove(stream.Watermark + 1, out var next))
        {
            Emit(stream, next);
        }
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
        if (e.SubjectId == _me && e.Kind is EventKind.MemberJoined or EventKind.MemberLeft)
        {
            stream.Left = e.Kind == EventKind.MemberLeft;
        }

        ChatWireEvent? item = e.Kind switch
        {
            EventKind.Message => new MessageReceived(e),
            EventKind.MemberJoined or EventKind.MemberLeft => new MembershipChanged(e),
            EventKind.MessageEdited => new MessageEdited(e),
            EventKind.MessageDeleted => new MessageDeleted(e),
            EventKind.ReactionAdded or EventKind.ReactionRemoved => new ReactionChanged(e),
            EventKind.ChannelUpdated => new ChannelUpdated(e),

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

        // Created by a live event during a catch-up; its watermark means nothing until Start or EndCatchUp.
        public bool Unstarted { get; set; }

        public SortedDictionary<ulong, ConversationEvent> Held { get; } = [];

        // I left (my MEMBER_LEFT came out, or SYNC stopped listing it): not in the snapshot, and an event that
        // arrives later (I joined again) starts the conversation afresh.
        public bool Left { get; set; }

        // Of a conversation I joined again: the watermark it had when I left. Nothing at or below it comes out again.
        public ulong Floor { get; set; }

        // An event arrived live for it since the current catch-up began: I am a member now, whatever SYNC listed.
        public bool LiveDuringCatchUp { get; set; }

        // Counts the restarts of a conversation I left and joined again (a fill claimed before one does not end the new one).
        public int Generation { get; set; }

        // A fill refused with NOT_A_MEMBER while my own join was held was tried again once; a second refusal ends it.
        public bool RetriedAfterRejoin { get; set; }

        // Live events met a full event buffer: they are left to the fill (Target) until it ends.
        public bool Deferring { get; set; }

        // Left by an event the running fill fetched: the fill goes on past it (and live events wait for it), since
        // what it fetches next is history the server lets me read, my join again included.
        public bool LeftByFill { get; set; }
    }
}
