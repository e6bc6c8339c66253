using System.Globalization;
using ChatWire.Storage.Push;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace ChatWire.Gateway.Push;

/// <summary>
/// The distributed queue (<c>Push:Queue = redis</c>): a Redis stream read through one consumer group by
/// every node, so any node may send any notification. Each entry names a (user, conversation, seq) and its
/// due time; the notification itself is a hash per (user, conversation) that folds a burst (the newest
/// message and a count), so only the entry of the newest message sends, and older ones are acknowledged
/// as covered. A node reads entries as they come and holds them (in the group's pending list, touched
/// while it waits) until due; entries a node took and did not touch or acknowledge within
/// <c>Push:Redis:ClaimIdleMs</c> (it crashed, or was cut off) are claimed by another with XAUTOCLAIM. A claimed entry may have been sent already: the sent
/// record in the directory (per device and message) keeps that from reaching the device twice. A node sends one
/// notification per user at a time (<see cref="UserTurns"/>); the others of that user wait, still held.
/// </summary>
internal sealed class RedisPushQueue : BackgroundService, IPushQueue
{
    private const string Group = "senders";
    private const int BatchSize = 200;

    // Entries one node holds at once (waiting for their due time or being sent).
    private const int MaxInFlight = 2000;

    // KEYS[1] fold hash, KEYS[2] stream. ARGV: user, conversation, message, seq, sender, reason, due ms, max fold ms, ttl ms.
    // An older message than the one folded changes nothing; the entry's due time is the fold's (bounded by first_due + max fold).
    private const string EnqueueScript = """
        local current = redis.call('HGET', KEYS[1], 'seq')
        if current and tonumber(current) >= tonumber(ARGV[4]) then return 0 end
        if not current then redis.call('HSET', KEYS[1], 'first_due', ARGV[7], 'count', 0) end
        redis.call('HSET', KEYS[1], 'msg', ARGV[3], 'seq', ARGV[4], 'sender', ARGV[5], 'reason', ARGV[6])
        local count = redis.call('HINCRBY', KEYS[1], 'count', 1)
        redis.call('PEXPIRE', KEYS[1], ARGV[9])
        local due = math.min(tonumber(ARGV[7]), tonumber(redis.call('HGET', KEYS[1], 'first_due')) + tonumber(ARGV[8]))
        redis.call('HSET', KEYS[1], 'due', string.format('%d', due))
        redis.call('XADD', KEYS[2], '*', 'user', ARGV[1], 'conv', ARGV[2], 'seq', ARGV[4], 'due', string.format('%d', due))
        return count
        """;

    // KEYS[1] fold hash. ARGV[1] the seq that was sent, ARGV[2] the count it announced: removes the fold if
    // nothing newer came in meanwhile; otherwise the newer entry stays, counting only what came after.
    private const string CompleteScript = """
        local current = redis.call('HGET', KEYS[1], 'seq')
        if current == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        if current then
            local left = tonumber(redis.call('HGET', KEYS[1], 'count')) - tonumber(ARGV[2])
            redis.call('HSET', KEYS[1], 'count', math.max(left, 1))
        end
        return 0
        """;

    private readonly IDatabase _redis;
    private readonly PushDispatcher _dispatcher;
    private readonly PushOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<RedisPushQueue> _logger;
    private readonly RedisKey _stream;
    private readonly string _consumer = "node-" + Guid.CreateVersion7().ToString("N");
    private readonly System.Collections.Concurrent.ConcurrentDictionary<RedisValue, Task> _inFlight = new();
    private readonly UserTurns _turns = new();

    public RedisPushQueue(IConnectionMultiplexer redis, PushDispatcher dispatcher, IOptions<PushOptions> options, TimeProvider time, ILogger<RedisPushQueue> logger)
    {
        _redis = redis.GetDatabase();
        _dispatcher = dispatcher;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _stream = _options.Redis.Stream;
    }

    /// <summary>This node's name in the consumer group.</summary>
    public string Consumer => _consumer;

