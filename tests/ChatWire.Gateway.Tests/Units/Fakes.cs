using System.Collections.Concurrent;
using ChatWire.Gateway.Delivery;
using ChatWire.Storage.Directory;
using ChatWire.Storage.Messages;

namespace ChatWire.Gateway.Tests.Units;

/// <summary>
/// An in-memory message store for unit tests: appends commit when the test says so (<see cref="Hold"/>,
/// <see cref="Release"/>) or at once, one batch per release, and tell the observers like the real writer.
/// </summary>
internal sealed class FakeMessageStore : IMessageStore
{
    private readonly Lock _lock = new();
    private readonly List<StoredEvent> _events = [];
    private readonly List<(NewEvent Event, TaskCompletionSource<AppendResult> Done)> _queued = [];
    private readonly List<ICommitObserver> _observers = [];
    private bool _holding;

    public Exception? FailWith { get; set; }

    /// <summary>An event stored as if another node had stored it: nothing is published.</summary>
    public void Add(StoredEvent e)
    {
        lock (_lock)
        {
            _events.Add(e);
        }
    }

    public IReadOnlyList<StoredEvent> Events
    {
        get
        {
            lock (_lock)
            {
                return [.. _events];
            }
        }
    }

    public IReadOnlyList<NewEvent> Queued
    {
        get
        {
            lock (_lock)
            {
                return _queued.Select(q => q.Event).ToList();
            }
        }
    }

    /// <summary>From now on appends wait in the queue until <see cref="Release"/>.</summary>
    public void Hold()
    {
        lock (_lock)
        {
            _holding = true;
        }
    }

    /// <summary>Commits everything queued as one batch and stops holding.</summary>
    public void Release()
    {
        List<(NewEvent Event, TaskCompletionSource<AppendResult> Done)> batch;
        lock (_lock)
        {
            _holding = false;
            batch = [.. _queued];
            _queued.Clear();
        }

        Commit(batch);
    }

    public ValueTask<Task<AppendResult>> EnqueueAsync(NewEvent newEvent, CancellationToken cancellationToken = default)
    {
        if (FailWith is { } failure)
        {
            return ValueTask.FromResult(Task.FromException<AppendResult>(failure));
        }

        var done = new TaskCompletionSource<AppendResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        bool holding;
        lock (_lock)
        {
            holding = _holding;
            _queued.Add((newEvent, done));
            if (newEvent.UsageTeamId is { } team)
            {
                TeamUsage[team] = TeamUsage.GetValueOrDefault(team) + newEvent.Content.Length;
            }
        }

        if (!holding)
        {
            Release();
        }

        return ValueTask.FromResult(done.Task);
    }

