using System.Collections.Concurrent;
using ChatWire.Storage.Directory;

namespace ChatWire.Gateway.Conversations;

/// <summary>What a user may do in a conversation.</summary>
internal enum ConversationAccess : byte
{
    /// <summary>Not a member (or no such conversation).</summary>
    None = 0,

    /// <summary>A member who may read but not send: a DM or group DM whose people no longer all share a team with them.</summary>
    ReadOnly = 1,

    /// <summary>A member who may send.</summary>
    Send = 2,

    /// <summary>A member of an archived channel: its history stays readable; nothing can be sent to it.</summary>
    Archived = 3,
}

/// <summary>
/// A user's access to a conversation, with the conversation's team (null for DMs) for quotas, the channel's slow
/// mode (0 when off) and whether the user created the channel (who is not held by its slow mode; that never changes).
/// Laid out by the runtime so that it takes 24 bytes (a cached answer is one per member and conversation in use).
/// </summary>
[System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Auto)]
internal readonly record struct MemberAccess(ConversationAccess Access, Guid? TeamId, ushort SlowModeSeconds = 0, bool Creator = false);

/// <summary>A conversation and its members, as the push planner reads them for every round of messages.</summary>
internal sealed record ConversationRoster(ConversationRecord Conversation, IReadOnlyList<Guid> Members);

/// <summary>
/// Membership checks happen on every SEND, so positive answers are cached in process, each for a bounded
/// lifetime (<see cref="Lifetime"/>), with whether the member may send: in a channel every member may; in a
/// DM or group DM only while they share a team with each of its other people (history stays readable). A leave is forgotten at once on the node that made it (the
/// conversation service) and on every node that routes the conversation (the fan-out, from the MEMBER_LEFT
/// event), so the cache never outlives a leave by more than the event's trip; the lifetime bounds what a
/// lost event could cost. Bounded in size (what it holds, not what it has read): past the cap, answers whose
/// lifetime ended are swept out, and only if the live ones alone still fill it does it start over.
/// </summary>
/// <remarks>
/// <para>
/// It also keeps whole rosters (<see cref="GetRosterAsync"/>: the conversation and its member list) for the push
/// planner, which needs them for every round of committed messages, for <see cref="RosterLifetime"/>. Any
/// forgotten answer of a conversation (a join, a leave, an archive; on every node through the backplane) drops
/// its roster too, so a member who left is not planned a notification from a kept roster; the lifetime bounds
/// a rename and an invalidation the backplane lost (while Redis is unreachable a leaver may be planned one for
/// up to 10 s; the dispatcher still finds them gone from the team if they left it).
/// </para>
/// In the distributed mode a shared tier sits between this cache and the directory
/// (<see cref="IMembershipBackplane"/>, Redis): a miss here asks it before the directory, and a change
/// made on any node (<see cref="Forget"/>) is broadcast so every node forgets its answer at once.
/// </remarks>
internal sealed class MembershipCache
{
    /// <summary>How long a positive answer is trusted without asking the directory again.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(1);

    /// <summary>How long a conversation's roster is kept without asking the directory again.</summary>
    public static readonly TimeSpan RosterLifetime = TimeSpan.FromSeconds(10);

    private const int DefaultMaxEntries = 1_000_000;

    // Member ids held by all kept rosters together (16 bytes each, plus one for the conversation), at most.
    private const int DefaultMaxRosterMembers = 1_000_000;

    // A forgotten change bumps its conversation's stripe only, so a lookup in another conversation is still kept.
    private const int GenerationStripes = 64;

    private readonly IDirectoryStore _directory;
    private readonly TimeProvider _time;
    private readonly IMembershipBackplane _backplane;
    private readonly ConcurrentDictionary<(Guid Conversation, Guid User), Entry> _members = new();
    private readonly ConcurrentDictionary<Guid, RosterEntry> _rosters = new();
    private readonly long _lifetimeTicks;
    private readonly long _rosterLifetimeTicks;
    private readonly int _maxEntries;
    private readonly int _maxRosterMembers;

    // Bumped by every Forget of a conversation in the stripe: a lookup that began before a removal must not
    // re-add what was removed.
    private readonly long[] _generations = new long[GenerationStripes];

    // Conversations whose every answer was forgotten at once (ForgetConversation), with when: an answer cached at
    // or before that is not trusted. A mark is let go once it is older than an answer's lifetime (every answer it
    // distrusts has expired), at the next such forget or the next lookup after that; so the map holds the few
    // conversations changed in the last minute or so. Changed only under _marksGate, which keeps the count exact:
    // the hot path reads the count and skips the map while it is 0.
    private readonly ConcurrentDictionary<Guid, long> _forgottenConversations = new();
    private readonly Lock _marksGate = new();
    private int _forgottenConversationCount;
    private long _oldestMark = long.MaxValue;

