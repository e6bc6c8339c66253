using System.Collections.Concurrent;
using ChatWire.Storage.Directory;

namespace ChatWire.Gateway.Delivery;

/// <summary>
/// Membership checks happen on every SEND, so positive answers are cached in process. Changes made through
/// this node's API update it at once (<see cref="DirectoryEvents"/>). Bounded: past the cap it starts over.
/// The distributed mode adds Redis-backed invalidation across nodes (DESIGN §7).
/// </summary>
internal sealed class MembershipCache(IDirectoryStore directory)
{
    private const int MaxEntries = 1_000_000;

    private readonly ConcurrentDictionary<(Guid Conversation, Guid User), byte> _members = new();

    // Bumped by every Forget: a lookup that began before a removal must not re-add what was removed.
    private long _generation;

    public async ValueTask<bool> IsMemberAsync(Guid conversationId, Guid userId, CancellationToken cancellationToken)
    {
        if (_members.ContainsKey((conversationId, userId)))
        {
            return true;
        }

        var generation = Volatile.Read(ref _generation);
        if (!await directory.IsConversationMemberAsync(conversationId, userId, cancellationToken))
        {
            return false;
        }

        if (_members.Count >= MaxEntries)
        {
            _members.Clear();
        }

        if (generation == Volatile.Read(ref _generation))
        {
            _members.TryAdd((conversationId, userId), 0);
        }

        return true;
    }

    public void Forget(Guid conversationId, Guid userId)
    {
        Interlocked.Increment(ref _generation);
        _members.TryRemove((conversationId, userId), out _);
    }
}