    public Task<IReadOnlyList<StoredEvent>> ReadAsync(Guid conversationId, ulong fromSeq, ReadDirection direction, int limit, long maxContentBytes = long.MaxValue, Guid? threadRootId = null, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            var mine = _events.Where(e => e.ConversationId == conversationId && (threadRootId is null || e.EventId == threadRootId || e.ThreadRootId == threadRootId));
            var picked = (direction == ReadDirection.After
                ? mine.Where(e => e.Seq > fromSeq).OrderBy(e => e.Seq)
                : mine.Where(e => fromSeq == 0 || e.Seq < fromSeq).OrderByDescending(e => e.Seq)).ToList();
            var page = new List<StoredEvent>();
            long bytes = 0;
            foreach (var e in picked.Take(limit))
            {
                if (bytes >= maxContentBytes)
                {
                    break;
                }

                bytes += e.Content.Length;
                page.Add(e);
            }

            return Task.FromResult<IReadOnlyList<StoredEvent>>([.. page.OrderBy(e => e.Seq)]);
        }
    }

    public Task<IReadOnlyDictionary<Guid, ulong>> GetLatestSeqsAsync(IReadOnlyCollection<Guid> conversationIds, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            var latest = _events.Where(e => conversationIds.Contains(e.ConversationId))
                .GroupBy(e => e.ConversationId)
                .ToDictionary(g => g.Key, g => g.Max(e => e.Seq));
            return Task.FromResult<IReadOnlyDictionary<Guid, ulong>>(latest);
        }
    }

    public Task<IReadOnlyList<(Guid ConversationId, ulong Seq)>> LocateMessageAsync(Guid messageId, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<(Guid, ulong)>>(
                [.. _events.Where(e => e.EventId == messageId && e.Kind == EventKind.Message).Select(e => (e.ConversationId, e.Seq))]);
        }
    }

    /// <summary>The real stores' rule, comparing with the stored content (the fake keeps no digest of the original).</summary>
    public Task<AppendResult?> FindStoredAsync(NewEvent newEvent, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            var stored = _events.FirstOrDefault(e => e.ConversationId == newEvent.ConversationId && e.EventId == newEvent.EventId);
            if (stored is null)
            {
                return Task.FromResult<AppendResult?>(null);
            }

            var same = stored.SenderDeviceId == newEvent.SenderDeviceId && stored.Kind == newEvent.Kind && stored.SubjectId == newEvent.SubjectId
                && stored.ThreadRootId == newEvent.ThreadRootId && stored.ContentType == newEvent.ContentType && stored.Content.Span.SequenceEqual(newEvent.Content.Span);
            return Task.FromResult<AppendResult?>(same ? new AppendResult(AppendOutcome.Duplicate, stored) : new AppendResult(AppendOutcome.Conflict, null));
        }
    }

    /// <summary>The fake keeps no threads or reactions: no message has details.</summary>
    public Task<IReadOnlyDictionary<Guid, MessageDetails>> GetMessageDetailsAsync(Guid conversationId, IReadOnlyCollection<Guid> messageIds, Guid readerUserId, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyDictionary<Guid, MessageDetails>>(new Dictionary<Guid, MessageDetails>());

    /// <summary>Read positions as the real stores keep them; unread counts others' messages, mentions are not counted.</summary>
    public async Task<ConversationStats> MarkReadAsync(Guid userId, Guid conversationId, ulong seq, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            var last = _events.Where(e => e.ConversationId == conversationId).Select(e => e.Seq).DefaultIfEmpty().Max();
            _readPositions[(userId, conversationId)] = Math.Max(_readPositions.GetValueOrDefault((userId, conversationId)), Math.Min(seq, last));
        }

        return (await GetStatsAsync(userId, [conversationId], cancellationToken: cancellationToken))[conversationId];
    }

    /// <summary>The fake keeps no device cursors.</summary>
    public Task SetDeviceCursorsAsync(Guid deviceId, IReadOnlyCollection<(Guid ConversationId, ulong Seq)> cursors, CancellationToken cancellationToken = default) =>
        Task.CompletedTask;

    public Task<ulong> GetFurthestDeviceCursorAsync(Guid conversationId, IReadOnlyCollection<Guid> deviceIds, CancellationToken cancellationToken = default) =>
        Task.FromResult(0UL);

    public Task<IReadOnlyDictionary<Guid, ConversationStats>> GetStatsAsync(Guid userId, IReadOnlyCollection<Guid> conversationIds, Guid? deviceId = null, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyDictionary<Guid, ConversationStats>>(conversationIds.ToDictionary(id => id, id =>
            {
                var read = _readPositions.GetValueOrDefault((userId, id));
                var events = _events.Where(e => e.ConversationId == id).ToList();
                var unread = events.Count(e => e.Seq > read && e.Kind == EventKind.Message && e.SenderUserId != userId);
                return new ConversationStats(events.Select(e => e.Seq).DefaultIfEmpty().Max(), read, unread, 0);
            }));
        }
    }

    private readonly Dictionary<(Guid User, Guid Conversation), ulong> _readPositions = [];

    /// <summary>Usage by sender (what the fake keeps); teams are counted by <see cref="TeamUsage"/>.</summary>
    public Task<IReadOnlyDictionary<Guid, long>> GetUsageAsync(IReadOnlyCollection<Guid> ownerIds, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            var usage = _events.Where(e => ownerIds.Contains(e.SenderUserId))
                .GroupBy(e => e.SenderUserId)
                .ToDictionary(g => g.Key, g => (long)g.Sum(e => e.Content.Length));
            foreach (var (team, bytes) in TeamUsage.Where(t => ownerIds.Contains(t.Key)))
            {
                usage[team] = bytes;
            }

            return Task.FromResult<IReadOnlyDictionary<Guid, long>>(usage);
        }
    }

    /// <summary>Content counted for teams, as the real stores count it (<see cref="NewEvent.UsageTeamId"/>).</summary>
    public Dictionary<Guid, long> TeamUsage { get; } = [];

    public IDisposable ObserveCommits(ICommitObserver observer)
    {
        lock (_lock)
        {
            _observers.Add(observer);
        }

        return new Unobserve(() =>
        {
            lock (_lock)
            {
                _observers.Remove(observer);
            }
        });
    }

    private void Commit(List<(NewEvent Event, TaskCompletionSource<AppendResult> Done)> batch)
    {
        var results = new List<AppendResult>();
        var stored = new List<StoredEvent>();
        ICommitObserver[] observers;
        lock (_lock)
        {
            foreach (var (e, _) in batch)
            {
                var existing = _events.FirstOrDefault(x => x.ConversationId == e.ConversationId && x.EventId == e.EventId);
                if (existing is not null)
                {
                    var same = existing.SenderDeviceId == e.SenderDeviceId && existing.Kind == e.Kind && existing.SubjectId == e.SubjectId
                        && existing.ContentType == e.ContentType && existing.Content.Span.SequenceEqual(e.Content.Span);
                    results.Add(same ? new AppendResult(AppendOutcome.Duplicate, existing) : new AppendResult(AppendOutcome.Conflict, null));
                    continue;
                }

                var seq = (ulong)_events.Count(x => x.ConversationId == e.ConversationId) + 1;
                var s = new StoredEvent(e.ConversationId, e.EventId, seq, e.Kind, e.SenderUserId, e.SenderDeviceId, DateTimeOffset.UnixEpoch.AddSeconds(seq), e.ContentType, e.Content.ToArray(), e.SubjectId);
                _events.Add(s);
                stored.Add(s);
                results.Add(new AppendResult(AppendOutcome.Stored, s));
            }

            observers = [.. _observers];
        }

        if (stored.Count > 0)
        {
            foreach (var observer in observers)
            {
                observer.OnCommitted(stored);
            }
        }

        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Done.TrySetResult(results[i]);
        }

        foreach (var observer in observers)
        {
            observer.WaitForRoom();
        }
    }

    private sealed class Unobserve(Action dispose) : IDisposable
    {
        public void Dispose() => dispose();
    }
}

