using System.Buffers.Binary;
using StackExchange.Redis;

namespace ChatWire.Gateway.Conversations;

/// <summary>
/// The tier behind the in-process membership cache that every node shares, and the way a membership change
/// made on one node reaches the caches of all the others (docs/architecture.md, "Membership cache").
/// </summary>
internal interface IMembershipBackplane
{
    /// <summary>The shared tier's answer, or null when it has none (the directory must be asked).</summary>
    ValueTask<MemberAccess?> GetAsync(Guid conversationId, Guid userId);

    /// <summary>Offers the directory's answer to the shared tier; it keeps it unless a change came first.</summary>
    void Offer(Guid conversationId, Guid userId, MemberAccess access);

    /// <summary>A change was made: drop the shared answer and tell every node to forget its own.</summary>
    void Invalidate(Guid conversationId, Guid userId);

    /// <summary>
    /// A change to every member's answer was made (an archive, a slow mode): drop the members' shared answers and tell
    /// every node, in one message, to forget all of the conversation's (<see cref="Invalidated"/> with
    /// <see cref="MembershipCache.AllMembers"/> as the user).
    /// </summary>
    void InvalidateConversation(Guid conversationId, IReadOnlyCollection<Guid> members);

    /// <summary>Another node changed the membership of (conversation, user): forget the local answer (all of them for <see cref="MembershipCache.AllMembers"/>).</summary>
    event Action<Guid, Guid>? Invalidated;

    /// <summary>Invalidations may have been missed (the shared tier was unreachable): forget every local answer.</summary>
    event Action? Reconnected;
}

/// <summary>The embedded mode: one node, no shared tier.</summary>
internal sealed class NoMembershipBackplane : IMembershipBackplane
{
    public event Action<Guid, Guid>? Invalidated
    {
        add { }
        remove { }
    }

    public event Action? Reconnected
    {
        add { }
        remove { }
    }

    public ValueTask<MemberAccess?> GetAsync(Guid conversationId, Guid userId) => ValueTask.FromResult<MemberAccess?>(null);

    public void Offer(Guid conversationId, Guid userId, MemberAccess access)
    {
    }

    public void Invalidate(Guid conversationId, Guid userId)
    {
    }

    public void InvalidateConversation(Guid conversationId, IReadOnlyCollection<Guid> members)
    {
    }
}

/// <summary>
/// The distributed mode's shared tier, in Redis: look-aside entries <c>chatwire:member:{conversation}:{user}</c>
/// (the access byte, the team id, the slow mode and whether the user created the channel, for <see cref="EntryLifetime"/>), and invalidations on the channel
/// <c>chatwire:membership</c>, which every node subscribes to.
/// </summary>
/// <remarks>
/// A change replaces the entry with a tombstone for <see cref="TombstoneLifetime"/> rather than deleting it,
/// and answers are offered with <c>SET NX</c>: a lookup that read the directory before the change and offers
/// its (now stale) answer after it finds the tombstone and stores nothing. A tombstone reads as "ask the
/// directory". While Redis is unreachable every call falls through to the directory (and nodes hear of
/// changes through the <c>member_left</c> events and the local cache's one-minute lifetime); when the
/// connection comes back every node drops its whole local cache, since invalidations may have been missed.
/// </remarks>
internal sealed class RedisMembershipBackplane : IMembershipBackplane, IDisposable
{
    /// <summary>
    /// As long as the in-process tier's: an invalidation lost while Redis was unreachable (fire-and-forget
    /// commands are dropped then) must not outlive the bound the cache promises.
    /// </summary>
    public static readonly TimeSpan EntryLifetime = MembershipCache.Lifetime;
    public static readonly TimeSpan TombstoneLifetime = TimeSpan.FromMinutes(2);

    private static readonly RedisChannel Channel = RedisChannel.Literal("chatwire:membership");

    // An answer: the access (1 byte), the team id (16, big-endian; zeros for none), the slow mode in seconds (2,
    // big-endian), and 1 when the user created the channel, else 0.
    private const int EntryLength = 20;
    private static readonly byte[] Tombstone = [0xff];

    private readonly IConnectionMultiplexer _redis;
    private readonly IDatabase _database;
    private readonly ISubscriber _subscriber;
    private readonly Lock _subscribing = new();
    private ChannelMessageQueue? _invalidations;

    public RedisMembershipBackplane(IConnectionMultiplexer redis)
    {
        _redis = redis;
        _database = redis.GetDatabase();
        _subscriber = redis.GetSubscriber();
        redis.ConnectionRestored += OnConnectionRestored;
        TrySubscribe();
    }

