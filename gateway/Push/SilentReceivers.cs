using System.Collections.Concurrent;

namespace ChatWire.Gateway.Push;

/// <summary>
/// Webhook registrations whose receiver did not take a notification in time: the notification's deadline
/// (<c>Push:DispatchTimeoutMs</c>) cut the send short after a request went to it (it was silent, slow, or kept asking
/// to retry), or every attempt ran out, the last with no answer at all. Each such registration (device and URL) is
/// passed over for a while: <see cref="FirstPause"/> after the first time, twice as long after each next one, up to
/// <see cref="LongestPause"/>. A final answer from the receiver (accepted, gone, refused), a registration made again
/// on this node (the same URL or another), or a pause over for longer than <see cref="LongestPause"/> starts again from
/// no pause. So a URL that accepts connections and stays silent holds a webhook slot once per pause, not for every
/// notification. Per node, in memory: a restart forgets it.
/// </summary>
internal sealed class SilentReceivers(TimeProvider time)
{
    public static readonly TimeSpan FirstPause = TimeSpan.FromMinutes(5);

    public static readonly TimeSpan LongestPause = TimeSpan.FromHours(6);

    /// <summary>Registrations tracked at most (tens of bytes each); past it, a new silent one is not paused.</summary>
    public const int MaxTracked = 100_000;

    private static readonly TimeSpan SweepEvery = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<Guid, Entry> _silent = new();
    private readonly Lock _sweep = new();
    private DateTimeOffset _nextSweep = DateTimeOffset.MinValue;

    public int Count => _silent.Count;

    /// <summary>Whether the device's registration for <paramref name="url"/> is in its pause now.</summary>
    public bool IsPaused(Guid deviceId, string url) =>
        _silent.TryGetValue(deviceId, out var entry) && entry.Url == url && entry.Until > time.GetUtcNow();

    /// <summary>The receiver at <paramref name="url"/> did not answer: the registration's pause starts, longer than its last one.</summary>
    public void Silent(Guid deviceId, string url)
    {
        var now = time.GetUtcNow();
        Sweep(now);
        if (_silent.Count >= MaxTracked && !_silent.ContainsKey(deviceId))
        {
            return;
        }

        _silent.AddOrUpdate(
            deviceId,
            _ => new Entry(url, now + FirstPause, 1),
            (_, entry) => entry.Url == url && entry.Until + LongestPause > now
                ? new Entry(url, now + Doubling.After(FirstPause, entry.Strikes + 1, LongestPause), entry.Strikes + 1)
                : new Entry(url, now + FirstPause, 1));
    }

    /// <summary>The device's receiver gave a final answer, or the device registered again: no pause from now on.</summary>
    public void Clear(Guid deviceId)
    {
        _silent.TryRemove(deviceId, out _);
    }

    // Once a minute: registrations whose pause has been over for longer than the longest pause are forgotten.
    private void Sweep(DateTimeOffset now)
    {
        lock (_sweep)
        {
            if (now < _nextSweep)
            {
                return;
            }

            _nextSweep = now + SweepEvery;
        }

        foreach (var (deviceId, entry) in _silent)
        {
            if (entry.Until + LongestPause <= now)
            {
                _silent.TryRemove(new KeyValuePair<Guid, Entry>(deviceId, entry));
            }
        }
    }

    private sealed record Entry(string Url, DateTimeOffset Until, int Strikes);
}
