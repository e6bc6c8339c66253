using System.Collections.Concurrent;

namespace ChatWire.Gateway.Conversations;

/// <summary>
/// Lets one typing notice per (device, conversation) through per <see cref="ConversationService.TypingInterval"/>.
/// Bounded: past <see cref="MaxTracked"/> pairs it forgets them all (a forgotten pair passes once more).
/// </summary>
internal sealed class TypingThrottle
{
    /// <summary>Pairs remembered at most.</summary>
    public const int MaxTracked = 100_000;

    private static readonly long IntervalMs = (long)ConversationService.TypingInterval.TotalMilliseconds;

    private readonly ConcurrentDictionary<(Guid Device, Guid Conversation), long> _last = new();

    // Pairs added since the last reset, counted here: the dictionary's own Count takes every bucket lock.
    private int _added;

    /// <summary>True when a notice from this device in this conversation may go out at <paramref name="nowMs"/> (a tick count).</summary>
    public bool TryPass(Guid deviceId, Guid conversationId, long nowMs)
    {
        var key = (deviceId, conversationId);
        if (_last.TryGetValue(key, out var last) && nowMs - last < IntervalMs)
        {
            return false;
        }

        if (_last.TryAdd(key, nowMs))
        {
            if (Interlocked.Increment(ref _added) > MaxTracked)
            {
                Volatile.Write(ref _added, 0);
                _last.Clear();
            }
        }
        else
        {
            _last[key] = nowMs;
        }
        return true;
    }
}
