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

    /// <summary>
    /// The subject message (its event id) was edited by its author: the content is the new content, which
    /// also replaces the message's own.
    /// </summary>
    MessageEdited = 3,

    /// <summary>
    /// The subject message was deleted by its author or a moderator: its content, and that of its edits, is
    /// erased; its seq stays, as a tombstone.
    /// </summary>
    MessageDeleted = 4,

    /// <summary>The sender reacted to the subject message; the content is the emoji, UTF-8.</summary>
    ReactionAdded = 5,

    /// <summary>The sender took back a reaction to the subject message; the content is the emoji, UTF-8.</summary>
    ReactionRemoved = 6,

    /// <summary>
    /// Reserved: a seq that holds nothing. No store writes it: each allocates seqs inside the transaction that stores
    /// their events, so a failed write gives them back and the sequence stays gap-free (docs/protocol.md §4.10).
    /// </summary>
    Skip = 7,

    /// <summary>
    /// A channel's settings changed (name, topic, slow mode, archive state); the sender is who changed them, the
    /// content the settings after the change, as docs/protocol.md §4.10 encodes them. No subject.
    /// </summary>
    ChannelUpdated = 8,
}

/// <summary>Who a message mentions besides the users it names.</summary>
[Flags]
public enum GroupMentions : byte
{
    None = 0,

    /// <summary>@channel: every member of the conversation.</summary>
    Channel = 1,

    /// <summary>@here: every member who is online.</summary>
    Here = 2,
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

    /// <summary>For a message, the root of the thread it replies in; null for a message in the conversation itself.</summary>
    public Guid? ThreadRootId { get; init; }

    /// <summary>For a message, the users it mentions (distinct).</summary>
    public IReadOnlyList<Guid> Mentions { get; init; } = [];

    /// <summary>For a message, whether it mentions @channel or @here.</summary>
    public GroupMentions GroupMentions { get; init; }

    /// <summary>For a deletion: the actor may delete other people's messages (a team admin or owner).</summary>
    public bool ActorModerates { get; init; }

    /// <summary>The event as an adapter stored it, under <paramref name="seq"/> at <paramref name="storedAt"/>.</summary>
    internal StoredEvent ToStored(ulong seq, DateTimeOffset storedAt) =>
        new(ConversationId, EventId, seq, Kind, SenderUserId, SenderDeviceId, storedAt, ContentType, Content, SubjectId)
        {
            ThreadRootId = ThreadRootId,
            Mentions = Mentions,
            GroupMentions = GroupMentions,
        };

    /// <summary>A message from a device.</summary>
    public static NewEvent Message(Guid conversationId, Guid messageId, Guid senderUserId, Guid senderDeviceId, string contentType, ReadOnlyMemory<byte> content) =>
        new(conversationId, messageId, EventKind.Message, senderUserId, senderDeviceId, contentType, content);

    /// <summary>A membership change of <paramref name="subjectUserId"/>, made by <paramref name="actorUserId"/> from <paramref name="actorDeviceId"/>.</summary>
    public static NewEvent Membership(Guid conversationId, EventKind kind, Guid subjectUserId, Guid actorUserId, Guid actorDeviceId) =>
        new(conversationId, Guid.CreateVersion7(), kind, actorUserId, actorDeviceId, string.Empty, ReadOnlyMemory<byte>.Empty, subjectUserId);

    /// <summary>A change to message <paramref name="messageId"/> (an edit, deletion or reaction), under an id the server chooses.</summary>
    public static NewEvent Change(Guid conversationId, EventKind kind, Guid messageId, Guid actorUserId, Guid actorDeviceId, string contentType, ReadOnlyMemory<byte> content) =>
        new(conversationId, Guid.CreateVersion7(), kind, actorUserId, actorDeviceId, contentType, content, messageId);

    /// <summary>A change of a channel's settings, made by <paramref name="actorUserId"/>: <paramref name="content"/> holds them as they are now.</summary>
    public static NewEvent ChannelUpdated(Guid conversationId, Guid actorUserId, Guid actorDeviceId, ReadOnlyMemory<byte> content) =>
        new(conversationId, Guid.CreateVersion7(), EventKind.ChannelUpdated, actorUserId, actorDeviceId, string.Empty, content);
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
    Guid? SubjectId = null)
{
    /// <summary>For a message, the root of its thread; null outside threads.</summary>
    public Guid? ThreadRootId { get; init; }

    /// <summary>For a message, the users it mentions.</summary>
    public IReadOnlyList<Guid> Mentions { get; init; } = [];

    /// <summary>For a message, @channel and @here.</summary>
    public GroupMentions GroupMentions { get; init; }

    /// <summary>For a message read back: when its author last edited it (the content is the edited one).</summary>
    public DateTimeOffset? EditedAt { get; init; }

    /// <summary>For a message read back: when it was deleted (its content is then empty), or for an edit read back, when its message was.</summary>
    public DateTimeOffset? DeletedAt { get; init; }
}

