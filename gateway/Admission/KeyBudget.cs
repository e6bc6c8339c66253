using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace ChatWire.Gateway.Admission;

/// <summary>
/// What one charge found: whether it was allowed, and the key's budget after it. A refusal says when one more would be
/// allowed, in whole seconds rounded up (HTTP's Retry-After) and in milliseconds rounded up (the protocol's
/// retry_after_ms), each at least 1.
/// </summary>
internal readonly record struct BudgetCharge(bool Allowed, int Remaining, int SecondsUntilWhole, int RetryAfterSeconds, uint RetryAfterMilliseconds = 0);

/// <summary>
/// A token bucket per key, kept as one number: the generic cell rate algorithm's theoretical arrival time, the
/// moment at which the key's bucket would be full again if nothing more came. A request at <c>now</c> moves it
/// to <c>max(it, now) + interval</c>, and is refused when that would put it more than the window ahead of now.
/// A key whose bucket is full is the same as one never seen, so a sweep drops those once a minute: memory follows
/// the keys active in the last minute or two. Lock-free: a charge is one compare-and-swap.
/// </summary>
internal sealed class KeyBudget : IDisposable
{
    private static readonly TimeSpan SweepPeriod = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, StrongBox<long>> _full = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly long _interval;
    private readonly long _window;
    private readonly ITimer _sweep;

    public KeyBudget(string name, int perMinute, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perMinute, 1);
        Name = name;
        PerMinute = perMinute;
        _time = time;
        _window = time.TimestampFrequency * 60;
        _interval = _window / perMinute;
        _sweep = time.CreateTimer(static s => ((KeyBudget)s!).Sweep(), this, SweepPeriod, SweepPeriod);
    }

    /// <summary>The policy's name in the RateLimit headers.</summary>
    public string Name { get; }

    public int PerMinute { get; }

    /// <summary>The number of keys whose budget is not whole (for tests and the sweep).</summary>
    public int Count => _full.Count;

    /// <summary>What a charge of <paramref name="key"/> would find now, without making it.</summary>
    public BudgetCharge Peek(string key)
    {
        var now = _time.GetTimestamp();
        var seen = _full.TryGetValue(key, out var box) ? Volatile.Read(ref box.Value) : long.MinValue;
        var next = Math.Max(seen, now) + _interval;
        return next - now > _window
            ? Refusal(seen, next, now)
            : new BudgetCharge(true, (int)Math.Min(PerMinute, (now + _window - Math.Max(seen, now)) / _interval), Seconds(seen - now), 0);
    }

    public BudgetCharge Take(string key)
    {
        var now = _time.GetTimestamp();
        var box = _full.GetOrAdd(key, static _ => new StrongBox<long>(long.MinValue));
        while (true)
        {
            var seen = Volatile.Read(ref box.Value);
            var next = Math.Max(seen, now) + _interval;
            if (next - now > _window)
            {
                return Refusal(seen, next, now);
            }

            if (Interlocked.CompareExchange(ref box.Value, next, seen) == seen)
            {
                return new BudgetCharge(true, (int)Math.Min(PerMinute, (now + _window - next) / _interval), Seconds(next - now), 0);
            }
        }
    }

    public void Dispose() => _sweep.Dispose();

    /// <summary>Drops the keys whose bucket has filled again. A charge racing the removal may be forgotten: at most one request more.</summary>
    internal void Sweep()
    {
        var now = _time.GetTimestamp();
        foreach (var (key, box) in _full)
        {
            if (Volatile.Read(ref box.Value) <= now)
            {
                _full.TryRemove(new KeyValuePair<string, StrongBox<long>>(key, box));
            }
        }
    }

    private BudgetCharge Refusal(long seen, long next, long now)
    {
        var wait = next - _window - now;
        var milliseconds = Math.Max(1, Math.Min(uint.MaxValue, ((wait * 1000) + _time.TimestampFrequency - 1) / _time.TimestampFrequency));
        return new BudgetCharge(false, 0, Seconds(seen - now), Math.Max(1, Seconds(wait)), (uint)milliseconds);
    }

    // Whole seconds, rounded up: a client that waits this long finds what was promised.
    private int Seconds(long ticks) =>
        ticks <= 0 ? 0 : (int)Math.Min(int.MaxValue, (ticks + _time.TimestampFrequency - 1) / _time.TimestampFrequency);
}
