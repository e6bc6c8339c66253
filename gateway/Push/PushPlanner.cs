using System.Threading.Channels;
using ChatWire.Gateway.Conversations;
using ChatWire.Routing.Presence;
using ChatWire.Storage.Directory;
using ChatWire.Storage.Messages;
using ChatWire.Storage.Push;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Push;

/// <summary>
/// Decides, for every stored message, which members it may notify, and queues those notifications due
/// after the delay (<c>Push:DelayMs</c>). The rules: never the sender; in a DM or group DM every member;
/// in a channel the members it names, those @channel covers (every member) or @here covers (those online
/// now), those taking part in the thread it replies in (the root's author and earlier repliers), and those
/// whose level there is <see cref="PushLevel.All"/>. A member's level <see cref="PushLevel.None"/> in the
/// conversation, a do-not-disturb end in the future, or the team muted silences it. Whether a device got
/// the message meanwhile is the dispatcher's question at the due time.
/// </summary>
/// <remarks>
/// Fed by the store's commit observer (only messages of this node's writer: each message is planned once,
/// by the node that stored it), through a bounded queue so that the writer never waits on planning.
/// </remarks>
internal sealed class PushPlanner : BackgroundService, ICommitObserver
{
    public const int Capacity = 10_000;

    /// <summary>Most messages taken from the queue to be planned together.</summary>
    public const int MaxPlannedTogether = 256;

