using System.Buffers;
using ChatWire.Gateway.Sessions;
using ChatWire.Protocol;
using ChatWire.Routing;
using ChatWire.Storage.Directory;

namespace ChatWire.Gateway.Delivery;

/// <summary>
/// Routes published events to this node's sessions. State is kept per user, not per session: a user's
/// route lists their local sessions and their conversations; a conversation's route lists the local users
/// in it. The node subscribes to a conversation's topic only while a local user is in it (reference
/// counted, DESIGN §7), and writes each event's bytes, serialized once, to every recipient session.
/// </summary>
internal sealed class DeliveryFanout(IMessageBus bus, IDirectoryStore directory) : IBusSubscriber
{
    /// <summary>Bus payloads of conversation events start with the originating connection's id.</summary>
    public const int OriginLength = 16;

    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, UserRoute> _users = [];
    private readonly Dictionary<Guid, ConversationRoute> _conversations = [];

    public async Task RegisterAsync(Session session)
    {
        var userId = session.Identity!.UserId;
        UserRoute route;
        lock (_lock)
        {
            if (_users.TryGetValue(userId, out var existing))
            {
                existing.Sessions.Add(session);
                return;
            }

            // Subscribe before reading the user's conversations, and hold control messages that arrive
            // while the list loads: a join or leave published in between is then either in the list or
            // replayed after it, in order, never lost.
            route = new UserRoute { Pending = [] };
            route.Sessions.Add(session);
            _users[userId] = route;
            route.Subscription = bus.Subscribe(BusTopic.User(userId), this);
        }

        IReadOnlyList<ConversationRecord> conversations;
        try
        {
            conversations = await directory.ListConversationsForUserAsync(userId);
        }
        catch
        {
            lock (_lock)
            {
                route.Pending = null;
            }

            throw;
        }

        Session[] revoked;
        lock (_lock)
        {
            // Every session of the user may have gone while the list loaded; then the route is gone too.
            if (!_users.TryGetValue(userId, out var current) || current != route)
            {
                return;
            }

            foreach (var conversation in conversations)
            {
                Join(route, conversation.Id);
            }

            var pending = route.Pending!;
            route.Pending = null;
            revoked = pending.SelectMany(control => ApplyLocked(route, control)).ToArray();
        }

        CloseRevoked(revoked);
    }

    public void Unregister(Session session)
    {
        if (session.Identity is not { } identity)
        {
            return;
        }

        lock (_lock)
        {
            if (!_users.TryGetValue(identity.UserId, out var route) || !route.Sessions.Remove(session) || route.Sessions.Count > 0)
            {
                return;
            }

            foreach (var conversationId in route.Conversations.ToArray())
            {
                Leave(route, conversationId);
            }

            route.Subscription?.Dispose();
            _users.Remove(identity.UserId);
        }
    }

    public void OnPublished(BusTopic topic, ReadOnlyMemory<byte> payload)
    {
        if (topic.Kind == BusTopicKind.Conversation)
        {
            Deliver(topic.Id, payload);
        }
        else if (ControlMessage.TryDecode(payload.Span, out var control))
        {
            Apply(topic.Id, control);
        }
    }

    public ValueTask PublishAsync(Guid conversationId, Guid originConnectionId, ReadOnlySpan<byte> frame)
    {
        var payload = new byte[OriginLength + frame.Length];
        originConnectionId.TryWriteBytes(payload, bigEndian: true, out _);
        frame.CopyTo(payload.AsSpan(OriginLength));
        return bus.PublishAsync(BusTopic.Conversation(conversationId), payload);
    }

    private void Deliver(Guid conversationId, ReadOnlyMemory<byte> payload)
    {
        if (payload.Length <= OriginLength)
        {
            return;
        }

        var origin = new Guid(payload.Span[..OriginLength], bigEndian: true);
        Session[] recipients;
        int count;
        lock (_lock)
        {
            if (!_conversations.TryGetValue(conversationId, out var route))
            {
                return;
            }

            count = 0;
            foreach (var user in route.Users)
            {
                count += user.Sessions.Count;
            }

            recipients = ArrayPool<Session>.Shared.Rent(count);
            var i = 0;
            foreach (var user in route.Users)
            {
                foreach (var session in user.Sessions)
                {
                    recipients[i++] = session;
                }
            }
        }

        // Written outside the lock: one slow socket must not hold up routing for everyone else.
        var frame = payload.Span[OriginLength..];
        for (var i = 0; i < count; i++)
        {
            if (recipients[i].ConnectionId != origin)
            {
                try
                {
                    recipients[i].SendEncoded(frame, Opcode.Message);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // A broken recipient is its own problem; the others still get the event.
                    recipients[i].Abort("write failed: " + ex.GetType().Name);
                }
            }
        }

        ArrayPool<Session>.Shared.Return(recipients, clearArray: true);
    }

    private void Apply(Guid userId, ControlMessage control)
    {
        Session[] revoked;
        lock (_lock)
        {
            if (!_users.TryGetValue(userId, out var route))
            {
                return;
            }

            if (route.Pending is { } pending)
            {
                pending.Add(control);
                return;
            }

            revoked = ApplyLocked(route, control);
        }

        CloseRevoked(revoked);
    }

    // Called under _lock; returns the sessions to close (closed outside the lock).
    private Session[] ApplyLocked(UserRoute route, ControlMessage control)
    {
        switch (control.Kind)
        {
            case ControlKind.ConversationJoined:
                Join(route, control.Id);
                return [];
            case ControlKind.ConversationLeft:
                Leave(route, control.Id);
                return [];
            case ControlKind.DeviceRevoked:
                return route.Sessions.Where(s => s.Identity!.DeviceId == control.Id).ToArray();
            default:
                return [];
        }
    }

    private static void CloseRevoked(Session[] sessions)
    {
        foreach (var session in sessions)
        {
            session.CloseWithError(ErrorCode.SessionRevoked, "This device's session was revoked.");
        }
    }

    // Called under _lock.
    private void Join(UserRoute user, Guid conversationId)
    {
        if (!user.Conversations.Add(conversationId))
        {
            return;
        }

        if (!_conversations.TryGetValue(conversationId, out var route))
        {
            route = new ConversationRoute { Subscription = bus.Subscribe(BusTopic.Conversation(conversationId), this) };
            _conversations[conversationId] = route;
        }

        route.Users.Add(user);
    }

    // Called under _lock.
    private void Leave(UserRoute user, Guid conversationId)
    {
        if (!user.Conversations.Remove(conversationId) || !_conversations.TryGetValue(conversationId, out var route))
        {
            return;
        }

        route.Users.Remove(user);
        if (route.Users.Count == 0)
        {
            route.Subscription?.Dispose();
            _conversations.Remove(conversationId);
        }
    }

    private sealed class UserRoute
    {
        public List<Session> Sessions { get; } = [];

        public HashSet<Guid> Conversations { get; } = [];

        public IDisposable? Subscription { get; set; }

        /// <summary>Control messages held while the user's conversation list loads; null once loaded.</summary>
        public List<ControlMessage>? Pending { get; set; }
    }

    private sealed class ConversationRoute
    {
        public HashSet<UserRoute> Users { get; } = [];

        public IDisposable? Subscription { get; init; }
    }
}