    // What the dictionaries hold, counted here (their own Count takes every bucket lock); approximate only
    // while a reset races an addition.
    private int _entryCount;
    private long _rosterMembers;
    private int _sweeping;

    public MembershipCache(IDirectoryStore directory, TimeProvider time, IMembershipBackplane backplane)
        : this(directory, time, backplane, DefaultMaxEntries, DefaultMaxRosterMembers)
    {
    }

    internal MembershipCache(IDirectoryStore directory, TimeProvider time, IMembershipBackplane backplane, int maxEntries, int maxRosterMembers)
    {
        _directory = directory;
        _time = time;
        _backplane = backplane;
        _maxEntries = maxEntries;
        _maxRosterMembers = maxRosterMembers;
        _lifetimeTicks = (long)(Lifetime.TotalSeconds * time.TimestampFrequency);
        _rosterLifetimeTicks = (long)(RosterLifetime.TotalSeconds * time.TimestampFrequency);
        backplane.Invalidated += ForgetLocal;
        backplane.Reconnected += ForgetAll;
    }

    public async ValueTask<bool> IsMemberAsync(Guid conversationId, Guid userId, CancellationToken cancellationToken) =>
        (await GetAccessAsync(conversationId, userId, cancellationToken)).Access != ConversationAccess.None;

    public ValueTask<MemberAccess> GetAccessAsync(Guid conversationId, Guid userId, CancellationToken cancellationToken)
    {
        // The marks before the clock: a mark is let go only once every answer it distrusts has expired, so an answer
        // that passed the mark check and then the clock check was trustworthy at both.
        if (_members.TryGetValue((conversationId, userId), out var entry)
            && (Volatile.Read(ref _forgottenConversationCount) == 0 || !ForgottenSince(conversationId, entry))
            && _time.GetTimestamp() < entry.Expires)
        {
            return ValueTask.FromResult(entry.Access);
        }

        return LookUpAsync(conversationId, userId, cancellationToken);
    }

    /// <summary>The conversation and its members (null when there is no such conversation), kept for <see cref="RosterLifetime"/>.</summary>
    public ValueTask<ConversationRoster?> GetRosterAsync(Guid conversationId, CancellationToken cancellationToken)
    {
        if (_rosters.TryGetValue(conversationId, out var entry) && _time.GetTimestamp() < entry.Expires)
        {
            return ValueTask.FromResult<ConversationRoster?>(entry.Roster);
        }

        return LookUpRosterAsync(conversationId, cancellationToken);
    }

    /// <summary>This node changed the membership (or what the member may do): every node forgets the answer.</summary>
    public void Forget(Guid conversationId, Guid userId)
    {
        ForgetLocal(conversationId, userId);
        _backplane.Invalidate(conversationId, userId);
    }

    /// <summary>
    /// This node changed what every member of a conversation may do (archived it, set its slow mode): every node
    /// forgets all of the conversation's answers at once, with one broadcast however many members it has.
    /// </summary>
    /// <param name="conversationId">The conversation.</param>
    /// <param name="members">Its members, whose answers in the shared tier are dropped.</param>
    public void ForgetConversation(Guid conversationId, IReadOnlyCollection<Guid> members)
    {
        // The shared answers first: a lookup on this node after the local forget must not find one there.
        _backplane.InvalidateConversation(conversationId, members);
        ForgetLocal(conversationId, AllMembers);
    }

    /// <summary>
    /// Forgets this node's answer only (the change is known elsewhere, e.g. from a MEMBER_LEFT event); every answer of
    /// the conversation when <paramref name="userId"/> is <see cref="AllMembers"/>.
    /// </summary>
    public void ForgetLocal(Guid conversationId, Guid userId)
    {
        Interlocked.Increment(ref _generations[StripeOf(conversationId)]);
        if (userId == AllMembers)
        {
            ForgetEveryAnswer(conversationId);
        }

        DropMember(conversationId, userId);
        if (_rosters.TryRemove(conversationId, out var roster))
        {
            Interlocked.Add(ref _rosterMembers, -roster.Size);
        }
    }

    /// <summary>Forgets every answer (invalidations may have been missed, e.g. while Redis was unreachable).</summary>
    public void ForgetAll()
    {
        for (var stripe = 0; stripe < GenerationStripes; stripe++)
        {
            Interlocked.Increment(ref _generations[stripe]);
        }

        ClearMembers();
        ClearRosters();
    }