/// <summary>A reaction count on a message: how many users reacted with the emoji, and whether the reader did.</summary>
public sealed record ReactionCount(string Emoji, int Count, bool Mine);

/// <summary>What a message has gathered since it was sent: its thread (when it is a root) and its reactions.</summary>
public sealed record MessageDetails(int ReplyCount, DateTimeOffset? LastReplyAt, IReadOnlyList<Guid> ThreadParticipants, IReadOnlyList<ReactionCount> Reactions);

/// <summary>
/// Where a user stands in one conversation: its newest seq, the user's read position, and the messages
/// after that position from other people (unread) and those that mention the user (both counted up to
/// <see cref="IMessageStore.MaxCountedUnread"/>).
/// </summary>
public readonly record struct ConversationStats(ulong LastSeq, ulong ReadSeq, int UnreadCount, int MentionCount)
{
    /// <summary>The asking device's delivery cursor (0 when it acknowledged nothing, or no device was named).</summary>
    public ulong DeviceCursor { get; init; }
}

/// <summary>Why an append was refused (<see cref="AppendOutcome.Refused"/>).</summary>
public enum AppendRefusal
{
    None = 0,

    /// <summary>The message the event refers to (edited, deleted, reacted to, replied to) is not in the conversation, or was deleted.</summary>
    TargetNotFound = 1,

    /// <summary>Only the author may edit a message, and only the author or a moderator delete it.</summary>
    NotAuthor = 2,

    /// <summary>A reply names a reply as its thread root; threads are one level deep.</summary>
    RootIsReply = 3,

    /// <summary>The message holds the most reactions allowed (distinct emoji, or per user).</summary>
    TooManyReactions = 4,
}

public enum AppendOutcome
{
    /// <summary>Stored now, with a new seq.</summary>
    Stored = 0,

    /// <summary>The same event id was stored before by the same device with the same kind and body: the original seq.</summary>
    Duplicate = 1,

    /// <summary>The event id was stored before by another device, or with another kind or body: nothing stored.</summary>
    Conflict = 2,

    /// <summary>The change was already in effect (a reaction already there, or already gone; a message already deleted): nothing stored.</summary>
    Unchanged = 3,

    /// <summary>The change is not allowed (<see cref="AppendResult.Refusal"/> says why): nothing stored.</summary>
    Refused = 4,
}

/// <summary>The result of an append: for Stored and Duplicate, the event as stored; for Refused, why.</summary>
public sealed record AppendResult(AppendOutcome Outcome, StoredEvent? Event, AppendRefusal Refusal = AppendRefusal.None);

public enum ReadDirection
{
    /// <summary>Seq below the starting seq (0 = from the newest).</summary>
    Before = 0,

    /// <summary>Seq above the starting seq.</summary>
    After = 1,
}

/// <summary>
/// Told of every batch of events as it commits. <see cref="OnCommitted"/> is called once per committed batch, in
/// commit order, with the events stored by that batch (not duplicates or conflicts) in the order they were
/// appended, which for one conversation is ascending seq.
/// </summary>
public interface ICommitObserver
{
    /// <summary>
    /// Called on the store's writer right after the commit, before the batch's waiters complete (so an event is
    /// in the observer's hands before its sender can learn it is stored). It must not throw and should return
    /// at once: the acknowledgements of the batch wait for it. To push back, block in <see cref="WaitForRoom"/>.
    /// </summary>
    void OnCommitted(IReadOnlyList<StoredEvent> events);

    /// <summary>
    /// Called on the store's writer after every committed batch's waiters have completed, before it takes its
    /// next batch: an observer that has fallen behind may block here, and no further batch commits until it
    /// returns. It must not throw.
    /// </summary>
    void WaitForRoom()
    {
    }

    /// <summary>
    /// Told, after every committed batch, how long the writer spent in the observers' <see cref="WaitForRoom"/>
    /// (zero when none had fallen behind), for metrics. It must not throw and should return at once.
    /// </summary>
    void OnWaitedForRoom(TimeSpan waited)
    {
    }

