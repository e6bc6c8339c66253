namespace ChatWire.Storage.Messages;

/// <summary>
/// What a stored conversation event is. The numbers are stored and are the protocol's kind numbers;
/// new kinds (edits, deletions, reactions, SKIP tombstones) are added, never renumbered.
/// </summary>
public enum EventKind : byte
{
    /// <summary>A message: content type and content as the sender gave them.</summary>
    Message = 0,

    /// <summary>The subject user became a member; the sender is who added them.</summary>
    MemberJoined = 1,

    /// <summary>The subject user stopped being a member; the sender is who removed them.</summary>
    MemberLeft = 2,
}

/// <summary>
/// An event to append. <see cref="EventId"/> is unique within its conversation: for a message it is the
/// id the sender chose (the idempotency key), for other kinds one the server chose.
/// </summary>
public sealed record NewEvent(
    Guid ConversationId,
    Guid EventId,
    EventKind Kind,
    Guid SenderUserId,
    Guid SenderDeviceId,
    string ContentType,
    ReadOnlyMemory<byte> Content,
    Guid? SubjectId = null)
{
    /// <summary>
    /// The team whose storage the content counts against besides its sender's (a channel's team; null in a
    /// DM). Not part of the stored event: it feeds <see cref="IMessageStore.GetUsageAsync"/> only.
    /// </summary>
    public Guid? UsageTeamId { get; init; }

    /// <summary>A message from a device.</summary>
    public static NewEvent Message(Guid conversationId, Guid messageId, Guid senderUserId, Guid senderDeviceId, string contentType, ReadOnlyMemory<byte> content) =>
        new(conversationId, messageId, EventKind.Message, senderUserId, senderDeviceId, contentType, content);

    /// <summary>A membership change of <paramref name="subjectUserId"/>, made by <paramref name="actorUserId"/> from <paramref name="actorDeviceId"/>.</summary>
    public static NewEvent Membership(Guid conversationId, EventKind kind, Guid subjectUserId, Guid actorUserId, Guid actorDeviceId) =>
        new(conversationId, Guid.CreateVersion7(), kind, actorUserId, actorDeviceId, string.Empty, ReadOnlyMemory<byte>.Empty, subjectUserId);
}

/// <summary>A stored event with its server-assigned seq and time.</summary>
public sealed record StoredEvent(
    Guid ConversationId,
    Guid EventId,
    ulong Seq,
    EventKind Kind,
    Guid SenderUserId,
    Guid SenderDeviceId,
    DateTimeOffset StoredAt,
    string ContentType,
    ReadOnlyMemory<byte> Content,
    Guid? SubjectId = null);

public enum AppendOutcome
{
    /// <summary>Stored now, with a new seq.</summary>
    Stored = 0,

    /// <summary>The same event id was stored before by the same device with the same kind and body: the original seq.</summary>
    Duplicate = 1,

    /// <summary>The event id was stored before by another device, or with another kind or body: nothing stored.</summary>
    Conflict = 2,
}

/// <summary>The result of an append: for Stored and Duplicate, the event as stored.</summary>
public sealed record AppendResult(AppendOutcome Outcome, StoredEvent? Event);

public enum ReadDirection
{
    /// <summary>Seq below the starting seq (0 = from the newest).</summary>
    Before = 0,

    /// <summary>Seq above the starting seq.</summary>
    After = 1,
}

/// <summary>
/// Told of every batch of events as it commits. Called once per committed batch, in commit order, with the
/// events stored by that batch (not duplicates or conflicts) in the order they were appended, which for one
/// conversation is ascending seq. Called on the store's writer, before the batch's waiters complete: it
/// must not throw, and it may block to push back (no further batch commits until it returns).
/// </summary>
public interface ICommitObserver
{
    void OnCommitted(IReadOnlyList<StoredEvent> events);
}

/// <summary>
/// The message port: every conversation's events (messages, membership changes, …) in one gap-free seq
/// space per conversation. The seq is assigned inside the write that stores the event, and an append
/// completes only once the event is durable. Adapters: SQLite (embedded), MongoDB (distributed). Every
/// adapter passes MessageStoreContract.
/// </summary>
public interface IMessageStore
{
    /// <summary>
    /// Queues an append. The returned task completes once the event is queued; the task it yields completes
    /// once the event is durable. Events one caller queues, awaiting each enqueue before the next, are stored
    /// in that order: within a conversation their seqs increase in the order they were queued.
    /// </summary>
    ValueTask<Task<AppendResult>> EnqueueAsync(NewEvent newEvent, CancellationToken cancellationToken = default);

    /// <summary>Appends and waits until the event is durable.</summary>
    async Task<AppendResult> AppendAsync(NewEvent newEvent, CancellationToken cancellationToken = default) =>
        await (await EnqueueAsync(newEvent, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);

    /// <summary>
    /// Events next to <paramref name="fromSeq"/> (exclusive), ascending by seq: at most <paramref name="limit"/>,
    /// and no more once the content read reaches <paramref name="maxContentBytes"/> (the event that crosses it is
    /// the last one; with a positive budget, at least one is returned when any exists).
    /// </summary>
    Task<IReadOnlyList<StoredEvent>> ReadAsync(Guid conversationId, ulong fromSeq, ReadDirection direction, int limit, long maxContentBytes = long.MaxValue, CancellationToken cancellationToken = default);

    /// <summary>The seq of each conversation's newest event; a conversation with none is left out.</summary>
    Task<IReadOnlyDictionary<Guid, ulong>> GetLatestSeqsAsync(IReadOnlyCollection<Guid> conversationIds, CancellationToken cancellationToken = default);

    /// <summary>Tells <paramref name="observer"/> of every batch committed from now on, until the handle is disposed.</summary>
    IDisposable ObserveCommits(ICommitObserver observer);

    /// <summary>
    /// Content bytes stored so far for each owner: a user (what they sent) or a team (what was sent in its
    /// channels, <see cref="NewEvent.UsageTeamId"/>). An owner with nothing stored is left out.
    /// </summary>
    Task<IReadOnlyDictionary<Guid, long>> GetUsageAsync(IReadOnlyCollection<Guid> ownerIds, CancellationToken cancellationToken = default);
}
