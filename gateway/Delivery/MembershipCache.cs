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

    public async ValueTask<bool> IsMemberAsync(Guid conversationId, Guid userId, CancellationToken cancellationToken)
    {
        if (_members.ContainsKey((conversationId, userId)))
        {
            return true;
        }

        if (!await directory.IsConversationMemberAsync(conversationId, userId, cancellationToken))
        {
            return false;
        }

        if (_members.Count >= MaxEntries)
        {
            _members.Clear();
        }

        _members.TryAdd((conversationId, userId), 0);
        return true;
    }

    public void Forget(Guid conversationId, Guid userId) => _members.TryRemove((conversationId, userId), out _);
}
