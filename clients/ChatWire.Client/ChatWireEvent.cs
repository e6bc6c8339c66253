using ChatWire.Protocol.Frames;

namespace ChatWire.Client;

/// <summary>Something that happened on a <see cref="ChatWireConnection"/>, read from <see cref="ChatWireConnection.ReadEventsAsync"/>.</summary>
public abstract record ChatWireEvent
{
    /// <summary>The stored conversation event behind this one (messages, membership changes, edits, deletions, reactions); null for the others.</summary>
    public virtual ConversationEvent? Stored => null;
}

/// <summary>
/// A message stored in a conversation I am in: pushed live, or fetched to fill what was missed (after a
/// reconnect, or a gap). Each conversation's events come once each, in seq order.
/// </summary>
/// <param name="Message">The message; its content is opaque bytes of <see cref="ConversationEvent.ContentType"/>, its id <see cref="ConversationEvent.EventId"/>.</param>
public sealed record MessageReceived(ConversationEvent Message) : ChatWireEvent
{
    /// <inheritdoc/>
    public override ConversationEvent? Stored => Message;
}

/// <summary>
/// Someone joined or left a conversation I am in, or I joined or left one (then <see cref="UserId"/> is mine):
/// a conversation I join starts with this event, and after one I leave nothing more arrives from it.
/// </summary>
/// <param name="Event">The stored event: <see cref="EventKind.MemberJoined"/> or <see cref="EventKind.MemberLeft"/>; its sender is who made the change.</param>
public sealed record MembershipChanged(ConversationEvent Event) : ChatWireEvent
{
    /// <inheritdoc/>
    public override ConversationEvent? Stored => Event;

    /// <summary>The conversation.</summary>
    public Guid ConversationId => Event.ConversationId;

    /// <summary>Who joined or left.</summary>
    public Guid UserId => Event.SubjectId;

    /// <summary>True for a join, false for a leave.</summary>
    public bool Joined => Event.Kind == EventKind.MemberJoined;
}

/// <summary>
/// I am no longer a member of a conversation and could not be told by its <see cref="MembershipChanged"/>: I left it
/// on another device, or was removed, while this connection had no link (or before a run that resumed its
/// watermarks). A reconnect's SYNC no longer lists it, and its history is closed to me, so the SDK says so once,
/// after what it still had from the conversation; nothing more arrives from it and it leaves
/// <see cref="ChatWireConnection.Watermarks"/>. Not stored. A conversation I leave while connected ends with my own
/// <see cref="MembershipChanged"/> instead, never with both.
/// </summary>
/// <param name="ConversationId">The conversation.</param>
public sealed record ConversationLeft(Guid ConversationId) : ChatWireEvent;

/// <summary>
/// The author edited a message: <see cref="ConversationEvent.Content"/> of <see cref="Event"/> is its new
/// content, which replaces the message's (a later HISTORY page shows the message already edited).
/// </summary>
/// <param name="Event">The stored edit; its <see cref="ConversationEvent.SubjectId"/> is the edited message.</param>
public sealed record MessageEdited(ConversationEvent Event) : ChatWireEvent
{
    /// <inheritdoc/>
    public override ConversationEvent? Stored => Event;

    /// <summary>The edited message's id.</summary>
    public Guid MessageId => Event.SubjectId;
}

/// <summary>A message was deleted (by its author, or a team admin: the event's sender); show a tombstone.</summary>
/// <param name="Event">The stored deletion; its <see cref="ConversationEvent.SubjectId"/> is the deleted message.</param>
public sealed record MessageDeleted(ConversationEvent Event) : ChatWireEvent
{
    /// <inheritdoc/>
    public override ConversationEvent? Stored => Event;

    /// <summary>The deleted message's id.</summary>
    public Guid MessageId => Event.SubjectId;
}

/// <summary>Someone (the event's sender) added or took back an emoji reaction to a message.</summary>
/// <param name="Event">The stored reaction event.</param>
public sealed record ReactionChanged(ConversationEvent Event) : ChatWireEvent
{
    /// <inheritdoc/>
    public override ConversationEvent? Stored => Event;

    /// <summary>The message reacted to.</summary>
    public Guid MessageId => Event.SubjectId;

    /// <summary>The emoji.</summary>
    public string Emoji => System.Text.Encoding.UTF8.GetString(Event.Content.Span);

    /// <summary>True when added, false when taken back.</summary>
    public bool Added => Event.Kind == EventKind.ReactionAdded;
}

/// <summary>
/// A channel I am in was renamed, archived or unarchived, or had its topic or slow mode changed (by the event's
/// sender). Stored, so a device that was away gets it too, in order with the channel's messages.
/// </summary>
/// <param name="Event">The stored event: <see cref="EventKind.ChannelUpdated"/>; its content is a <see cref="ChannelUpdate"/>.</param>
public sealed record ChannelUpdated(ConversationEvent Event) : ChatWireEvent
{
    /// <inheritdoc/>
    public override ConversationEvent? Stored => Event;

    /// <summary>The channel.</summary>
    public Guid ConversationId => Event.ConversationId;

    /// <summary>
    /// What changed and the channel's settings after the change; null when the content cannot be read (a server
    /// that does not follow docs/protocol.md §4.10): read the channel listing then.
    /// </summary>
    public ChannelUpdate? Update => ChannelUpdate.TryDecode(Event.Content, out var update) ? update : null;
}

