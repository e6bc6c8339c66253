using System.Buffers;
using System.Runtime.InteropServices;
using ChatWire.Gateway.Conversations;
using ChatWire.Routing;
using ChatWire.Storage.Directory;
using ChatWire.Storage.Messages;

namespace ChatWire.Gateway.Delivery;

/// <summary>
/// Routes what the bus carries to this node's delivery targets. State is kept per user, not per target: a
/// user's route lists their local targets and their conversations; a conversation's route lists the local
/// users in it. On the Redis bus the node subscribes to a conversation's topic only while a local user is in it,
/// and to a user's topic while that user has a local target (reference counted); subscriptions change outside
/// the lock (<see cref="TopicSubscriptions"/>). The in-process bus hands over every topic, and what has no route
/// here is dropped. Each event's bytes, serialized once, go to every recipient
/// through the <see cref="DeliveryLanes"/>, which write them on every core in per-target order.
/// </summary>
/// <remarks>
/// Membership changes route themselves: a MEMBER_JOINED or MEMBER_LEFT event reaches the other members on
/// the conversation's topic and the subject's own devices on the subject's topic, which also adds or drops
/// the conversation from the subject's route. Either one dropping it is enough, so a leave cuts delivery at
/// the first of the two to arrive. The bus calls <see cref="OnPublished"/> one payload at a time in
/// publish order, and each event is queued for its targets' lanes within that call, each lane in order:
/// each target sees a conversation's events in seq order.
/// </remarks>
internal sealed class DeliveryFanout : IBusSubscriber, IDisposable
{
    /// <summary>
    /// Local targets from which a conversation keeps its recipient list between events (8 bytes a target) instead
    /// of listing them again for each: a big channel's burst then costs no per-recipient routing work per event.
    /// </summary>
    internal const int SharedRecipientsFrom = 16;

    /// <summary>The newest events of a conversation pushed again after a bus outage, when this node missed any (<see cref="CatchUpAsync"/>).</summary>
    internal const int CatchUpEvents = 10;

    // How much earlier than a conversation's route was made an event's storing node may have stamped it (clocks of
    // different nodes), and the event still be one the route's devices had not had from their SYNC.
    private const long CatchUpClockMarginMs = 10_000;

    // Conversations whose newest seq is read in one store call after an outage.
    private const int CatchUpBatch = 500;

    // How far back a removed member's own member_left is looked for when a re-read, not an event, found the removal.
    private const int RemovalLookback = 50;

    // The content read per conversation by the catch-up: the newest event at least, whatever its size.
    private const long CatchUpContentBytes = 256 * 1024;

    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, UserRoute> _users = [];
    private readonly Dictionary<Guid, ConversationRoute> _conversations = [];
    private readonly IDirectoryStore _directory;
    private readonly IMessageStore _messages;
    private readonly MembershipCache _membership;
    // Null with the in-process bus, which hands this fan-out every topic's payloads (SubscribeEveryTopic): the routes
    // below are then the node's only registry of topics, and a payload for a topic with no route here is dropped.
    private readonly TopicSubscriptions? _subscriptions;
    private readonly IDisposable? _everyTopic;
    private readonly DeliveryLanes _lanes;
    private readonly ILogger<DeliveryFanout> _logger;
    private readonly int _maxTargetsPerUser;
    private readonly bool _busKeepsOrderAcrossTopics;
    private int _reconciling;
    private int _reconcileWanted;

    private readonly Observability.GatewayMetrics? _metrics;

    public DeliveryFanout(
        IMessageBus bus,
        IDirectoryStore directory,
        IMessageStore messages,
        MembershipCache membership,
        ILogger<DeliveryFanout> logger,
        Observability.GatewayMetrics? metrics = null,
        Microsoft.Extensions.Options.IOptions<Hosting.GatewayOptions>? options = null,
        TimeProvider? time = null)
    {
        _metrics = metrics;
        _maxTargetsPerUser = options?.Value.MaxConnectionsPerUser is > 0 and var cap ? cap : int.MaxValue;
        _directory = directory;
        _messages = messages;
        _membership = membership;
        // The in-process bus hands over one publisher's payloads in order across topics, which Redis does not. It
        // filters nothing either (publisher and subscriber share the process), so this fan-out takes every topic from it
        // and keeps no subscription per topic, which would cost about 250 bytes per connected user and conversation.
        // Subscribed last, once everything a payload's handling touches is in place.
        _busKeepsOrderAcrossTopics = bus is InProcessMessageBus;
        if (!_busKeepsOrderAcrossTopics)
        {
            _subscriptions = new TopicSubscriptions(bus, this, logger, TimeSpan.FromMilliseconds(options?.Value.TopicLingerMs ?? 0), time);
        }

        _lanes = new DeliveryLanes(Environment.ProcessorCount, logger, metrics);
        _logger = logger;
        bus.Reconnected += () => _ = ReconcileAsync();
        _everyTopic = (bus as InProcessMessageBus)?.SubscribeEveryTopic(this);
    }

    /// <summary>Whether this node's deliveries are falling behind (<see cref="DeliveryLanes.IsBehind"/>).</summary>
    public bool IsBehind => _lanes.IsBehind;