/// <summary>
/// The directory as far as conversations and their members go, in memory, for unit tests. A lookup may be
/// slowed (<see cref="MembershipGate"/>) to open the windows the tests need; everything else the gateway
/// never calls from these units throws.
/// </summary>
internal sealed class FakeDirectory : IDirectoryStore
{
    private readonly ConcurrentDictionary<Guid, ConversationRecord> _conversations = new();
    private readonly ConcurrentDictionary<(Guid Conversation, Guid User), byte> _members = new();
    private readonly ConcurrentDictionary<(Guid Team, Guid User), TeamRole> _teams = new();

    /// <summary>When set, membership lookups and conversation listings wait for it.</summary>
    public TaskCompletionSource? MembershipGate { get; set; }

    public int MembershipLookups;

    /// <summary>A channel of <paramref name="teamId"/>, or with none a group DM of team-mates (they share a team of their own).</summary>
    public Guid AddConversation(Guid? teamId, params Guid[] members)
    {
        var id = Guid.CreateVersion7();
        if (teamId is null)
        {
            var shared = Guid.CreateVersion7();
            foreach (var member in members)
            {
                AddTeamMember(shared, member);
            }
        }

        _conversations[id] = new ConversationRecord(id, teamId is null ? ConversationKind.GroupMessage : ConversationKind.PublicChannel, teamId, teamId is null ? null : "c" + id.ToString("N")[..8], null, members.FirstOrDefault(), DateTimeOffset.UnixEpoch);
        foreach (var member in members)
        {
            _members[(id, member)] = 0;
        }

        return id;
    }