    /// <summary>
    /// Told of every batch the writer stored or failed to store: how many appends it held and how long the
    /// adapter took to make it durable (the group commit's flush), for metrics. Called on the writer after
    /// the attempt, before the batch's waiters complete; it must not throw and should return at once.
    /// </summary>
    void OnBatchWritten(int appends, TimeSpan duration, bool committed)
    {
    }
}

/// <summary>
/// The message port: every conversation's events (messages, membership changes, …) in one gap-free seq
/// space per conversation. The seq is assigned inside the write that stores the event, and an append
/// completes only once the event is durable. Adapters: SQLite (embedded), MongoDB (distributed). Every
/// adapter passes MessageStoreContract.
/// </summary>
public interface IMessageStore
{
    /// <summary>The most places <see cref="LocateMessageAsync"/> answers, in conversation id order.</summary>
    public const int MaxLocatedPlaces = 100;

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
    /// <remarks>
    /// With <paramref name="threadRootId"/>, only that thread is read: the root message and its replies.
    /// </remarks>
    Task<IReadOnlyList<StoredEvent>> ReadAsync(Guid conversationId, ulong fromSeq, ReadDirection direction, int limit, long maxContentBytes = long.MaxValue, Guid? threadRootId = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// The thread summary and reaction counts of each message named that has any (others are left out);
    /// <paramref name="readerUserId"/> decides <see cref="ReactionCount.Mine"/>.
    /// </summary>
    Task<IReadOnlyDictionary<Guid, MessageDetails>> GetMessageDetailsAsync(Guid conversationId, IReadOnlyCollection<Guid> messageIds, Guid readerUserId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Where a message with this id is: each conversation holding one (an id is unique only within its
    /// conversation, so in principle several), with its seq. Only messages (kind 0), deleted ones included; at most
    /// <see cref="MaxLocatedPlaces"/>.
    /// </summary>
    Task<IReadOnlyList<(Guid ConversationId, ulong Seq)>> LocateMessageAsync(Guid messageId, CancellationToken cancellationToken = default);

    /// <summary>
    /// What an append of <paramref name="newEvent"/> would be answered if its id is stored in its conversation
    /// already, read outside the writer: <see cref="AppendOutcome.Duplicate"/> with the stored event when it is
    /// the same event by the rule every append follows (the same device, kind, subject and thread, and the same
    /// content type and content as first sent, even after an edit or a deletion), <see cref="AppendOutcome.Conflict"/>
    /// when the id names another event, and null when the conversation holds no event with this id (an append
    /// of it not yet committed included). For a caller about to refuse an event for a reason that holds only
    /// for new ones, so that a resend whose acknowledgement was lost still gets its original seq.
    /// </summary>
    Task<AppendResult?> FindStoredAsync(NewEvent newEvent, CancellationToken cancellationToken = default);

    /// <summary>The most unread messages or mentions counted per conversation; a badge shows more as "1000+".</summary>
    public const int MaxCountedUnread = 1000;

    /// <summary>
    /// Moves the user's read position in the conversation up to <paramref name="seq"/> (never down, never past
    /// the newest event) and returns where the user now stands.
    /// </summary>
    Task<ConversationStats> MarkReadAsync(Guid userId, Guid conversationId, ulong seq, CancellationToken cancellationToken = default);

    /// <summary>
    /// Where the user stands in each conversation named (a conversation without events has LastSeq 0), with
    /// <paramref name="deviceId"/>'s delivery cursor when given.
    /// </summary>
    Task<IReadOnlyDictionary<Guid, ConversationStats>> GetStatsAsync(Guid userId, IReadOnlyCollection<Guid> conversationIds, Guid? deviceId = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Moves each device cursor up to the seq given (never down, never past the conversation's newest event):
    /// the device holds every event up to there.
    /// </summary>
    Task SetDeviceCursorsAsync(Guid deviceId, IReadOnlyCollection<(Guid ConversationId, ulong Seq)> cursors, CancellationToken cancellationToken = default);

    /// <summary>
    /// The furthest seq any of <paramref name="deviceIds"/> holds in the conversation by its delivery cursor (0 when
    /// none has a cursor there): one read for all of a user's devices, where a push decides whether one of them
    /// has the message already.
    /// </summary>
    Task<ulong> GetFurthestDeviceCursorAsync(Guid conversationId, IReadOnlyCollection<Guid> deviceIds, CancellationToken cancellationToken = default);

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
