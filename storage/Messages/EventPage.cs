namespace ChatWire.Storage.Messages;

/// <summary>
/// One page of <see cref="IMessageStore.ReadAsync"/>, filled from rows that come nearest the starting seq
/// first, so stopping at the content-byte budget keeps the events nearest the start. The adapter reads while
/// <see cref="HasRoom"/>; the limit on the count is the query's.
/// </summary>
internal sealed class EventPage(int limit, long maxContentBytes)
{
    private readonly List<StoredEvent> _events = new(Math.Min(limit, 256));
    private long _bytes;

    /// <summary>False once the content read reaches the byte budget (the event that reached it is kept).</summary>
    public bool HasRoom => _bytes < maxContentBytes;

    public int Count => _events.Count;

    /// <summary>
    /// The seq a read starts from, as stored (signed 64-bit; seqs never come near <see cref="long.MaxValue"/>):
    /// reading before seq 0 means from the newest.
    /// </summary>
    public static long StartSeq(ulong fromSeq, ReadDirection direction)
    {
        var from = fromSeq > long.MaxValue ? long.MaxValue : (long)fromSeq;
        return direction == ReadDirection.Before && from == 0 ? long.MaxValue : from;
    }

    public void Add(StoredEvent e)
    {
        _bytes += e.Content.Length;
        _events.Add(e);
    }

    /// <summary>The page in seq order: a read before the start came newest first.</summary>
    public List<StoredEvent> InSeqOrder(ReadDirection direction)
    {
        if (direction == ReadDirection.Before)
        {
            _events.Reverse();
        }

        return _events;
    }
}
