using ChatWire.Protocol.Frames;

namespace ChatWire.Gateway.Tests.HistoryCheck;

/// <summary>
/// What one device makes of the events it is given when it follows docs/protocol.md §4.10's rules: a watermark per
/// conversation (the highest seq up to which it holds every event), events past a gap held until the gap is
/// filled, and duplicates dropped. It records every event it uses, in the order it uses them, so that
/// <see cref="HistoryChecker"/> can check that a device following the rules ends up with each stored event once, in
/// seq order, whatever the nodes pushed it twice, out of order or not at all.
/// </summary>
internal sealed class DeviceTimeline(string name, IEnumerable<Guid> conversations)
{
    // Every conversation starts at 0: the device was a member before it first connected, and takes the whole history.
    private readonly Dictionary<Guid, ulong> _watermarks = conversations.ToDictionary(c => c, _ => 0UL);
    private readonly Dictionary<Guid, SortedDictionary<ulong, ConversationEvent>> _held = [];
    private readonly List<ConversationEvent> _used = [];

    public string Name => name;

    /// <summary>The events used, in the order they were used.</summary>
    public IReadOnlyList<ConversationEvent> Used => _used;

    /// <summary>Events used from HISTORY_PAGEs rather than from pushed EVENTs.</summary>
    public int UsedFromHistory { get; private set; }

    public IEnumerable<Guid> Conversations => _watermarks.Keys;

    public ulong Watermark(Guid conversation) => _watermarks[conversation];

    /// <summary>Whether events past a gap are held in the conversation: it needs a HISTORY fill after its watermark.</summary>
    public bool HasGap(Guid conversation) => _held.TryGetValue(conversation, out var held) && held.Count > 0;

    /// <summary>
    /// One event, pushed or read from history: dropped at or below the watermark (rule 1), used and followed by any
    /// held events it makes next when it is next (rule 2), held when it follows a gap (rule 3).
    /// </summary>
    public void Offer(ConversationEvent e, bool fromHistory)
    {
        if (!_watermarks.TryGetValue(e.ConversationId, out var watermark) || e.Seq <= watermark)
        {
            return;
        }

        if (e.Seq > watermark + 1)
        {
            if (!_held.TryGetValue(e.ConversationId, out var held))
            {
                _held[e.ConversationId] = held = [];
            }

            held.TryAdd(e.Seq, e);
            return;
        }

        Use(e, fromHistory);
        if (_held.TryGetValue(e.ConversationId, out var waiting))
        {
            while (waiting.Remove(_watermarks[e.ConversationId] + 1, out var next))
            {
                Use(next, fromHistory: false);
            }

            foreach (var stale in waiting.Keys.Where(seq => seq <= _watermarks[e.ConversationId]).ToList())
            {
                waiting.Remove(stale);
            }
        }
    }

    private void Use(ConversationEvent e, bool fromHistory)
    {
        _used.Add(e);
        _watermarks[e.ConversationId] = e.Seq;
        UsedFromHistory += fromHistory ? 1 : 0;
    }
}
