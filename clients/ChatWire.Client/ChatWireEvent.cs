using ChatWire.Protocol.Frames;

namespace ChatWire.Client;

/// <summary>Something that happened on a <see cref="ChatWireConnection"/>, read from <see cref="ChatWireConnection.ReadEventsAsync"/>.</summary>
public abstract record ChatWireEvent;

/// <summary>
/// A message stored in a conversation I am in: pushed live, or fetched after a reconnect to fill what was
/// missed. Each (conversation, message id) is delivered once per connection object.
/// </summary>
/// <param name="Message">The message; its content is opaque bytes of <see cref="ChatMessage.ContentType"/>.</param>
public sealed record MessageReceived(ChatMessage Message) : ChatWireEvent;

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

/// <summary>One page of a conversation's history, ascending by seq.</summary>
/// <param name="ConversationId">The conversation.</param>
/// <param name="Messages">The messages, oldest first.</param>
/// <param name="HasMore">Whether more messages lie further in the requested direction.</param>
public sealed record HistoryPageResult(Guid ConversationId, IReadOnlyList<ChatMessage> Messages, bool HasMore);
