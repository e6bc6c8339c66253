namespace ChatWire.Bench;

/// <summary>Bytes per connection between memory readings taken at rising connection counts.</summary>
internal static class Slopes
{
    /// <summary>From the first reading to the last.</summary>
    public static double Overall(IReadOnlyList<(int Count, long Bytes)> readings) =>
        (readings[^1].Bytes - readings[0].Bytes) / (double)(readings[^1].Count - readings[0].Count);

    /// <summary>From each reading to the next: one fewer than the readings.</summary>
    public static double[] Steps(IReadOnlyList<(int Count, long Bytes)> readings) =>
        [.. readings.Zip(readings.Skip(1), (a, b) => (b.Bytes - a.Bytes) / (double)(b.Count - a.Count))];
}