    public async Task EnqueueAsync(IReadOnlyList<PendingPush> pushes, CancellationToken cancellationToken)
    {
        // The fold outlives its due time by far: long enough for a claim after a crash.
        var ttl = (long)_options.DelayMs + _options.MaxFoldMs + (10L * _options.Redis.ClaimIdleMs) + 60_000;
        foreach (var push in pushes)
        {
            await _redis.ScriptEvaluateAsync(
                EnqueueScript,
                [FoldKey(push.UserId, push.ConversationId), _stream],
                [
                    push.UserId.ToString("N"), push.ConversationId.ToString("N"), push.MessageId.ToString("N"), (long)push.Seq,
                    push.SenderId.ToString("N"), (int)push.Reason, push.DueAt.ToUnixTimeMilliseconds(), _options.MaxFoldMs, ttl,
                ]);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var poll = TimeSpan.FromMilliseconds(_options.PollIntervalMs);
        var claimEvery = TimeSpan.FromMilliseconds(Math.Max(_options.Redis.ClaimIdleMs / 3, _options.PollIntervalMs));
        var nextClaim = _time.GetUtcNow();
        var groupReady = false;
        var failing = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!groupReady)
                {
                    await CreateGroupAsync();
                    groupReady = true;
                }

                if (_time.GetUtcNow() >= nextClaim)
                {
                    await ClaimAsync(stoppingToken);
                    nextClaim = _time.GetUtcNow() + claimEvery;
                }

                failing = false;
                var room = MaxInFlight - _inFlight.Count;
                if (room > 0)
                {
                    var entries = await _redis.StreamReadGroupAsync(_stream, Group, _consumer, StreamPosition.NewMessages, Math.Min(room, BatchSize));
                    Start(entries, stoppingToken);
                    if (entries.Length == Math.Min(room, BatchSize))
                    {
                        continue;
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Once per outage, not once per poll.
                if (!failing)
                {
                    GatewayLog.PushQueueFailed(_logger, ex);
                }

                failing = true;
                groupReady = groupReady && ex is not RedisServerException;
            }

            try
            {
                await Task.Delay(poll, _time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        // What is still waiting stays in the group's pending list: another node claims it.
        await Task.WhenAll(_inFlight.Values);
    }

    // Entries this node holds are touched (XCLAIM to itself, which resets their idle time) so that no other
    // node claims them while they wait for their due time; then entries idle too long, whoever held them, are
    // claimed (XAUTOCLAIM) and handled here. Entries already in hand are not started twice.
    private async Task ClaimAsync(CancellationToken stoppingToken)
    {
        var held = _inFlight.Keys.ToArray();
        if (held.Length > 0)
        {
            await _redis.StreamClaimIdsOnlyAsync(_stream, Group, _consumer, 0, held);
        }

        var claimed = await _redis.StreamAutoClaimAsync(_stream, Group, _consumer, _options.Redis.ClaimIdleMs, "0-0", BatchSize);
        var taken = claimed.ClaimedEntries.Where(e => !e.IsNull && !_inFlight.ContainsKey(e.Id)).ToArray();
        if (taken.Length > 0)
        {
            GatewayLog.PushClaimed(_logger, taken.Length);
            Start(taken, stoppingToken);
        }
    }

    private void Start(StreamEntry[] entries, CancellationToken stoppingToken)
    {
        foreach (var entry in entries)
        {
            var started = new TaskCompletionSource();
            if (_inFlight.TryAdd(entry.Id, started.Task))
            {
                _ = RunAsync(entry, started, stoppingToken);
            }
        }
    }

    private async Task RunAsync(StreamEntry entry, TaskCompletionSource done, CancellationToken stoppingToken)
    {
        try
        {
            await HandleAsync(entry, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Left pending: claimed again (here or elsewhere) once idle.
            GatewayLog.PushQueueFailed(_logger, ex);
        }
        finally
        {
            _inFlight.TryRemove(entry.Id, out _);
            done.TrySetResult();
        }
    }

    private async Task HandleAsync(StreamEntry entry, CancellationToken cancellationToken)
    {
        var user = Guid.ParseExact((string)entry["user"]!, "N");
        var conversation = Guid.ParseExact((string)entry["conv"]!, "N");
        var seq = (string)entry["seq"]!;
        var due = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse((string)entry["due"]!, CultureInfo.InvariantCulture));
        var wait = due - _time.GetUtcNow();
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, _time, cancellationToken);
        }

        // One notification of the user's at a time on this node. Only the fold's newest entry waits for the turn (an
        // older one is acknowledged at once), and the fold is read again once it is this entry's turn.
        var key = FoldKey(user, conversation);
        if ((string?)await _redis.HashGetAsync(key, "seq") == seq)
        {
            using (await _turns.EnterAsync(user, cancellationToken))
            {
                await SendIfNewestAsync(key, user, conversation, seq, due, cancellationToken);
            }
        }

        await _redis.StreamAcknowledgeAsync(_stream, Group, entry.Id);
        await _redis.StreamDeleteAsync(_stream, [entry.Id]);
    }

    private async Task SendIfNewestAsync(RedisKey key, Guid user, Guid conversation, string seq, DateTimeOffset due, CancellationToken cancellationToken)
    {
        var fold = (await _redis.HashGetAllAsync(key)).ToDictionary(e => (string)e.Name!, e => (string)e.Value!);

        // Missing: sent (or covered) already. Newer: a later entry of the same fold sends it.
        if (fold.TryGetValue("seq", out var current) && current == seq)
        {
            var pending = new PendingPush(
                user,
                conversation,
                Guid.ParseExact(fold["msg"], "N"),
                ulong.Parse(seq, CultureInfo.InvariantCulture),
                Guid.ParseExact(fold["sender"], "N"),
                (PushReason)int.Parse(fold["reason"], CultureInfo.InvariantCulture),
                int.Parse(fold["count"], CultureInfo.InvariantCulture),
                due);
            await _dispatcher.DispatchAsync(pending, cancellationToken);
            await _redis.ScriptEvaluateAsync(CompleteScript, [key], [seq, pending.Count]);
        }
    }

    private async Task CreateGroupAsync()
    {
        try
        {
            // From the stream's start: entries added before any node created the group are read too.
            await _redis.StreamCreateConsumerGroupAsync(_stream, Group, "0-0", createStream: true);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
        {
        }
    }

    private RedisKey FoldKey(Guid user, Guid conversation) => $"{_options.Redis.Stream}:fold:{user:N}:{conversation:N}";
}