    private readonly Channel<StoredEvent> _messages = Channel.CreateBounded<StoredEvent>(
        new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });

    private readonly IDisposable _observation;
    private readonly IDirectoryStore _directory;
    private readonly MembershipCache _membership;
    private readonly IMessageStore _store;
    private readonly IPushStore _pushes;
    private readonly IPresenceRegistry _presence;
    private readonly IPushQueue _queue;
    private readonly PushMetrics _metrics;
    private readonly PushOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<PushPlanner> _logger;

    public PushPlanner(
        IMessageStore store, IDirectoryStore directory, MembershipCache membership, IPushStore pushes, IPresenceRegistry presence,
        IPushQueue queue, PushMetrics metrics, IOptions<PushOptions> options, TimeProvider time, ILogger<PushPlanner> logger)
    {
        _store = store;
        _directory = directory;
        _membership = membership;
        _pushes = pushes;
        _presence = presence;
        _queue = queue;
        _metrics = metrics;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _observation = store.ObserveCommits(this);
    }

    public void OnCommitted(IReadOnlyList<StoredEvent> events)
    {
        foreach (var stored in events)
        {
            if (stored.Kind == EventKind.Message && !_messages.Writer.TryWrite(stored))
            {
                GatewayLog.PushPlanDropped(_logger, Capacity);
            }
        }
    }

    /// <summary>How long a stopping node goes on planning what was committed before the stop.</summary>
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(10);

    private readonly CancellationTokenSource _drain = new();

    public override void Dispose()
    {
        _observation.Dispose();
        _messages.Writer.TryComplete();
        _drain.Dispose();
        base.Dispose();
    }

    // A stop plans what was committed before it (bounded by DrainTimeout and the host's own shutdown
    // timeout), so a SIGTERM right after a SEND's acknowledgement does not lose its notifications.
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _messages.Writer.TryComplete();
        if (ExecuteTask is { } running)
        {
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bounded.CancelAfter(DrainTimeout);
            try
            {
                await running.WaitAsync(bounded.Token);
            }
            catch (OperationCanceledException)
            {
                await _drain.CancelAsync();
            }
        }

        await base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Reads until the channel is completed (StopAsync), not until stoppingToken: see StopAsync.
        var taken = new List<StoredEvent>(MaxPlannedTogether);
        while (await _messages.Reader.WaitToReadAsync(CancellationToken.None))
        {
            // What has queued meanwhile is planned together, one conversation at a time: the conversation, its
            // members and their push settings are read once for all of its messages, not once per message
            // (at a few thousand messages a second those reads were most of the node's CPU per SEND).
            while (taken.Count < MaxPlannedTogether && _messages.Reader.TryRead(out var message))
            {
                taken.Add(message);
            }

            foreach (var conversation in GroupByConversation(taken))
            {
                try
                {
                    var planned = await PlanAsync(conversation, _drain.Token);
                    if (planned.Count > 0)
                    {
                        await _queue.EnqueueAsync(planned, _drain.Token);
                        _metrics.Queued(planned.Count);
                    }
                }
                catch (OperationCanceledException) when (_drain.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    foreach (var message in conversation)
                    {
                        GatewayLog.PushPlanFailed(_logger, message.ConversationId, message.EventId, ex);
                    }
                }
            }

            taken.Clear();
        }
    }

    // Each conversation's messages in the order they were committed (which is seq order).
    private static List<List<StoredEvent>> GroupByConversation(List<StoredEvent> messages)
    {
        if (messages.Count == 1)
        {
            return [messages];
        }

        var groups = new Dictionary<Guid, List<StoredEvent>>();
        var order = new List<List<StoredEvent>>();
        foreach (var message in messages)
        {
            if (!groups.TryGetValue(message.ConversationId, out var group))
            {
                group = [];
                groups.Add(message.ConversationId, group);
                order.Add(group);
            }

            group.Add(message);
        }

        return order;
    }

    /// <summary>The notifications <paramref name="message"/> gives rise to.</summary>
    public Task<IReadOnlyList<PendingPush>> PlanAsync(StoredEvent message, CancellationToken cancellationToken) =>
        PlanAsync([message], cancellationToken);

    /// <summary>
    /// The notifications <paramref name="messages"/> (all of one conversation) give rise to, each planned as it would
    /// be alone; the conversation, its members and their settings are read once for all of them.
    /// </summary>
    public async Task<IReadOnlyList<PendingPush>> PlanAsync(IReadOnlyList<StoredEvent> messages, CancellationToken cancellationToken)
    {
        // The conversation and its members come from the membership cache's roster, which a join or a leave on any
        // node drops at once: reading them from the directory for every round was most of the directory's work
        // under a steady stream of SENDs.
        var roster = await _membership.GetRosterAsync(messages[0].ConversationId, cancellationToken);
        if (roster is null)
        {
            return [];
        }

        var (conversation, members) = roster;

        // Never the sender: when every message has the same sender, that member is left out of every read below.
        var soleSender = messages[0].SenderUserId;
        for (var i = 1; i < messages.Count; i++)
        {
            if (messages[i].SenderUserId != soleSender)
            {
                soleSender = Guid.Empty;
                break;
            }
        }

        var candidates = members.Where(m => m != soleSender).ToList();

        // Only members with a registered device: an @channel in a large channel queues nothing for the rest.
        var reachable = candidates.Count == 0 ? new HashSet<Guid>() : await _pushes.FilterUsersWithPushTokensAsync(candidates, cancellationToken);
        candidates.RemoveAll(m => !reachable.Contains(m));
        if (candidates.Count == 0)
        {
            return [];
        }

        var levels = await _pushes.GetPushLevelsAsync(candidates, conversation.Id, cancellationToken);
        var muted = conversation.TeamId is { } team ? await MutedAsync(team, candidates, cancellationToken) : null;
        var now = _time.GetUtcNow();
        var planned = new List<PendingPush>();
        var recipients = new List<Guid>(candidates.Count);
        foreach (var message in messages)
        {
            recipients.Clear();
            foreach (var member in candidates)
            {
                if (member != message.SenderUserId)
                {
                    recipients.Add(member);
                }
            }

            if (recipients.Count == 0)
            {
                continue;
            }

            var reasons = await ReasonsAsync(conversation, message, recipients, cancellationToken);
            var dueAt = message.StoredAt.AddMilliseconds(_options.DelayMs);
            foreach (var member in recipients)
            {
                var (level, dndUntil) = levels[member];
                var reason = reasons.GetValueOrDefault(member);
                var qualifies = level switch
                {
                    PushLevel.All => true,
                    PushLevel.MentionsAndDirect => reason is not null,
                    _ => false,
                };
                if (!qualifies || dndUntil > now)
                {
                    continue;
                }

                if (muted?.Contains(member) == true)
                {
                    continue;
                }

                planned.Add(new PendingPush(member, conversation.Id, message.EventId, message.Seq, message.SenderUserId, reason ?? PushReason.Message, 1, dueAt));
            }
        }

        return planned;
    }

    // Those of the members who muted the team, or are no longer in it: one read each for a few members, the
    // team's member pages for many.
    private async Task<HashSet<Guid>> MutedAsync(Guid teamId, List<Guid> members, CancellationToken cancellationToken)
    {
        var muted = new HashSet<Guid>();
        if (members.Count <= 16)
        {
            foreach (var member in members)
            {
                if ((await _directory.GetTeamMembershipAsync(teamId, member, cancellationToken))?.Muted != false)
                {
                    muted.Add(member);
                }
            }

            return muted;
        }

        var inTeam = new HashSet<Guid>();
        Guid? after = null;
        while (true)
        {
            var page = await _directory.ListTeamMembersByIdAsync(teamId, after, 1000, cancellationToken);
            foreach (var member in page)
            {
                inTeam.Add(member.UserId);
                if (member.Muted)
                {
                    muted.Add(member.UserId);
                }
            }

            if (page.Count < 1000)
            {
                break;
            }

            after = page[^1].UserId;
        }

        muted.UnionWith(members.Where(m => !inTeam.Contains(m)));
        return muted;
    }

    // Why each member is notified whatever their level (short of None); members absent have no such reason.
    private async Task<Dictionary<Guid, PushReason?>> ReasonsAsync(ConversationRecord conversation, StoredEvent message, List<Guid> members, CancellationToken cancellationToken)
    {
        var reasons = new Dictionary<Guid, PushReason?>();
        if (conversation.Kind is ConversationKind.DirectMessage or ConversationKind.GroupMessage)
        {
            foreach (var member in members)
            {
                reasons[member] = PushReason.Direct;
            }

            return reasons;
        }

        if (message.ThreadRootId is { } root)
        {
            foreach (var participant in await ThreadParticipantsAsync(conversation.Id, root, message.SenderUserId, cancellationToken))
            {
                reasons[participant] = PushReason.ThreadReply;
            }
        }

        if ((message.GroupMentions & GroupMentions.Channel) != 0)
        {
            foreach (var member in members)
            {
                reasons[member] = PushReason.GroupMention;
            }
        }
        else if ((message.GroupMentions & GroupMentions.Here) != 0)
        {
            foreach (var (user, presence) in await _presence.ReadAsync(members, cancellationToken))
            {
                if (presence.Status != UserStatus.Offline)
                {
                    reasons[user] = PushReason.GroupMention;
                }
            }
        }

        foreach (var mentioned in message.Mentions)
        {
            reasons[mentioned] = PushReason.Mention;
        }

        return reasons;
    }

    private async Task<IEnumerable<Guid>> ThreadParticipantsAsync(Guid conversationId, Guid rootId, Guid reader, CancellationToken cancellationToken)
    {
        var participants = new HashSet<Guid>();
        var rootEvents = await _store.ReadAsync(conversationId, 0, ReadDirection.After, 1, threadRootId: rootId, cancellationToken: cancellationToken);
        if (rootEvents.Count > 0 && rootEvents[0].EventId == rootId)
        {
            participants.Add(rootEvents[0].SenderUserId);
        }

        if ((await _store.GetMessageDetailsAsync(conversationId, [rootId], reader, cancellationToken)).TryGetValue(rootId, out var details))
        {
            participants.UnionWith(details.ThreadParticipants);
        }

        return participants;
    }
}

/// <summary>Where planned notifications wait for their due time.</summary>
internal interface IPushQueue
{
    Task EnqueueAsync(IReadOnlyList<PendingPush> pushes, CancellationToken cancellationToken);
}
