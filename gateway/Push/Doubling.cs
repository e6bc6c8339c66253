namespace ChatWire.Gateway.Push;

/// <summary>A wait that doubles each time in a row, up to a cap: <c>first × 2^(times − 1)</c>.</summary>
internal static class Doubling
{
    /// <param name="first">The wait the first time.</param>
    /// <param name="times">How many times in a row, the first counting 1.</param>
    /// <param name="cap">The longest wait.</param>
    public static TimeSpan After(TimeSpan first, int times, TimeSpan cap) =>
        TimeSpan.FromTicks((long)Math.Min(first.Ticks * Math.Pow(2, Math.Max(times, 1) - 1), cap.Ticks));
}
