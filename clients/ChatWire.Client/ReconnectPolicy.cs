namespace ChatWire.Client;

/// <summary>
/// How <see cref="ChatWireConnection"/> reconnects after a drop: exponential backoff with full jitter
/// (each delay uniform in [0, min(<see cref="MaxDelay"/>, <see cref="BaseDelay"/> × 2^attempt)]), so a
/// server restart is not met by every client at the same instant.
/// </summary>
public sealed record ReconnectPolicy
{
    /// <summary>The default policy: enabled, 250 ms base, 30 s cap, unlimited attempts.</summary>
    public static ReconnectPolicy Default { get; } = new();

    /// <summary>A policy that never reconnects: a drop closes the connection.</summary>
    public static ReconnectPolicy Disabled { get; } = new() { Enabled = false };

    /// <summary>Whether to reconnect at all.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The ceiling of the first delay.</summary>
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The largest ceiling any delay reaches.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Consecutive failed attempts after which the connection closes; <see langword="null"/> = never give up.</summary>
    public int? MaxAttempts { get; init; }

    /// <summary>The ceiling of the delay before attempt <paramref name="attempt"/> (0-based), before jitter.</summary>
    /// <param name="attempt">How many attempts failed before this one.</param>
    public TimeSpan GetCeiling(int attempt)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(attempt);
        var max = MaxDelay < TimeSpan.Zero ? TimeSpan.Zero : MaxDelay;
        var baseDelay = BaseDelay < TimeSpan.Zero ? TimeSpan.Zero : BaseDelay;

        // 2^attempt overflows quickly; past 62 doublings anything non-zero is beyond any sane cap.
        var factor = attempt >= 62 ? double.PositiveInfinity : Math.Pow(2, attempt);
        var ticks = baseDelay.Ticks * factor;
        return ticks >= max.Ticks ? max : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>The delay before attempt <paramref name="attempt"/> (0-based): uniform in [0, <see cref="GetCeiling"/>].</summary>
    /// <param name="attempt">How many attempts failed before this one.</param>
    /// <param name="random">The jitter source; pass a seeded one for reproducible delays.</param>
    public TimeSpan GetDelay(int attempt, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var ceiling = GetCeiling(attempt);
        return TimeSpan.FromTicks((long)(random.NextDouble() * ceiling.Ticks));
    }
}
