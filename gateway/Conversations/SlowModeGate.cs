using System.Collections.Concurrent;
using System.Diagnostics;
using StackExchange.Redis;

namespace ChatWire.Gateway.Conversations;

/// <summary>A member's turn to send in a slow-mode channel, once taken: given back when its message is not stored.</summary>
/// <param name="ConversationId">The channel.</param>
/// <param name="UserId">The member.</param>
/// <param name="Token">Tells this turn from a later one of the same member, so a late give-back cannot free the next.</param>
/// <param name="Local">Taken from this node's own table (the embedded mode, or Redis unreachable) rather than from Redis.</param>
internal readonly record struct SlowModeTurn(Guid ConversationId, Guid UserId, long Token, bool Local);

/// <summary>The answer to asking for a turn: the turn taken, or the milliseconds until the member's next one.</summary>
internal readonly record struct SlowModeAnswer(SlowModeTurn Turn, uint WaitMs)
{
    public bool Taken => WaitMs == 0;

    public static SlowModeAnswer Wait(long milliseconds) => new(default, (uint)Math.Clamp(milliseconds, 1, uint.MaxValue));
}

/// <summary>
/// Slow mode: in a channel whose <c>slow_mode_seconds</c> is above 0, each member's SEND takes a turn that lasts that
/// long, and a SEND while the member's turn lasts is refused with the time left. One turn per member and channel,
/// over all their devices. The conversation service asks only for channels in slow mode, only once every other check
/// has passed, and gives the turn back when the message is then not stored (the conversation's own bucket refused
/// it, the store refused it or failed, or it was a resend of a stored message).
/// </summary>
/// <remarks>
/// A turn remembers when it was taken and the period it was taken under. It lasts the shorter of that period and
/// the one asked with now, so a channel whose slow mode is shortened (or turned off, which asks nothing) frees its
/// members at once, while a longer one holds each member from their next message on. Until its message is stored
/// (<see cref="ConfirmAsync"/>) a turn is pending: a SEND meeting it is told to retry within <see cref="PendingWaitMs"/>,
/// not after the whole period, since the message holding the turn may yet be refused and give it back.
/// </remarks>
internal interface ISlowModeGate
{
    /// <summary>The longest wait answered while the turn's own message is still being stored.</summary>
    const int PendingWaitMs = 1_000;

    ValueTask<SlowModeAnswer> TryTakeAsync(Guid conversationId, Guid userId, int seconds);

    /// <summary>
    /// The turn's message was stored: the turn holds for its whole period. Done before the SEND_ACK, so that a member's
    /// next SEND, on any node, meets the whole period once the first was acknowledged.
    /// </summary>
    ValueTask ConfirmAsync(SlowModeTurn turn);

    void GiveBack(SlowModeTurn turn);
}

/// <summary>
/// Turns held in this process: the embedded mode's gate, and the distributed mode's while Redis is unreachable.
/// A turn is forgotten by a sweep each minute once it has ended, so memory follows the members who sent within
/// their channels' slow mode, at about 100 bytes each.
/// </summary>
internal sealed class InProcessSlowModeGate : ISlowModeGate, IDisposable
{
    private readonly ConcurrentDictionary<(Guid Conversation, Guid User), Held> _turns = new();
    private readonly Timer _sweep;
    private long _tokens;

    public InProcessSlowModeGate() =>
        _sweep = new Timer(_ => Sweep(Stopwatch.GetTimestamp()), null, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));

    /// <summary>Turns held now, ended or not (a sweep forgets the ended ones), for tests.</summary>
    public int Tracked => _turns.Count;

    public ValueTask<SlowModeAnswer> TryTakeAsync(Guid conversationId, Guid userId, int seconds) =>
        ValueTask.FromResult(TryTake(conversationId, userId, seconds, Stopwatch.GetTimestamp()));

    internal SlowModeAnswer TryTake(Guid conversationId, Guid userId, int seconds, long now)
    {
        var key = (conversationId, userId);
        var period = seconds * Stopwatch.Frequency;
        var mine = new Held(Interlocked.Increment(ref _tokens), now, now + period, Pending: true);
        while (true)
        {
            if (!_turns.TryGetValue(key, out var held))
            {
                if (_turns.TryAdd(key, mine))
                {
                    return new SlowModeAnswer(new SlowModeTurn(conversationId, userId, mine.Token, Local: true), 0);
                }
            }
            else if (Math.Min(held.Until, held.Taken + period) is var ends && ends > now)
            {
                // Rounded up: a retry after exactly this long finds the turn ended.
                var waitMs = ((ends - now) * 1_000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency;
                return SlowModeAnswer.Wait(held.Pending ? Math.Min(waitMs, ISlowModeGate.PendingWaitMs) : waitMs);
            }
            else if (_turns.TryUpdate(key, mine, held))
            {
                return new SlowModeAnswer(new SlowModeTurn(conversationId, userId, mine.Token, Local: true), 0);
            }
        }
    }

    public ValueTask ConfirmAsync(SlowModeTurn turn)
    {
        Confirm(turn);
        return ValueTask.CompletedTask;
    }

    internal void Confirm(SlowModeTurn turn)
    {
        var key = (turn.ConversationId, turn.UserId);
        if (_turns.TryGetValue(key, out var held) && held.Token == turn.Token && held.Pending)
        {
            _turns.TryUpdate(key, held with { Pending = false }, held);
        }
    }

    public void GiveBack(SlowModeTurn turn)
    {
        var key = (turn.ConversationId, turn.UserId);
        if (_turns.TryGetValue(key, out var held) && held.Token == turn.Token)
        {
            _turns.TryRemove(KeyValuePair.Create(key, held));
        }
    }

    internal void Sweep(long now)
    {
        foreach (var entry in _turns)
        {
            if (entry.Value.Until <= now)
            {
                _turns.TryRemove(entry);
            }
        }
    }

    public void Dispose() => _sweep.Dispose();

    // Taken and Until are Stopwatch timestamps: when the turn was taken, and when it ends under the period it was taken
    // with. Pending until its message is stored.
    private readonly record struct Held(long Token, long Taken, long Until, bool Pending);
}

