using ChatWire.Protocol.Frames;

namespace ChatWire.Client;

/// <summary>Something that happened on a <see cref="ChatWireConnection"/>, read from <see cref="ChatWireConnection.ReadEventsAsync"/>.</summary>
public abstract record ChatWireEvent;

/// <summary>
/// A message stored in a conversation I am in: pushed live, or fetched to fill what was missed (after a
/// reconnect, or a gap). Each conversation's events come once each, in seq order.
/// </summary>
/// <param name="Message">The message; its content is opaque bytes of <see cref="ConversationEvent.ContentType"/>, its id <see cref="ConversationEvent.EventId"/>.</param>
public sealed record MessageReceived(ConversationEvent Message) : ChatWireEvent;

/// <summary>
/// Someone joined or left a conversation I am in, or I joined or left one (then <see cref="UserId"/> is mine):
/// a conversation I join starts with this event, and after one I leave nothing more arrives from it.
/// </summary>
/// <param name="Event">The stored event: <see cref="EventKind.MemberJoined"/> or <see cref="EventKind.MemberLeft"/>; its sender is who made the change.</param>
public sealed record MembershipChanged(ConversationEvent Event) : ChatWireEvent
{
    /// <summary>The conversation.</summary>
    public Guid ConversationId => Event.ConversationId;

    /// <summary>Who joined or left.</summary>
    public Guid UserId => Event.SubjectId;

    /// <summary>True for a join, false for a leave.</summary>
    public bool Joined => Event.Kind == EventKind.MemberJoined;
}

/// <summary>The connection's state changed.</summary>
/// <param name="State">The new state.</param>
/// <param name="Error">Why the connection dropped or closed; <see langword="null"/> when connected or closed by the caller.</param>
public sealed record ConnectionStateChanged(ConnectionState State, Exception? Error) : ChatWireEvent;

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
