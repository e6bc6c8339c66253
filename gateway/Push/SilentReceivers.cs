using System.Collections.Concurrent;

namespace ChatWire.Gateway.Push;

/// <summary>
/// Webhook registrations whose receiver did not answer: it had a request when the notification's deadline
/// (<c>Push:DispatchTimeoutMs</c>) cut the send short, or every attempt ran out, the last with no answer at all.
/// Each is passed over for a while: <see cref="FirstPause"/> after the first time, twice as long
/// after each next one, up to <see cref="LongestPause"/>; a receiver that answers is forgotten. So a URL that accepts
/// connections and stays silent holds a webhook slot once per pause, not for every notification. Per node, in memory:
/// a restart forgets it.
/// </summary>
internal sealed class SilentReceivers(TimeProvider time)
{
    public static readonly TimeSpan FirstPause = TimeSpan.FromMinutes(5);

    public static readonly TimeSpan LongestPause = TimeSpan.FromHours(6);

    // Bounds the memory: each entry costs tens of bytes, and one takes a webhook slot for a whole deadline to make.
    private const int MaxTracked = 100_000;

    private readonly ConcurrentDictionary<Guid, (DateTimeOffset Until, int Strikes)> _silent = new();

    /// <summary>Whether the device's receiver is in its pause now.</summary>
    public bool IsPaused(Guid deviceId) => _silent.TryGetValue(deviceId, out var entry) && entry.Until > time.GetUtcNow();

    /// <summary>The device's receiver did not answer: its pause starts, longer than the last one.</summary>
    public void Silent(Guid deviceId)
    {
        var now = time.GetUtcNow();
        if (_silent.Count >= MaxTracked)
        {
            Forget(now);
        }

        _silent.AddOrUpdate(deviceId, _ => (now + FirstPause, 1), (_, entry) => (now + Pause(entry.Strikes + 1), entry.Strikes + 1));
    }

    /// <summary>The device's receiver answered (or failed quickly): it starts again from no pause.</summary>
    public void Answered(Guid deviceId)
    {
        if (!_silent.IsEmpty)
        {
            _silent.TryRemove(deviceId, out _);
        }
    }

    private static TimeSpan Pause(int strikes) =>
        strikes >= 8 ? LongestPause : TimeSpan.FromTicks(Math.Min(FirstPause.Ticks << (strikes - 1), LongestPause.Ticks));

    // Receivers whose pause ended longer ago than the longest pause are forgotten (their next pause is the first again).
    private void Forget(DateTimeOffset now)
    {
        foreach (var (deviceId, entry) in _silent)
        {
            if (entry.Until + LongestPause <= now)
            {
                _silent.TryRemove(deviceId, out _);
            }
        }
    }
}