    public event Action<Guid, Guid>? Invalidated;

    public event Action? Reconnected;

    public async ValueTask<MemberAccess?> GetAsync(Guid conversationId, Guid userId)
    {
        try
        {
            var value = (byte[]?)await _database.StringGetAsync(Key(conversationId, userId));
            // An answer in another layout (a node of another version) reads as "ask the directory".
            if (value is not { Length: EntryLength })
            {
                return null;
            }

            var teamId = new Guid(value.AsSpan(1, 16), bigEndian: true);
            return new MemberAccess((ConversationAccess)value[0], teamId == Guid.Empty ? null : teamId, BinaryPrimitives.ReadUInt16BigEndian(value.AsSpan(17)), value[19] == 1);
        }
        catch (RedisException)
        {
            return null;
        }
    }

    public void Offer(Guid conversationId, Guid userId, MemberAccess access)
    {
        var value = new byte[EntryLength];
        value[0] = (byte)access.Access;
        (access.TeamId ?? Guid.Empty).TryWriteBytes(value.AsSpan(1), bigEndian: true, out _);
        BinaryPrimitives.WriteUInt16BigEndian(value.AsSpan(17), access.SlowModeSeconds);
        value[19] = access.Creator ? (byte)1 : (byte)0;
        try
        {
            _database.StringSet(Key(conversationId, userId), value, EntryLifetime, When.NotExists, CommandFlags.FireAndForget);
        }
        catch (RedisException)
        {
        }
    }

    public void Invalidate(Guid conversationId, Guid userId)
    {
        WriteTombstones(conversationId, [userId]);
        Publish(conversationId, userId);
    }

    // One tombstone per member (pipelined, not waited for: the connection sends them ahead of the message, so a node
    // that hears it and asks again finds them), then one message for every node, not one per member.
    public void InvalidateConversation(Guid conversationId, IReadOnlyCollection<Guid> members)
    {
        WriteTombstones(conversationId, members);
        Publish(conversationId, MembershipCache.AllMembers);
    }

    private void WriteTombstones(Guid conversationId, IEnumerable<Guid> users)
    {
        try
        {
            foreach (var user in users)
            {
                _database.StringSet(Key(conversationId, user), Tombstone, TombstoneLifetime, When.Always, CommandFlags.FireAndForget);
            }
        }
        catch (RedisException)
        {
            // Unreachable: the other nodes drop their caches when it comes back.
        }
    }

    private void Publish(Guid conversationId, Guid userId)
    {
        var message = new byte[32];
        conversationId.TryWriteBytes(message.AsSpan(0, 16), bigEndian: true, out _);
        userId.TryWriteBytes(message.AsSpan(16, 16), bigEndian: true, out _);
        try
        {
            _subscriber.Publish(Channel, message, CommandFlags.FireAndForget);
        }
        catch (RedisException)
        {
            // Unreachable: the other nodes drop their caches when it comes back.
        }
    }

    public void Dispose()
    {
        _redis.ConnectionRestored -= OnConnectionRestored;
        try
        {
            _invalidations?.Unsubscribe();
        }
        catch (RedisException)
        {
        }
    }

    // Redis may be unreachable when the node starts: then the channel is subscribed when it is back.
    private void TrySubscribe()
    {
        lock (_subscribing)
        {
            if (_invalidations is not null)
            {
                return;
            }

            try
            {
                _invalidations = _subscriber.Subscribe(Channel);
                _invalidations.OnMessage(OnInvalidation);
            }
            catch (RedisException)
            {
                // Subscribed when the connection is back.
            }
        }
    }

    private void OnInvalidation(ChannelMessage message)
    {
        var bytes = (byte[]?)message.Message;
        if (bytes is { Length: 32 })
        {
            Invalidated?.Invoke(new Guid(bytes.AsSpan(0, 16), bigEndian: true), new Guid(bytes.AsSpan(16, 16), bigEndian: true));
        }
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType != ConnectionType.Subscription)
        {
            return;
        }

        TrySubscribe();
        Reconnected?.Invoke();
    }

    private static RedisKey Key(Guid conversationId, Guid userId)
    {
        // The prefix, then the two ids as 32 raw bytes (Redis keys are binary-safe).
        var prefix = "chatwire:member:"u8;
        Span<byte> key = stackalloc byte[prefix.Length + 32];
        prefix.CopyTo(key);
        conversationId.TryWriteBytes(key.Slice(prefix.Length, 16), bigEndian: true, out _);
        userId.TryWriteBytes(key.Slice(prefix.Length + 16, 16), bigEndian: true, out _);
        return key.ToArray();
    }
}