/// <summary>
/// The distributed mode's gate: each turn is a Redis key (<c>chatwire:slow:{conversation}:{user}</c>) holding the
/// turn's token and when Redis took it (<c>{token}:{unix ms}</c>, with <c>:p</c> appended while its message is being
/// stored), expiring with the period it was taken under. One script takes the turn or answers the time left, so one
/// round trip decides, whichever node the member's devices are on. A turn is confirmed by dropping the <c>:p</c>, and
/// given back by deleting the key, each only if the key still holds the turn's token. While Redis is unreachable or
/// slow each node keeps turns of its own (<see cref="InProcessSlowModeGate"/>), so slow mode still holds a member to
/// one message per node per period.
/// </summary>
internal sealed class RedisSlowModeGate(IConnectionMultiplexer redis, InProcessSlowModeGate fallback) : ISlowModeGate
{
    // -1 when the turn was taken, else the milliseconds left: the shorter of the period asked now and what the key has
    // left (the period it was taken under), and at most ARGV[3] while the turn is pending. Redis's own clock, so the
    // nodes' clocks do not matter.
    private const string TakeScript = """
        local clock = redis.call('TIME')
        local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
        local held = redis.call('GET', KEYS[1])
        if held then
          local taken = tonumber(string.match(held, '^[^:]+:(%d+)'))
          local left = redis.call('PTTL', KEYS[1])
          if taken and taken + tonumber(ARGV[2]) - now < left then left = taken + tonumber(ARGV[2]) - now end
          if left > 0 then
            if string.sub(held, -2) == ':p' and left > tonumber(ARGV[3]) then left = tonumber(ARGV[3]) end
            return left
          end
        end
        redis.call('SET', KEYS[1], ARGV[1] .. ':' .. now .. ':p', 'PX', ARGV[2])
        return -1
        """;

    private const string ConfirmScript = """
        local held = redis.call('GET', KEYS[1])
        if held and string.sub(held, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. ':' and string.sub(held, -2) == ':p' then
          return redis.call('SET', KEYS[1], string.sub(held, 1, -3), 'KEEPTTL')
        end
        return 0
        """;

    private const string GiveBackScript = """
        local held = redis.call('GET', KEYS[1])
        if held and string.sub(held, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. ':' then return redis.call('DEL', KEYS[1]) end
        return 0
        """;

    private readonly IDatabase _database = redis.GetDatabase();

    public async ValueTask<SlowModeAnswer> TryTakeAsync(Guid conversationId, Guid userId, int seconds)
    {
        var turn = new SlowModeTurn(conversationId, userId, Random.Shared.NextInt64(1, long.MaxValue), Local: false);
        try
        {
            var left = (long)await _database.ScriptEvaluateAsync(TakeScript, [Key(conversationId, userId)], [turn.Token, seconds * 1_000L, ISlowModeGate.PendingWaitMs]);
            return left < 0 ? new SlowModeAnswer(turn, 0) : SlowModeAnswer.Wait(left);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // A timeout may come after the script ran: its turn, if taken, is given back, since this node decides alone now.
            if (ex is TimeoutException)
            {
                GiveBack(turn);
            }

            return await fallback.TryTakeAsync(conversationId, userId, seconds);
        }
    }

    public async ValueTask ConfirmAsync(SlowModeTurn turn)
    {
        if (turn.Local)
        {
            fallback.Confirm(turn);
            return;
        }

        try
        {
            await _database.ScriptEvaluateAsync(ConfirmScript, [Key(turn.ConversationId, turn.UserId)], [turn.Token]);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            // Unreachable, or the node is stopping: the turn stays pending, so SENDs meeting it are told to retry within a
            // second, and each retry is told so again until the turn ends: the member still sends no sooner.
        }
    }

    public void GiveBack(SlowModeTurn turn)
    {
        if (turn.Local)
        {
            fallback.GiveBack(turn);
            return;
        }

        try
        {
            _database.ScriptEvaluate(GiveBackScript, [Key(turn.ConversationId, turn.UserId)], [turn.Token], CommandFlags.FireAndForget);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            // Unreachable, or the node is stopping: the turn ends by its expiry, as if the message had been stored.
        }
    }

    private static RedisKey Key(Guid conversationId, Guid userId) => $"chatwire:slow:{conversationId:N}:{userId:N}";
}
