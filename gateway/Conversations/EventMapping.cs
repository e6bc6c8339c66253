using ChatWire.Storage.Messages;
using Wire = ChatWire.Protocol.Frames;

namespace ChatWire.Gateway.Conversations;

/// <summary>Stored events as the protocol carries them. The kind numbers and mention bits are the same on both sides.</summary>
internal static class EventMapping
{
    /// <summary>Most reactions and thread participants listed per message (docs/protocol.md §4.10).</summary>
    public const int MaxListed = 50;

    public static Wire.ConversationEvent ToProtocol(StoredEvent e, MessageDetails? details = null) => new(
        e.ConversationId,
        e.EventId,
        e.Seq,
        e.SenderUserId,
        e.SenderDeviceId,
        e.StoredAt.ToUnixTimeMilliseconds(),
        e.ContentType,
        e.Content,
        (Wire.EventKind)(byte)e.Kind,
        e.SubjectId ?? Guid.Empty)
    {
        ThreadRootId = e.ThreadRootId ?? Guid.Empty,
        Mentions = e.Mentions,
        GroupMentions = (Wire.GroupMentions)(byte)e.GroupMentions,
        EditedAtUnixMs = e.EditedAt?.ToUnixTimeMilliseconds() ?? 0,
        DeletedAtUnixMs = e.DeletedAt?.ToUnixTimeMilliseconds() ?? 0,
        ReplyCount = (uint)(details?.ReplyCount ?? 0),
        LastReplyUnixMs = details?.LastReplyAt?.ToUnixTimeMilliseconds() ?? 0,
        ThreadParticipants = details is null ? [] : details.ThreadParticipants.Take(MaxListed).ToArray(),
        Reactions = details is null ? [] : details.Reactions.Take(MaxListed).Select(r => new Wire.Reaction(r.Emoji, (uint)r.Count, r.Mine)).ToArray(),
    };
}
