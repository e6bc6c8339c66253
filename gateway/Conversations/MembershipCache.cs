using System.Collections.Concurrent;
using ChatWire.Storage.Directory;

namespace ChatWire.Gateway.Conversations;

/// <summary>
/// Membership checks happen on every SEND, so positive answers are cached in process, each for a bounded
/// lifetime (<see cref="Lifetime"/>). A leave is forgotten at once on the node that made it (the
/// conversation service) and on every node that routes the conversation (the fan-out, from the MEMBER_LEFT
/// event), so the cache never outlives a leave by more than the event's trip; the lifetime bounds what a
/// lost event could cost. Bounded in size: past the cap it starts over.
/// </summary>
internal sealed class MembershipCache(IDirectoryStore directory, TimeProvider time)
{
    /// <summary>How long a positive answer is trusted without asking the directory again.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(1);

    private const int MaxEntries = 1_000_000;

    private readonly ConcurrentDictionary<(Guid Conversation, Guid User), long> _members = new();
    private readonly long _lifetimeTicks = (long)(Lifetime.TotalSeconds * time.TimestampFrequency);

    // Bumped by every Forget: a lookup that began before a removal must not re-add what was removed.
    private long _generation;

    // Entries added since the last reset, counted here: the dictionary's own Count takes every bucket lock.
    private int _added;

    public ValueTask<bool> IsMemberAsync(Guid conversationId, Guid userId, CancellationToken cancellationToken)
    {
        if (_members.TryGetValue((conversationId, userId), out var expires) && time.GetTimestamp() < expires)
        {
            return ValueTask.FromResult(true);
        }

        return LookUpAsync(conversationId, userId, cancellationToken);
    }

    public void Forget(Guid conversationId, Guid userId)
    {
        Interlocked.Increment(ref _generation);
        _members.TryRemove((conversationId, userId), out _);
    }

    private async ValueTask<bool> LookUpAsync(Guid conversationId, Guid userId, CancellationToken cancellationToken)
    {
        var generation = Volatile.Read(ref _generation);
        if (!await directory.IsConversationMemberAsync(conversationId, userId, cancellationToken))
        {
            _members.TryRemove((conversationId, userId), out _);
            return false;
        }

        if (Interlocked.Increment(ref _added) > MaxEntries)
        {
            Volatile.Write(ref _added, 0);
            _members.Clear();
        }

        if (generation == Volatile.Read(ref _generation))
        {
            _members[(conversationId, userId)] = time.GetTimestamp() + _lifetimeTicks;
        }

        return true;
    }
}
