using ChatWire.Storage.Messages;
using Wire = ChatWire.Protocol.Frames;

namespace ChatWire.Gateway.Conversations;

/// <summary>Stored events as the protocol carries them. The kind numbers are the same on both sides.</summary>
internal static class EventMapping
{
    public static Wire.ConversationEvent ToProtocol(StoredEvent e) => new(
        e.ConversationId,
        e.EventId,
        e.Seq,
        e.SenderUserId,
        e.SenderDeviceId,
        e.StoredAt.ToUnixTimeMilliseconds(),
        e.ContentType,
        e.Content,
        (Wire.EventKind)(byte)e.Kind,
        e.SubjectId ?? Guid.Empty);
}
