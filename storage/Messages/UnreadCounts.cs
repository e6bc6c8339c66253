namespace ChatWire.Storage.Messages;

/// <summary>The unread and mention counts of <see cref="ConversationStats"/>, capped as every adapter caps them.</summary>
internal static class UnreadCounts
{
    /// <summary>
    /// The stats of one conversation: each count comes from a range that stops at
    /// <see cref="IMessageStore.MaxCountedUnread"/>, and is capped there whatever the adapter's count returned.
    /// </summary>
    public static ConversationStats Stats(ulong lastSeq, ulong readSeq, int unread, int mentions, ulong deviceCursor) =>
        new(lastSeq, readSeq, Math.Min(unread, IMessageStore.MaxCountedUnread), Math.Min(mentions, IMessageStore.MaxCountedUnread))
        {
            DeviceCursor = deviceCursor,
        };
}