    /// <summary>
    /// Re-reads every local user's conversations from the directory and corrects their routes: joins and
    /// leaves whose events were lost while the bus was down (a removed member must not go on receiving
    /// here). Also re-reads the sessions of the devices connected here and closes those revoked meanwhile: a
    /// revocation published while the bus was down reaches this node only from its publisher's replay buffer,
    /// which a long outage outlasts and a publisher that died with it never sends. Then pushes what this node's
    /// conversations missed meanwhile (<see cref="CatchUpAsync"/>). Run when the bus is back after an outage; a
    /// few store reads at a time.
    /// </summary>
    public async Task ReconcileAsync()
    {
        // One run at a time: outages close together would otherwise re-read every user several times over. An
        // outage that ends while a run is under way runs it once more afterwards: what that run read may predate it.
        Volatile.Write(ref _reconcileWanted, 1);
        while (Volatile.Read(ref _reconcileWanted) == 1 && Interlocked.CompareExchange(ref _reconciling, 1, 0) == 0)
        {
            try
            {
                Volatile.Write(ref _reconcileWanted, 0);
                await ReconcileOnceAsync();
            }
            finally
            {
                Volatile.Write(ref _reconciling, 0);
            }
        }
    }

    private async Task ReconcileOnceAsync()
    {
        List<(UserRoute Route, long Version)> routes;
        lock (_lock)
        {
            routes = [.. _users.Values.Where(r => r.Load is null).Select(r => (r, r.Version))];
        }

        var corrected = 0;
        var removed = new List<(Guid ConversationId, Guid UserId)>();
        await Parallel.ForEachAsync(routes, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (entry, ct) =>
        {
            var (route, version) = entry;
            try
            {
                var conversations = (await _directory.ListConversationsForUserAsync(route.UserId, ct)).Select(c => c.Id).ToHashSet();
                lock (_lock)
                {
                    // A membership event applied meanwhile is newer than what was read: it stands.
                    if (_users.TryGetValue(route.UserId, out var current) && current == route && route.Version == version)
                    {
                        foreach (var gone in route.Conversations.Where(c => !conversations.Contains(c)).ToArray())
                        {
                            DropLocked(route, gone);
                            removed.Add((gone, route.UserId));
                            Interlocked.Increment(ref corrected);
                        }

                        foreach (var added in conversations.Where(c => !route.HasConversation(c)))
                        {
                            // Joined while the bus was away: the user's devices here missed it, and the catch-up
                            // below pushes the conversation's newest events, however old, for a route made now.
                            JoinLocked(route, added, createdAtMs: 0);
                            Interlocked.Increment(ref corrected);
                        }
                    }
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                GatewayLog.StoreFailed(_logger, ex);
            }

            try
            {
                await CloseRevokedAsync(route, ct);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                GatewayLog.StoreFailed(_logger, ex);
            }
        });

        await ApplySubscriptionsAsync();
        GatewayLog.RoutesReconciled(_logger, routes.Count, corrected);
        await Parallel.ForEachAsync(
            removed.GroupBy(r => r.ConversationId),
            new ParallelOptions { MaxDegreeOfParallelism = 8 },
            async (conversation, ct) => await TellRemovedAsync(conversation.Key, [.. conversation.Select(r => r.UserId)], read: null, ct));
        await CatchUpAsync();
    }

    // Sends users that a re-read (not an event this node heard) dropped from a conversation their own member_left, read
    // from the store, as the bus would have brought it: their devices here then leave the conversation now rather than
    // at their next SYNC. It is looked for among the conversation's newest events (at most RemovalLookback, about
    // 256 KiB); a leave older than those is not sent, and those devices learn of it at their next SYNC. Either way
    // nothing of the conversation after the leave reaches them: their route no longer has it. Events the caller has
    // read already (the newest ones) are looked in first.
    private async Task TellRemovedAsync(Guid conversationId, IReadOnlyCollection<Guid> users, IReadOnlyList<StoredEvent>? read, CancellationToken ct)
    {
        var newest = read ?? [];
        if (users.Any(user => OwnLeave(newest, user) is null))
        {
            try
            {
                newest = await _messages.ReadAsync(conversationId, 0, ReadDirection.Before, RemovalLookback, CatchUpContentBytes, cancellationToken: ct);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException and not OperationCanceledException)
            {
                GatewayLog.StoreFailed(_logger, ex);
                return;
            }
        }

        var frames = new ArrayBufferWriter<byte>(256);
        foreach (var user in users)
        {
            if (OwnLeave(newest, user) is not { } leave)
            {
                continue;
            }

            Recipients recipients;
            lock (_lock)
            {
                // Gone from the node, still loading, or back in the conversation: nothing to tell.
                if (!_users.TryGetValue(user, out var route) || route.Load is not null || route.HasConversation(conversationId))
                {
                    continue;
                }

                recipients = CollectLocked([route], except: null);
            }

            DispatchStored(recipients, leave, frames);
        }
    }

    /// <summary>
    /// Pushes to this node's connections the newest events of each conversation it routes that it has not heard
    /// of: a node whose own link to Redis failed (while the other nodes kept theirs) misses what the others
    /// published meanwhile, and they have no outage of their own to replay. For each conversation whose newest
    /// stored seq is above the last one this node dispatched (for a conversation it has dispatched nothing in,
    /// events stored since its route was made), up to <see cref="CatchUpEvents"/> of the newest go to its local
    /// members' targets. A device that lacks the ones before them sees the gap and fetches it (docs/protocol.md
    /// §4.10, rule 3), so no message waits unseen for the conversation's next event or the device's next
    /// SYNC; a device that had them drops them by seq. One store call per 500 conversations, then one read per
    /// conversation behind, a few at a time.
    /// </summary>
    internal async Task CatchUpAsync(CancellationToken ct = default)
    {
        List<(Guid Id, ulong LastSeq)> routed;
        lock (_lock)
        {
            routed = [.. _conversations.Select(c => (c.Key, c.Value.LastSeq))];
        }

        var behind = new List<(Guid Id, ulong Newest)>();
        foreach (var chunk in routed.Chunk(CatchUpBatch))
        {
            try
            {
                var newest = await _messages.GetLatestSeqsAsync([.. chunk.Select(c => c.Id)], ct);
                behind.AddRange(chunk.Where(c => newest.TryGetValue(c.Id, out var seq) && seq > c.LastSeq).Select(c => (c.Id, newest[c.Id])));
            }
            catch (Exception ex) when (ex is not OutOfMemoryException and not OperationCanceledException)
            {
                GatewayLog.StoreFailed(_logger, ex);
            }
        }

        var pushed = 0;
        await Parallel.ForEachAsync(behind, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (conversation, token) =>
            Interlocked.Add(ref pushed, await PushMissedAsync(conversation.Id, conversation.Newest, token)));

        GatewayLog.CaughtUpAfterOutage(_logger, routed.Count, behind.Count, pushed);
    }

    // The conversation's newest events (at most CatchUpEvents, and about one frame of content: the newest one is
    // enough to show a device its gap) that this node has not dispatched, to its local members' targets: those above
    // its last dispatched seq, or, when it has dispatched none, those stored since its route was made (any, for a
    // route the outage's re-read made). The route's local users are first checked against the conversation's members
    // as the directory holds them after the read (a removal whose member_left is older than what was read, and which
    // this node did not hear of, must not let the removed member have what followed it); membership events among
    // the events read are then applied as they go, as the bus's own would be: a member_left reaches its subject's
    // devices and is the last event they get. The route's last seq moves to the newest read even when the time rule
    // skipped it, so an idle route is read once, not after every outage. Returns how many were pushed.
    private async Task<int> PushMissedAsync(Guid conversationId, ulong newestSeq, CancellationToken ct)
    {
        ulong lastSeq;
        long createdAtMs;
        lock (_lock)
        {
            if (!_conversations.TryGetValue(conversationId, out var route))
            {
                return 0;
            }

            (lastSeq, createdAtMs) = (route.LastSeq, route.CreatedAtMs);
        }

        IReadOnlyList<StoredEvent> newest;
        IReadOnlyList<Guid> members;
        try
        {
            // A route that has dispatched nothing: whether anything is newer than its making shows in the newest event.
            if (lastSeq == 0 && createdAtMs > 0)
            {
                var first = await _messages.ReadAsync(conversationId, 0, ReadDirection.Before, 1, cancellationToken: ct);
                if (first.Count == 0 || first[0].StoredAt.ToUnixTimeMilliseconds() < createdAtMs - CatchUpClockMarginMs)
                {
                    lock (_lock)
                    {
                        if (first.Count > 0 && _conversations.TryGetValue(conversationId, out var idle))
                        {
                            idle.LastSeq = Math.Max(idle.LastSeq, first[0].Seq);
                        }
                    }

                    return 0;
                }
            }

            // As many as were missed when that is known, at most CatchUpEvents.
            var take = lastSeq > 0 && newestSeq > lastSeq ? (int)Math.Min(newestSeq - lastSeq, CatchUpEvents) : CatchUpEvents;
            newest = await _messages.ReadAsync(conversationId, 0, ReadDirection.Before, take, CatchUpContentBytes, cancellationToken: ct);
            if (newest.Count == 0 || newest.Max(e => e.Seq) <= lastSeq)
            {
                return 0;
            }

            members = await _directory.ListConversationMembersAsync(conversationId, ct);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException and not OperationCanceledException)
        {
            GatewayLog.StoreFailed(_logger, ex);
            return 0;
        }

        var pushed = 0;
        var routesChanged = false;
        List<Guid>? removed = null;
        try
        {
            var current = members.ToHashSet();
            lock (_lock)
            {
                if (_conversations.TryGetValue(conversationId, out var route))
                {
                    var dropped = route.Users.Where(u => u.Load is null && !current.Contains(u.UserId)).ToArray();
                    foreach (var gone in dropped)
                    {
                        gone.Version++;
                        routesChanged |= DropLocked(gone, conversationId);
                    }

                    // Told their own leave after the pushes, from the events read when it is among them.
                    if (dropped.Length > 0)
                    {
                        removed = [.. dropped.Select(u => u.UserId)];
                    }
                }
            }

            var frames = new ArrayBufferWriter<byte>(1024);
            foreach (var stored in newest.OrderBy(e => e.Seq))
            {
                Recipients recipients;
                lock (_lock)
                {
                    if (!_conversations.TryGetValue(conversationId, out var route))
                    {
                        // A leave among these took the route with its last local member; their join after it brings
                        // the route back, and them their join and what follows.
                        if (!RejoinLocked(stored, out route))
                        {
                            continue;
                        }

                        routesChanged = true;
                        route.LastSeq = Math.Max(route.LastSeq, stored.Seq);
                        recipients = CollectLocked(route.Users, except: null);
                    }
                    else
                    {
                        if (stored.Seq <= route.LastSeq)
                        {
                            continue;
                        }

                        var skipped = route.LastSeq == 0 && stored.StoredAt.ToUnixTimeMilliseconds() < route.CreatedAtMs - CatchUpClockMarginMs;
                        route.LastSeq = stored.Seq;
                        if (skipped)
                        {
                            continue;
                        }

                        recipients = MembershipChangeLocked(route, stored, ref routesChanged);
                    }
                }

                DispatchStored(recipients, stored, frames);
                pushed++;
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            GatewayLog.PublishFailed(_logger, conversationId, 0, ex);
        }

        if (routesChanged)
        {
            _ = ApplySubscriptionsAsync();
        }

        if (removed is not null)
        {
            await TellRemovedAsync(conversationId, removed, newest, ct);
        }

        return pushed;
    }

    // Called under _lock, for an event the catch-up pushes while the conversation has no route here: a join of a local
    // user routes it to them again; false for anything else.
    private bool RejoinLocked(StoredEvent stored, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ConversationRoute? route)
    {
        route = null;
        if (stored.Kind != EventKind.MemberJoined || stored.SubjectId is not { } joiner || !_users.TryGetValue(joiner, out var user) || user.Load is not null)
        {
            return false;
        }

        ApplyMembershipLocked(user, Header(stored, joiner));
        return _conversations.TryGetValue(stored.ConversationId, out route);
    }

    // The user's newest member_left among the events, if any.
    private static StoredEvent? OwnLeave(IReadOnlyList<StoredEvent> events, Guid user) =>
        events.Where(e => e.Kind == EventKind.MemberLeft && e.SubjectId == user).MaxBy(e => e.Seq);

    // An event read from the store, framed in the caller's buffer, to its recipients.
    private void DispatchStored(Recipients recipients, StoredEvent stored, ArrayBufferWriter<byte> frames)
    {
        frames.ResetWrittenCount();
        ChatWire.Protocol.FrameCodec.Write(frames, new ChatWire.Protocol.Frames.EventFrame(EventMapping.ToProtocol(stored)));
        Dispatch(recipients, frames.WrittenSpan);
    }

    private static EnvelopeHeader Header(StoredEvent stored, Guid subject) =>
        new(EnvelopeKind.Event, stored.Kind, stored.ConversationId, subject, stored.Seq, stored.SenderDeviceId);

    // Called under _lock, for an event the catch-up pushes: who gets it, with its membership change applied. A join
    // of a local user routes the conversation to them first (they get their own member_joined); a leave reaches the
    // leaver's devices, then drops the conversation from their route (nothing after it reaches them).
    private Recipients MembershipChangeLocked(ConversationRoute route, StoredEvent stored, ref bool routesChanged)
    {
        if (stored.Kind is not (EventKind.MemberJoined or EventKind.MemberLeft)
            || stored.SubjectId is not { } subject || !_users.TryGetValue(subject, out var user) || user.Load is not null)
        {
            return CollectLocked(route.Users, except: null);
        }

        // The leaver's own devices are collected before the leave drops them (one already dropped, by the outage's
        // re-read or the member check, is told on its own: TellRemovedAsync); a joiner's once the join routes them.
        var leaving = stored.Kind == EventKind.MemberLeft;
        var recipients = leaving ? CollectLocked(route.Users, except: null) : default;
        ApplyMembershipLocked(user, Header(stored, subject));
        routesChanged = true;
        return leaving ? recipients : CollectLocked(route.Users, except: null);
    }

    // The user's devices connected here without a live session now are closed as a revocation would: one read of
    // the user's unrevoked sessions, however many of their devices are connected.
    private async Task CloseRevokedAsync(UserRoute route, CancellationToken ct)
    {
        var live = (await _directory.ListDeviceSessionsAsync(route.UserId, ct)).Select(s => s.DeviceId).ToHashSet();
        Guid[] revoked;
        lock (_lock)
        {
            revoked = [.. route.Targets.ToArray().Select(t => t.DeviceId).Where(d => !live.Contains(d)).Distinct()];
        }

        foreach (var device in revoked)
        {
            OnRevoked(route.UserId, device);
        }
    }

    /// <summary>
    /// Bus topics this node is subscribed to; with the in-process bus, which hands over every topic, the topics it
    /// routes (one per local user and one per conversation with a local member).
    /// </summary>
    public int Subscriptions
    {
        get
        {
            if (_subscriptions is { } subscriptions)
            {
                return subscriptions.ActiveCount;
            }

            lock (_lock)
            {
                return _users.Count + _conversations.Count;
            }
        }
    }

    /// <summary>Of <see cref="Subscriptions"/>, those kept with no local user (<see cref="Hosting.GatewayOptions.TopicLingerMs"/>).</summary>
    public int LingeringSubscriptions => _subscriptions?.LingeringCount ?? 0;

    /// <summary>Unsubscribes the topics whose linger has ended now, as the once-a-second timer does; for tests.</summary>
    internal Task EndLingersAsync()
    {
        _subscriptions?.SweepLingering();
        return ApplySubscriptionsAsync();
    }

    /// <summary>Completes when every event routed before the call has been written to its targets.</summary>
    public Task DeliveredAsync() => _lanes.DeliveredAsync();

    public void Dispose()
    {
        _subscriptions?.Dispose();
        _everyTopic?.Dispose();
        _lanes.Dispose();
    }

    // Completes when the subscriptions queued so far are in effect (at once with the in-process bus, which needs none).
    private Task ApplySubscriptionsAsync() => _subscriptions?.ApplyAsync() ?? Task.CompletedTask;

    /// <summary>
    /// Routes the user's conversations to <paramref name="target"/>. When the task completes with true, every
    /// event published from then on reaches it: the topics are subscribed and the conversation list is loaded.
    /// False, with nothing registered, when the user already has <c>Gateway:MaxConnectionsPerUser</c> targets here.
    /// </summary>
    public async Task<bool> RegisterAsync(IDeliveryTarget target)
    {
        UserRoute route;
        Loading? loading;
        var loadHere = false;
        lock (_lock)
        {
            if (_users.TryGetValue(target.UserId, out var existing))
            {
                if (existing.Targets.Length >= _maxTargetsPerUser)
                {
                    return false;
                }

                existing.AddTarget(target);
                TargetsChangedLocked(existing);
                route = existing;
                loading = existing.Load;
            }
            else
            {
                // Subscribe to the user's topic before reading their conversations, and hold what arrives on
                // it while the list loads: a join or leave published in between is then either in the list
                // or replayed after it, in order, never lost.
                route = new UserRoute(target.UserId);
                route.AddTarget(target);
                loading = route.Load = new Loading();
                _users[target.UserId] = route;
                _subscriptions?.Acquire(BusTopic.User(target.UserId));
                loadHere = true;
            }
        }

        if (loadHere)
        {
            await LoadAsync(route, loading!);
        }
        else
        {
            // A second device of the same user waits for the first one's load: its routing is the same,
            // and so are its topics, which may still be subscribing.
            if (loading is not null)
            {
                await loading.Done.Task;
            }

            await ApplySubscriptionsAsync();
        }

        return true;
    }

    public void Unregister(IDeliveryTarget target)
    {
        lock (_lock)
        {
            if (!_users.TryGetValue(target.UserId, out var route) || !route.RemoveTarget(target))
            {
                return;
            }

            if (route.Targets.Length > 0)
            {
                TargetsChangedLocked(route);
                return;
            }

            RemoveLocked(route);
        }

        _ = ApplySubscriptionsAsync();
    }

    public void OnPublished(BusTopic topic, ReadOnlyMemory<byte> payload)
    {
        if (!BusEnvelope.TryRead(payload.Span, out var header, out var frame))
        {
            return;
        }

        switch (header.Kind, topic.Kind)
        {
            case (EnvelopeKind.Event, BusTopicKind.Conversation):
                OnConversationEvent(header, frame);
                break;
            case (EnvelopeKind.Event, BusTopicKind.User):
                OnUserEvent(topic.Id, header, frame, payload);
                break;
            case (EnvelopeKind.DeviceRevoked, BusTopicKind.User):
                OnRevoked(topic.Id, header.DeviceId);
                break;
            case (EnvelopeKind.UserFrame, BusTopicKind.User):
                OnUserFrame(topic.Id, frame);
                break;
            case (EnvelopeKind.ConversationFrame, BusTopicKind.Conversation):
                OnConversationFrame(header, frame);
                break;
        }
    }

    // Outside the lock: the bus is never called under it.
    private async Task LoadAsync(UserRoute route, Loading loading)
    {
        try
        {
            await ApplySubscriptionsAsync();
            var conversations = await _directory.ListConversationsForUserAsync(route.UserId);
            lock (_lock)
            {
                // Every target of the user may have gone while the list loaded; then the route is gone too.
                if (_users.TryGetValue(route.UserId, out var current) && current == route)
                {
                    foreach (var conversation in conversations)
                    {
                        JoinLocked(route, conversation.Id);
                    }

                    // Replayed under the lock, in arrival order, before anything newer on the topic: each
                    // applies (or re-applies) its change and reaches the user's targets.
                    foreach (var payload in loading.Held)
                    {
                        ReplayLocked(route, payload);
                    }

                    // Loaded only once all of it is in: a failure above leaves a device registering meanwhile
                    // waiting on the load's outcome, which fails.
                    route.Load = null;
                }
            }

            await ApplySubscriptionsAsync();
            loading.Done.TrySetResult();
        }
        catch (Exception ex)
        {
            lock (_lock)
            {
                if (_users.TryGetValue(route.UserId, out var current) && current == route)
                {
                    RemoveLocked(route);
                }
            }

            _ = ApplySubscriptionsAsync();
            loading.Done.TrySetException(ex);
            throw;
        }
    }

    // Called under _lock: what OnUserEvent and OnRevoked do, for a payload held while the route loaded.
    // Queuing for the lanes under the lock keeps these ahead of anything newer; it happens rarely.
    private void ReplayLocked(UserRoute route, byte[] payload)
    {
        if (!BusEnvelope.TryRead(payload, out var header, out var frame))
        {
            return;
        }

        if (header.Kind == EnvelopeKind.DeviceRevoked)
        {
            foreach (var target in route.TargetsOf(header.DeviceId))
            {
                target.Revoke();
            }

            return;
        }

        ApplyMembershipLocked(route, header);
        Dispatch(CollectLocked([route], except: null), frame);
    }

    private void OnConversationEvent(in EnvelopeHeader header, ReadOnlySpan<byte> frame)
    {
        var isMembership = header.EventKind is EventKind.MemberJoined or EventKind.MemberLeft;
        Recipients recipients;
        var changed = false;
        lock (_lock)
        {
            if (!_conversations.TryGetValue(header.ConversationId, out var route))
            {
                return;
            }

            // The subject of a membership change gets it on their own topic, not here; a leave stops their
            // routing now, whichever copy comes first.
            if (header.EventKind == EventKind.MemberLeft && _users.TryGetValue(header.SubjectId, out var leaving))
            {
                changed = LeaveLocked(leaving, header.ConversationId);
            }

            route.LastSeq = Math.Max(route.LastSeq, header.Seq);
            recipients = isMembership ? CollectLocked(route.Users, except: header.SubjectId) : RecipientsLocked(route);
        }

        if (header.EventKind == EventKind.MemberLeft)
        {
            _membership.ForgetLocal(header.ConversationId, header.SubjectId);
        }

        Dispatch(recipients, frame);
        if (changed)
        {
            _ = ApplySubscriptionsAsync();
        }
    }

    private void OnUserEvent(Guid userId, in EnvelopeHeader header, ReadOnlySpan<byte> frame, ReadOnlyMemory<byte> payload)
    {
        Recipients recipients;
        lock (_lock)
        {
            if (!_users.TryGetValue(userId, out var route))
            {
                return;
            }

            if (route.Load is { } loading)
            {
                // The payload is only valid during this call.
                loading.Held.Add(payload.ToArray());
                return;
            }

            ApplyMembershipLocked(route, header);
            recipients = CollectLocked([route], except: null);
        }

        Dispatch(recipients, frame);

        // A join's subscription is made after this call, never waited for in it: the bus delivers and subscribes
        // under one lock, so waiting here would hold up every delivery of the node until a timeout. What the
        // conversation publishes before the subscription is in place does not reach this node; once it is, the
        // newest events this node has not dispatched are read from the store and pushed, so the joined device
        // learns of them without waiting for the conversation's next event. The in-process bus subscribes at once.
        //
        // With the subscription already in place (another local member, or a topic kept for its linger), a remote bus
        // may still have brought what the conversation published just after the join ahead of the join itself: Redis
        // keeps each channel's order, not one publisher's across the conversation's channel and the user's. Those
        // events found no route to the joiner here (dropped, or dispatched to the other local members only), so the
        // joiner's devices are sent the events after their join from the store once; what they had live comes again
        // and is dropped by seq. The in-process bus keeps the order across topics and needs neither.
        var applied = ApplySubscriptionsAsync();
        if (header.EventKind != EventKind.MemberJoined || header.SubjectId != userId)
        {
            return;
        }

        if (!applied.IsCompleted)
        {
            _ = PushMissedOnceSubscribedAsync(applied, header.ConversationId);
        }
        else if (!_busKeepsOrderAcrossTopics)
        {
            _ = PushSinceJoinAsync(userId, header.ConversationId, header.Seq);
        }
    }

    // The conversation's events after the user's join (at most CatchUpEvents, about 256 KiB), read from the store, to
    // the user's targets here while the conversation is still theirs; up to and including their own leave, if one follows.
    private async Task PushSinceJoinAsync(Guid userId, Guid conversationId, ulong joinSeq)
    {
        IReadOnlyList<StoredEvent> since;
        try
        {
            since = await _messages.ReadAsync(conversationId, joinSeq, ReadDirection.After, CatchUpEvents, CatchUpContentBytes);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            GatewayLog.StoreFailed(_logger, ex);
            return;
        }

        var frames = new ArrayBufferWriter<byte>(1024);
        foreach (var stored in since)
        {
            Recipients recipients;
            lock (_lock)
            {
                if (!_users.TryGetValue(userId, out var route) || route.Load is not null || !route.HasConversation(conversationId))
                {
                    return;
                }

                recipients = CollectLocked([route], except: null);
            }

            DispatchStored(recipients, stored, frames);
            if (stored.Kind == EventKind.MemberLeft && stored.SubjectId == userId)
            {
                return;
            }
        }
    }

    private async Task PushMissedOnceSubscribedAsync(Task applied, Guid conversationId)
    {
        await applied;
        await PushMissedAsync(conversationId, newestSeq: 0, CancellationToken.None);
    }

    // Called under _lock: an event on the user's own topic about the user joins or drops the conversation. A join
    // is the first event of the conversation the user's devices need from here on: the route's last seq is at least it.
    private void ApplyMembershipLocked(UserRoute route, in EnvelopeHeader header)
    {
        if (header.SubjectId != route.UserId)
        {
            return;
        }

        // Even when it changes nothing here (a leave of a conversation not routed yet): a re-read of the
        // directory that began before it is older than it.
        route.Version++;
        if (header.EventKind == EventKind.MemberJoined)
        {
            JoinLocked(route, header.ConversationId);
            var conversation = _conversations[header.ConversationId];
            conversation.LastSeq = Math.Max(conversation.LastSeq, header.Seq);
        }
        else if (header.EventKind == EventKind.MemberLeft)
        {
            DropLocked(route, header.ConversationId);
        }
    }

    // Called under _lock: the user's route no longer has the conversation, and this node forgets they were a member.
    // True when the conversation's route changed.
    private bool DropLocked(UserRoute user, Guid conversationId)
    {
        var changed = LeaveLocked(user, conversationId);
        _membership.ForgetLocal(conversationId, user.UserId);
        return changed;
    }

    // An ephemeral frame for the conversation's members but one (the one typing).
    private void OnConversationFrame(in EnvelopeHeader header, ReadOnlySpan<byte> frame)
    {
        Recipients recipients;
        lock (_lock)
        {
            if (!_conversations.TryGetValue(header.ConversationId, out var route))
            {
                return;
            }

            recipients = CollectLocked(route.Users, except: header.SubjectId);
        }

        Dispatch(recipients, frame);
    }

    // Not held while the route loads: such a frame (READ_STATE) is not stored, and a connection still
    // registering learns the same from its SYNC.
    private void OnUserFrame(Guid userId, ReadOnlySpan<byte> frame)
    {
        Recipients recipients;
        lock (_lock)
        {
            if (!_users.TryGetValue(userId, out var route) || route.Load is not null)
            {
                return;
            }

            recipients = CollectLocked([route], except: null);
        }

        Dispatch(recipients, frame);
    }

    private void OnRevoked(Guid userId, Guid deviceId)
    {
        IDeliveryTarget[] revoked;
        lock (_lock)
        {
            if (!_users.TryGetValue(userId, out var route))
            {
                return;
            }

            if (route.Load is { } loading)
            {
                loading.Held.Add(BusEnvelope.ForRevocation(deviceId));
                return;
            }

            revoked = route.TargetsOf(deviceId);
        }

        foreach (var target in revoked)
        {
            target.Revoke();
        }
    }

    // Called under _lock: every local target of the conversation's members, by lane. Kept on the route from
    // SharedRecipientsFrom targets on, until a member or a member's target comes or goes (the lanes may still
    // be writing an earlier list: a list is never changed, only replaced).
    private Recipients RecipientsLocked(ConversationRoute route)
    {
        if (route.Recipients is { } kept)
        {
            return kept;
        }

        var recipients = CollectLocked(route.Users, except: null, share: true);
        if (recipients.Shared)
        {
            route.Recipients = recipients;
        }

        return recipients;
    }

    // Called under _lock: a user's targets changed, so their conversations' kept lists are out of date.
    private void TargetsChangedLocked(UserRoute user)
    {
        foreach (var conversationId in user.Conversations)
        {
            if (_conversations.TryGetValue(conversationId, out var route))
            {
                route.Recipients = null;
            }
        }
    }

    // Called under _lock: the recipients grouped by lane, in arrays rented here and returned by the lanes; with
    // share, from SharedRecipientsFrom targets on, in arrays of their own that the lanes leave alone.
    private Recipients CollectLocked(IEnumerable<UserRoute> users, Guid? except, bool share = false)
    {
        var lanes = _lanes.Count;
        var counts = new int[lanes];
        var total = 0;
        foreach (var user in users)
        {
            if (user.UserId != except)
            {
                foreach (var target in user.Targets)
                {
                    counts[_lanes.LaneOf(target)]++;
                    total++;
                }
            }
        }

        share &= total >= SharedRecipientsFrom;
        var byLane = new IDeliveryTarget[]?[lanes];
        var filled = new int[lanes];
        foreach (var user in users)
        {
            if (user.UserId != except)
            {
                foreach (var target in user.Targets)
                {
                    var lane = _lanes.LaneOf(target);
                    (byLane[lane] ??= share ? new IDeliveryTarget[counts[lane]] : ArrayPool<IDeliveryTarget>.Shared.Rent(counts[lane]))[filled[lane]++] = target;
                }
            }
        }

        return new Recipients(byLane, filled, share);
    }

    // Hands the event to the lanes: its bytes copied once (the bus payload lives only during its call), and
    // written outside the lock, so one slow socket never holds up routing for everyone else.
    private void Dispatch(Recipients recipients, ReadOnlySpan<byte> frame)
    {
        byte[]? copy = null;
        for (var lane = 0; lane < recipients.ByLane.Length; lane++)
        {
            if (recipients.ByLane[lane] is { } targets)
            {
                _lanes.Enqueue(lane, copy ??= frame.ToArray(), targets, recipients.Counts[lane], pooled: !recipients.Shared);
            }
        }

        // Once per event and node, not per recipient: how long after it was stored it reached this node's connections.
        if (copy is not null && _metrics is not null && Observability.EventTiming.TryReadServerTime(copy, out var storedAt))
        {
            _metrics.DeliveryLatency.Observe(Math.Max(0, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - storedAt) / 1000.0);
        }
    }

    // Called under _lock.
    private void RemoveLocked(UserRoute route)
    {
        foreach (var conversationId in route.Conversations.ToArray())
        {
            LeaveLocked(route, conversationId);
        }

        route.Load = null;
        _subscriptions?.Release(BusTopic.User(route.UserId));
        _users.Remove(route.UserId);
    }

    // Called under _lock.
    private void JoinLocked(UserRoute user, Guid conversationId, long? createdAtMs = null)
    {
        if (!user.AddConversation(conversationId))
        {
            return;
        }

        user.Version++;

        if (!_conversations.TryGetValue(conversationId, out var route))
        {
            route = new ConversationRoute { CreatedAtMs = createdAtMs ?? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
            _conversations[conversationId] = route;
            _subscriptions?.Acquire(BusTopic.Conversation(conversationId));
        }

        route.Users.Add(user);
        route.Recipients = null;
    }

    // Called under _lock; true when the conversation's route changed.
    private bool LeaveLocked(UserRoute user, Guid conversationId)
    {
        if (!user.RemoveConversation(conversationId) || !_conversations.TryGetValue(conversationId, out var route))
        {
            return false;
        }

        user.Version++;

        route.Users.Remove(user);
        route.Recipients = null;
        if (route.Users.Count == 0)
        {
            _conversations.Remove(conversationId);
            _subscriptions?.Release(BusTopic.Conversation(conversationId));
        }

        return true;
    }

    /// <summary>
    /// A user's routing on this node, read and changed under the fan-out's lock. It is kept small, since every
    /// connected user has one: most have a single device here, held in a field with no list, and a user in no
    /// conversation has no set.
    /// </summary>
    private sealed class UserRoute(Guid userId)
    {
        private IDeliveryTarget? _only;
        private List<IDeliveryTarget>? _several;
        private HashSet<Guid>? _conversations;

        public Guid UserId { get; } = userId;

        /// <summary>The user's targets here, in the order they registered.</summary>
        public ReadOnlySpan<IDeliveryTarget> Targets =>
            _several is not null ? CollectionsMarshal.AsSpan(_several) : _only is null ? [] : new ReadOnlySpan<IDeliveryTarget>(ref _only);

        /// <summary>The conversations routed to the user here.</summary>
        public IReadOnlyCollection<Guid> Conversations => (IReadOnlyCollection<Guid>?)_conversations ?? [];

        /// <summary>Bumped by every change of <see cref="Conversations"/>.</summary>
        public long Version { get; set; }

        /// <summary>Set while the conversation list loads; null once loaded (or once the route is gone).</summary>
        public Loading? Load { get; set; }

        public void AddTarget(IDeliveryTarget target)
        {
            if (_several is not null)
            {
                _several.Add(target);
            }
            else if (_only is null)
            {
                _only = target;
            }
            else
            {
                _several = [_only, target];
                _only = null;
            }
        }

        public bool RemoveTarget(IDeliveryTarget target)
        {
            if (_several is null)
            {
                if (_only != target)
                {
                    return false;
                }

                _only = null;
                return true;
            }

            if (!_several.Remove(target))
            {
                return false;
            }

            if (_several.Count == 1)
            {
                _only = _several[0];
                _several = null;
            }

            return true;
        }

        /// <summary>The user's targets here that are the device's connections.</summary>
        public IDeliveryTarget[] TargetsOf(Guid deviceId) => [.. Targets.ToArray().Where(t => t.DeviceId == deviceId)];

        public bool HasConversation(Guid conversationId) => _conversations?.Contains(conversationId) == true;

        public bool AddConversation(Guid conversationId) => (_conversations ??= []).Add(conversationId);

        public bool RemoveConversation(Guid conversationId)
        {
            if (_conversations is null || !_conversations.Remove(conversationId))
            {
                return false;
            }

            if (_conversations.Count == 0)
            {
                _conversations = null;
            }

            return true;
        }
    }

    /// <summary>A user's route while its conversation list loads.</summary>
    private sealed class Loading
    {
        /// <summary>What arrived on the user's topic meanwhile, replayed in order once the list is in.</summary>
        public List<byte[]> Held { get; } = [];

        /// <summary>Completes when the route is loaded and its topics subscribed; faults with the load's failure.</summary>
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class ConversationRoute
    {
        public HashSet<UserRoute> Users { get; } = [];

        /// <summary>The members' targets as the last event found them, while nothing changed since (big conversations only).</summary>
        public Recipients? Recipients { get; set; }

        /// <summary>The highest seq this node has dispatched in the conversation since the route was made; 0 for none yet.</summary>
        public ulong LastSeq { get; set; }

        /// <summary>When the route was made (Unix ms): its devices' SYNCs covered what was stored before.</summary>
        public long CreatedAtMs { get; init; }
    }

    /// <summary>Targets by lane; <see cref="Shared"/> lists are kept on a route and never returned to the pool.</summary>
    private readonly record struct Recipients(IDeliveryTarget[]?[] ByLane, int[] Counts, bool Shared);
}
