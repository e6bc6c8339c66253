using ChatWire.Routing;

namespace ChatWire.Gateway.Delivery;

/// <summary>
/// What the HTTP API tells the delivery side after it changes the directory: a user joined or left a
/// conversation (their live sessions start or stop receiving it), a device was revoked (its connections close).
/// Published on the user's topic, so every node with a session of that user hears it.
/// </summary>
internal sealed class DirectoryEvents(IMessageBus bus, MembershipCache membership)
{
    public ValueTask ConversationJoinedAsync(Guid userId, Guid conversationId) =>
        bus.PublishAsync(BusTopic.User(userId), new ControlMessage(ControlKind.ConversationJoined, conversationId).Encode());

    public ValueTask ConversationLeftAsync(Guid userId, Guid conversationId)
    {
        membership.Forget(conversationId, userId);
        return bus.PublishAsync(BusTopic.User(userId), new ControlMessage(ControlKind.ConversationLeft, conversationId).Encode());
    }

    public ValueTask DeviceRevokedAsync(Guid userId, Guid deviceId) =>
        bus.PublishAsync(BusTopic.User(userId), new ControlMessage(ControlKind.DeviceRevoked, deviceId).Encode());
}