/// <summary>
/// My read position in a conversation moved (from this device or another of mine): every device shows the
/// same unread and mention badges. Not stored: after a reconnect, a position that moved while the link was down is
/// announced once from the reconnect's SYNC.
/// </summary>
/// <param name="ConversationId">The conversation.</param>
/// <param name="ReadSeq">Read up to here.</param>
/// <param name="UnreadCount">Messages from others after it (at most 1000).</param>
/// <param name="MentionCount">Of those, the ones that mention me (at most 1000).</param>
public sealed record ReadStateChanged(Guid ConversationId, ulong ReadSeq, int UnreadCount, int MentionCount) : ChatWireEvent;

/// <summary>
/// Someone is typing in a conversation I am in. Show it for about 6 seconds, or until a message from them
/// arrives there. Ephemeral: not stored, and a connection that is behind may miss one.
/// </summary>
/// <param name="ConversationId">Where.</param>
/// <param name="UserId">Who.</param>
public sealed record TypingStarted(Guid ConversationId, Guid UserId) : ChatWireEvent;

/// <summary>A user whose presence I watch (<see cref="ChatWireConnection.WatchPresenceAsync"/>) came online, went offline or changed status.</summary>
/// <param name="UserId">The user.</param>
/// <param name="Status">Offline, online, away or do not disturb.</param>
/// <param name="LastSeen">For an offline user, when their last device disconnected; null when online or never seen.</param>
public sealed record PresenceChanged(Guid UserId, PresenceStatus Status, DateTimeOffset? LastSeen) : ChatWireEvent;

/// <summary>What a message carries besides its content: its thread, who it mentions.</summary>
/// <param name="ThreadRootId">Reply in this message's thread (a message that is not itself a reply).</param>
/// <param name="Mentions">Users the message mentions by id; they count it as a mention.</param>
/// <param name="GroupMentions">@channel and @here.</param>
/// <param name="MembershipEpoch">End-to-end content: the conversation epoch it was sealed for (SEND position 9); 0 for none.</param>
/// <param name="DistributionId">End-to-end content: the chain id of its key distribution (SEND position 10).</param>
public sealed record MessageOptions(
    Guid? ThreadRootId = null,
    IReadOnlyList<Guid>? Mentions = null,
    GroupMentions GroupMentions = GroupMentions.None,
    ulong MembershipEpoch = 0,
    Guid? DistributionId = null);

/// <summary>What a change (edit, delete, reaction, read position) came to.</summary>
/// <param name="Seq">The seq the change was stored as; 0 when nothing needed storing (it was already so). For a read position, the position now in force.</param>
/// <param name="ServerTime">When the server stored it; the Unix epoch when nothing was stored.</param>
public readonly record struct ChangeResult(ulong Seq, DateTimeOffset ServerTime);

/// <summary>The connection's state changed.</summary>
/// <param name="State">The new state.</param>
/// <param name="Error">Why the connection dropped or closed; <see langword="null"/> when connected or closed by the caller.</param>
public sealed record ConnectionStateChanged(ConnectionState State, Exception? Error) : ChatWireEvent;

/// <summary>
/// Noise: the server announced, in a handshake under the key this client trusted, that it rotated to a new key; the
/// pin moved to it (<see cref="ChatWireConnectionOptions.NoiseKeyPins"/> was told). Follows the link's
/// <see cref="ConnectionStateChanged"/>; informational, nothing to do.
/// </summary>
/// <param name="Endpoint">The Noise listener, <c>host:port</c>.</param>
/// <param name="PreviousKey">The key trusted until now, in hex.</param>
/// <param name="CurrentKey">The key trusted from now on, in hex.</param>
public sealed record NoiseServerKeyRotated(string Endpoint, string PreviousKey, string CurrentKey) : ChatWireEvent;

/// <summary>
/// KEYS_CHANGED (docs/protocol.md §4.28): something in this user's own keys changed, on this device's request or
/// another's. Not stored: a change made while the connection was down is not reported; the key directory has it.
/// A pending device's <see cref="Secure.SecureClient.WaitForApprovalAsync(ChatWireConnection, TimeSpan?, CancellationToken)"/>
/// wakes on these; another device may show "a new device is waiting for approval" on
/// <see cref="KeyChange.DeviceRegistered"/>. <see cref="Change"/> may hold a value this version does not name: ignore it.
/// </summary>
/// <param name="Change">What changed.</param>
/// <param name="DeviceId">The device it is about (the device that registered, or the one keys were left for); null when it is about no one device.</param>
public sealed record OwnKeysChanged(KeyChange Change, Guid? DeviceId) : ChatWireEvent;

/// <summary>The life of a <see cref="ChatWireConnection"/>.</summary>
public enum ConnectionState
{
    /// <summary>Opening the first link; never reported as an event.</summary>
    Connecting = 0,

    /// <summary>Authenticated; requests flow.</summary>
    Connected,

    /// <summary>The link dropped; waiting to reconnect. Requests wait for the next link.</summary>
    Reconnecting,

    /// <summary>Disposed, closed for good by the server (a terminal code), or out of reconnect attempts.</summary>
    Closed,
}

/// <summary>The server's acknowledgement of a SEND: the message is durable.</summary>
/// <param name="MessageId">The message id (generated or given).</param>
/// <param name="Seq">The message's place in its conversation.</param>
/// <param name="ServerTime">When the server stored it.</param>
public readonly record struct SendResult(Guid MessageId, ulong Seq, DateTimeOffset ServerTime);

/// <summary>One page of a conversation's history, ascending by seq: messages and the other kinds of event.</summary>
/// <param name="ConversationId">The conversation.</param>
/// <param name="Events">The events, oldest first.</param>
/// <param name="HasMore">Whether more events lie further in the requested direction.</param>
public sealed record HistoryPageResult(Guid ConversationId, IReadOnlyList<ConversationEvent> Events, bool HasMore);