    public void AddTeamMember(Guid teamId, Guid userId) => _teams[(teamId, userId)] = TeamRole.Member;

    public void RemoveMember(Guid conversationId, Guid userId) => _members.TryRemove((conversationId, userId), out _);

    public void AddMember(Guid conversationId, Guid userId) => _members[(conversationId, userId)] = 0;

    public async Task<bool> IsConversationMemberAsync(Guid conversationId, Guid userId, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref MembershipLookups);
        if (MembershipGate is { } gate)
        {
            await gate.Task;
        }

        return _members.ContainsKey((conversationId, userId));
    }

    public async Task<IReadOnlyList<ConversationRecord>> ListConversationsForUserAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        if (MembershipGate is { } gate)
        {
            await gate.Task;
        }

        return _members.Keys.Where(k => k.User == userId).Select(k => _conversations[k.Conversation]).ToList();
    }

    public Task<bool> AddConversationMemberAsync(Guid conversationId, Guid userId, DateTimeOffset joinedAt, CancellationToken cancellationToken = default) =>
        Task.FromResult(_members.TryAdd((conversationId, userId), 0));

    public Task<ConversationRecord?> GetConversationAsync(Guid conversationId, CancellationToken cancellationToken = default) =>
        Task.FromResult(_conversations.GetValueOrDefault(conversationId));

    public Task<TeamMembershipRecord?> GetTeamMembershipAsync(Guid teamId, Guid userId, CancellationToken cancellationToken = default) =>
        Task.FromResult(_teams.TryGetValue((teamId, userId), out var role)
            ? new TeamMembershipRecord(new TeamRecord(teamId, "team", userId, DateTimeOffset.UnixEpoch), role, false, DateTimeOffset.UnixEpoch)
            : null);

    public Task<bool> RemoveTeamMemberAsync(Guid teamId, Guid userId, CancellationToken cancellationToken = default)
    {
        foreach (var key in _members.Keys.Where(k => k.User == userId && _conversations[k.Conversation].TeamId == teamId))
        {
            _members.TryRemove(key, out _);
        }

        return Task.FromResult(_teams.TryRemove((teamId, userId), out _));
    }

    public Task CreateConversationAsync(ConversationRecord conversation, IReadOnlyCollection<Guid> memberIds, CancellationToken cancellationToken = default)
    {
        _conversations[conversation.Id] = conversation;
        foreach (var member in memberIds)
        {
            _members[(conversation.Id, member)] = 0;
        }

        return Task.CompletedTask;
    }

    /// <summary>When set, member listings wait for it.</summary>
    public TaskCompletionSource? MemberListGate { get; set; }

    public int MemberListings;

    public async Task<IReadOnlyList<Guid>> ListConversationMembersAsync(Guid conversationId, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref MemberListings);
        var members = _members.Keys.Where(k => k.Conversation == conversationId).Select(k => k.User).ToList();
        if (MemberListGate is { } gate)
        {
            await gate.Task;
        }

        return members;
    }

    public Task CreateUserAsync(UserRecord user, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<UserRecord?> FindUserByNameAsync(string username, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<UserRecord?> GetUserAsync(Guid userId, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task UpdatePasswordHashAsync(Guid userId, string passwordHash, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task CreateDeviceSessionAsync(DeviceSessionRecord session, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<DeviceSessionRecord?> FindSessionByTokenHashAsync(byte[] tokenHash, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<DeviceSessionRecord?> GetDeviceSessionAsync(Guid deviceId, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task TouchDeviceSessionAsync(Guid deviceId, DateTimeOffset lastUsedAt, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<IReadOnlyList<DeviceSessionRecord>> ListDeviceSessionsAsync(Guid userId, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<bool> RevokeDeviceSessionAsync(Guid userId, Guid deviceId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<IReadOnlyList<Guid>> RevokeAllDeviceSessionsAsync(Guid userId, Guid? exceptDeviceId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task CreateTeamAsync(TeamRecord team, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<TeamRecord?> GetTeamAsync(Guid teamId, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    /// <summary>The fake keeps conversations, not teams: nobody is in a team (so nothing is muted).</summary>
    public Task<IReadOnlyList<TeamMembershipRecord>> ListTeamsForUserAsync(Guid userId, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<TeamMembershipRecord>>([]);

    public Task<bool> AddTeamMemberAsync(Guid teamId, Guid userId, TeamRole role, DateTimeOffset joinedAt, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<bool> SetTeamMutedAsync(Guid teamId, Guid userId, bool muted, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<IReadOnlyList<TeamMemberRecord>> ListTeamMembersAsync(Guid teamId, string? prefix, int limit, CancellationToken cancellationToken = default) =>
        prefix is not null
            ? throw new NotSupportedException()
            : Task.FromResult<IReadOnlyList<TeamMemberRecord>>(_teams.Where(t => t.Key.Team == teamId).OrderBy(t => t.Key.User)
                .Take(limit).Select(t => new TeamMemberRecord(t.Key.User, t.Key.User.ToString("N"), "member", t.Value, false)).ToList());

    public Task<bool> ShareTeamAsync(Guid userA, Guid userB, CancellationToken cancellationToken = default) =>
        Task.FromResult(_teams.Keys.Any(a => a.User == userA && _teams.ContainsKey((a.Team, userB))));

    public Task<bool> DeleteTeamAsync(Guid teamId, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<bool> UpdateChannelAsync(Guid conversationId, string? name, DateTimeOffset? archivedAt, int? slowModeSeconds = null, string? topic = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException();

    public Task<bool> RemoveConversationMemberAsync(Guid conversationId, Guid userId, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException();

    public Task<IReadOnlyList<TeamMemberRecord>> ListTeamMembersByIdAsync(Guid teamId, Guid? afterUserId, int limit, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException();

    public async Task<IReadOnlySet<Guid>> FilterTeammatesAsync(Guid userId, IReadOnlyCollection<Guid> others, CancellationToken cancellationToken = default)
    {
        var found = new HashSet<Guid>();
        foreach (var other in others)
        {
            if (await ShareTeamAsync(userId, other, cancellationToken))
            {
                found.Add(other);
            }
        }

        return found;
    }

    public Task SetLastSeenAsync(Guid userId, DateTimeOffset at, CancellationToken cancellationToken = default) => Task.CompletedTask;

    public Task<IReadOnlyDictionary<Guid, DateTimeOffset>> GetLastSeenAsync(IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyDictionary<Guid, DateTimeOffset>>(new Dictionary<Guid, DateTimeOffset>());

    public Task<bool> UpdateTeamAsync(Guid teamId, string? name, bool? membersCanInvite, bool? membersCanMentionChannel = null, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    // Enough for the service's repair of an ownerless team (no required owner, no last-owner rule).
    public Task<TeamRoleChange> SetTeamRoleAsync(Guid teamId, Guid userId, TeamRole role, Guid? requiredOwner, CancellationToken cancellationToken = default)
    {
        if (requiredOwner is not null)
        {
            throw new NotSupportedException();
        }

        return Task.FromResult(_teams.TryGetValue((teamId, userId), out var had) && _teams.TryUpdate((teamId, userId), role, had)
            ? TeamRoleChange.Changed
            : TeamRoleChange.NotAMember);
    }

    public Task RecordTeamRemovalAsync(Guid teamId, Guid userId, DateTimeOffset removedAt, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<DateTimeOffset?> GetTeamRemovalAsync(Guid teamId, Guid userId, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<(int Members, int Owners)> CountTeamMembersAsync(Guid teamId, CancellationToken cancellationToken = default)
    {
        var roles = _teams.Where(t => t.Key.Team == teamId).Select(t => t.Value).ToList();
        return Task.FromResult((roles.Count, roles.Count(r => r == TeamRole.Owner)));
    }

    // No join times here: the highest role, then the smallest user id.
    public Task<Guid?> FindTeamHeirAsync(Guid teamId, CancellationToken cancellationToken = default) =>
        Task.FromResult(_teams.Where(t => t.Key.Team == teamId).OrderByDescending(t => t.Value).ThenBy(t => t.Key.User).Select(t => (Guid?)t.Key.User).FirstOrDefault());

    public Task<int> CountTeamsOwnedAsync(Guid userId, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<int> RevokeInvitesCreatedByAsync(Guid teamId, Guid createdBy, DateTimeOffset revokedAt, CancellationToken cancellationToken = default) => Task.FromResult(0);

    public Task<int> CountActiveInvitesAsync(Guid teamId, DateTimeOffset now, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<int> CountChannelsAsync(Guid teamId, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task CreateInviteAsync(InviteRecord invite, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<InviteRecord?> FindInviteByCodeHashAsync(byte[] codeHash, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<IReadOnlyList<InviteRecord>> ListInvitesAsync(Guid teamId, Guid? afterId, int limit, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<int> DeleteDeadInvitesAsync(Guid teamId, DateTimeOffset before, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<bool> RevokeInviteAsync(Guid teamId, Guid inviteId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<ConversationRecord?> FindDirectConversationAsync(string directKey, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task<IReadOnlyList<ConversationRecord>> ListChannelsAsync(Guid teamId, Guid userId, CancellationToken cancellationToken = default) => throw new NotSupportedException();
}

/// <summary>A delivery target that records what it is given.</summary>
internal sealed class RecordingTarget(Guid userId, Guid deviceId) : IDeliveryTarget
{
    private readonly List<byte[]> _frames = [];
    private readonly List<byte[]> _unflushed = [];

    public Guid UserId { get; } = userId;

    public Guid DeviceId { get; } = deviceId;

    public bool Revoked { get; private set; }

    public IReadOnlyList<byte[]> Frames
    {
        get
        {
            lock (_frames)
            {
                return [.. _frames];
            }
        }
    }

    /// <summary>The seqs of the EVENT frames received, in order.</summary>
    public IReadOnlyList<ulong> Seqs => Frames.Select(f => Decode(f).Seq).ToList();

    public static Protocol.Frames.ConversationEvent Decode(byte[] frame) =>
        Protocol.FrameCodec.Decode<Protocol.Frames.EventFrame>(new System.Buffers.ReadOnlySequence<byte>(frame, 4, frame.Length - 4), Protocol.ProtocolLimits.Default).Event;

    public void Deliver(ReadOnlySpan<byte> frame)
    {
        lock (_frames)
        {
            _frames.Add(frame.ToArray());
        }
    }

    // Like a connection: frames written unflushed are seen (in Frames) only once flushed.
    public DeliveryWrite DeliverUnflushed(ReadOnlySpan<byte> frame)
    {
        lock (_frames)
        {
            _unflushed.Add(frame.ToArray());
            return _unflushed.Count == 1 ? DeliveryWrite.WrittenFlushOwed : DeliveryWrite.Written;
        }
    }

    public void FlushDeliveries()
    {
        lock (_frames)
        {
            _frames.AddRange(_unflushed);
            _unflushed.Clear();
        }
    }

    public void Revoke() => Revoked = true;
}

/// <summary>Monotonic time that moves only when a test moves it.</summary>
internal sealed class SteppingClock : TimeProvider
{
    private long _ticks = 1;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public void Advance(TimeSpan step) => Interlocked.Add(ref _ticks, step.Ticks);
}