    /// <summary>Stands for every member of a conversation in <see cref="ForgetLocal"/> (no user has the nil id).</summary>
    public static readonly Guid AllMembers = Guid.Empty;

    /// <summary>The stripe of generations a conversation's lookups are checked against.</summary>
    internal static int StripeOf(Guid conversationId) => (conversationId.GetHashCode() & int.MaxValue) % GenerationStripes;

    private async ValueTask<MemberAccess> LookUpAsync(Guid conversationId, Guid userId, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _forgottenConversationCount) != 0 && _time.GetTimestamp() - Volatile.Read(ref _oldestMark) > _lifetimeTicks)
        {
            LetGoOfOldMarks();
        }

        var generation = Volatile.Read(ref _generations[StripeOf(conversationId)]);
        if (await _backplane.GetAsync(conversationId, userId) is { } shared)
        {
            Remember(conversationId, userId, shared, generation);
            return shared;
        }

        if (!await _directory.IsConversationMemberAsync(conversationId, userId, cancellationToken))
        {
            DropMember(conversationId, userId);
            return new MemberAccess(ConversationAccess.None, null);
        }

        var conversation = await _directory.GetConversationAsync(conversationId, cancellationToken);
        var access = new MemberAccess(
            conversation?.ArchivedAt is not null ? ConversationAccess.Archived
            : await MaySendAsync(conversation, userId, cancellationToken) ? ConversationAccess.Send
            : ConversationAccess.ReadOnly,
            conversation?.TeamId,
            (ushort)Math.Clamp(conversation?.SlowModeSeconds ?? 0, 0, ConversationRecord.MaxSlowModeSeconds),
            conversation?.CreatedBy == userId);
        if (Remember(conversationId, userId, access, generation))
        {
            _backplane.Offer(conversationId, userId, access);
        }

        return access;
    }

    private async ValueTask<ConversationRoster?> LookUpRosterAsync(Guid conversationId, CancellationToken cancellationToken)
    {
        var generation = Volatile.Read(ref _generations[StripeOf(conversationId)]);
        var conversation = await _directory.GetConversationAsync(conversationId, cancellationToken);
        if (conversation is null)
        {
            return null;
        }

        var roster = new ConversationRoster(conversation, await _directory.ListConversationMembersAsync(conversationId, cancellationToken));

        // Kept unless a change was forgotten since the lookup began, also one forgotten while it is stored.
        if (generation == Volatile.Read(ref _generations[StripeOf(conversationId)]))
        {
            var entry = new RosterEntry(_time.GetTimestamp() + _rosterLifetimeTicks, roster);
            if (Interlocked.Read(ref _rosterMembers) + entry.Size > _maxRosterMembers)
            {
                MakeRoom();
            }

            KeepRoster(conversationId, entry);
            if (generation != Volatile.Read(ref _generations[StripeOf(conversationId)]))
            {
                DropRoster(KeyValuePair.Create(conversationId, entry));
            }
        }

        return roster;
    }

    // Whether the conversation's answers were all forgotten when or after this one was cached.
    private bool ForgottenSince(Guid conversationId, Entry entry) =>
        _forgottenConversations.TryGetValue(conversationId, out var forgottenAt) && entry.Expires - _lifetimeTicks <= forgottenAt;

    // Marks every cached answer of the conversation untrusted (they stay until replaced or swept: dropping them would
    // mean walking every answer of every conversation), and lets go of marks older than an answer's lifetime.
    private void ForgetEveryAnswer(Guid conversationId)
    {
        lock (_marksGate)
        {
            var now = _time.GetTimestamp();
            _forgottenConversations[conversationId] = now;
            Volatile.Write(ref _oldestMark, Math.Min(_oldestMark, now));
            LetGoOfOldMarksLocked();
        }
    }

    // Drops the marks older than an answer's lifetime.
    private void LetGoOfOldMarks()
    {
        lock (_marksGate)
        {
            LetGoOfOldMarksLocked();
        }
    }

    private void LetGoOfOldMarksLocked()
    {
        var now = _time.GetTimestamp();
        var oldest = long.MaxValue;
        foreach (var mark in _forgottenConversations)
        {
            if (now - mark.Value > _lifetimeTicks)
            {
                _forgottenConversations.TryRemove(mark);
            }
            else
            {
                oldest = Math.Min(oldest, mark.Value);
            }
        }

        Volatile.Write(ref _oldestMark, oldest);
        Volatile.Write(ref _forgottenConversationCount, _forgottenConversations.Count);
    }

    /// <summary>Conversations marked forgotten whose marks are still kept (for tests).</summary>
    internal int ForgottenConversationMarks => Volatile.Read(ref _forgottenConversationCount);

    // Keeps an answer unless a change was forgotten since the lookup began; whether it was kept.
    private bool Remember(Guid conversationId, Guid userId, MemberAccess access, long generation)
    {
        // Stamped before the check: a conversation-wide forget after it marks a time at or after the stamp, so the
        // answer is distrusted; one before it changed the generation.
        var entry = new Entry(_time.GetTimestamp() + _lifetimeTicks, access);
        if (generation != Volatile.Read(ref _generations[StripeOf(conversationId)]))
        {
            return false;
        }

        if (_members.TryAdd((conversationId, userId), entry))
        {
            if (Interlocked.Increment(ref _entryCount) > _maxEntries)
            {
                MakeRoom();
            }
        }
        else
        {
            _members[(conversationId, userId)] = entry;
        }

        // A forget of this answer that came while it was stored (after the check) may have run its removal first.
        if (generation != Volatile.Read(ref _generations[StripeOf(conversationId)]))
        {
            if (_members.TryRemove(KeyValuePair.Create((conversationId, userId), entry)))
            {
                Interlocked.Decrement(ref _entryCount);
            }

            return false;
        }

        return true;
    }

    // Adds or replaces a conversation's roster, counting the member ids held.
    private void KeepRoster(Guid conversationId, RosterEntry entry)
    {
        while (true)
        {
            if (_rosters.TryGetValue(conversationId, out var old))
            {
                if (_rosters.TryUpdate(conversationId, entry, old))
                {
                    Interlocked.Add(ref _rosterMembers, entry.Size - old.Size);
                    return;
                }
            }
            else if (_rosters.TryAdd(conversationId, entry))
            {
                Interlocked.Add(ref _rosterMembers, entry.Size);
                return;
            }
        }
    }

    // Past a bound: sweeps out what has expired, and starts over only if what is live still fills it. One
    // thread sweeps at a time; the others go on (the bound is soft by what they add meanwhile).
    private void MakeRoom()
    {
        if (Interlocked.Exchange(ref _sweeping, 1) == 1)
        {
            return;
        }

        try
        {
            var now = _time.GetTimestamp();
            foreach (var member in _members)
            {
                if (member.Value.Expires <= now && _members.TryRemove(member))
                {
                    Interlocked.Decrement(ref _entryCount);
                }
            }

            foreach (var roster in _rosters)
            {
                if (roster.Value.Expires <= now)
                {
                    DropRoster(roster);
                }
            }

            if (Volatile.Read(ref _entryCount) > _maxEntries * 3L / 4)
            {
                ClearMembers();
            }

            if (Interlocked.Read(ref _rosterMembers) > _maxRosterMembers * 3L / 4)
            {
                ClearRosters();
            }
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }

    // Removes an answer, and its count with it.
    private void DropMember(Guid conversationId, Guid userId)
    {
        if (_members.TryRemove((conversationId, userId), out _))
        {
            Interlocked.Decrement(ref _entryCount);
        }
    }

    // Removes this roster if it is still the one kept, and its member ids from the count.
    private void DropRoster(KeyValuePair<Guid, RosterEntry> kept)
    {
        if (_rosters.TryRemove(kept))
        {
            Interlocked.Add(ref _rosterMembers, -kept.Value.Size);
        }
    }

    private void ClearMembers()
    {
        _members.Clear();
        Volatile.Write(ref _entryCount, 0);
    }

    private void ClearRosters()
    {
        _rosters.Clear();
        Interlocked.Exchange(ref _rosterMembers, 0);
    }

    // A channel's members may send; a DM's or group DM's only while they share a team with every other person in it.
    private async Task<bool> MaySendAsync(ConversationRecord? conversation, Guid userId, CancellationToken cancellationToken)
    {
        if (conversation is null || conversation.TeamId is not null)
        {
            return conversation is not null;
        }

        foreach (var other in await _directory.ListConversationMembersAsync(conversation.Id, cancellationToken))
        {
            if (other != userId && !await _directory.ShareTeamAsync(userId, other, cancellationToken))
            {
                return false;
            }
        }

        return true;
    }

    private readonly record struct Entry(long Expires, MemberAccess Access);

    private sealed record RosterEntry(long Expires, ConversationRoster Roster)
    {
        // Member ids held, and one for the conversation itself.
        public int Size => Roster.Members.Count + 1;
    }
}
