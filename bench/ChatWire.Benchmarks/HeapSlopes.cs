using System.Globalization;

namespace ChatWire.Benchmarks;

/// <summary>The retained-memory modes' shared steps: a settled heap reading, and the slope between readings.</summary>
internal static class HeapSlopes
{
    /// <summary>
    /// The managed heap once pending work has had <paramref name="settle"/> to finish: the smallest of four full
    /// collections 200 ms apart.
    /// </summary>
    public static async Task<long> SettledHeapAsync(TimeSpan settle)
    {
        await Task.Delay(settle);
        var bytes = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < 3; i++)
        {
            await Task.Delay(200);
            bytes = Math.Min(bytes, GC.GetTotalMemory(forceFullCollection: true));
        }

        return bytes;
    }

    /// <summary>
    /// Prints the slope between each reading and the one before it (the first reading is the baseline and gets
    /// none), per <paramref name="unit"/>, with what <paramref name="extra"/> adds for a slope in bytes.
    /// </summary>
    public static void Print(IReadOnlyList<(int Count, long Bytes)> readings, string unit, Func<double, string>? extra = null)
    {
        for (var i = 2; i < readings.Count; i++)
        {
            var (n1, b1) = readings[i - 1];
            var (n2, b2) = readings[i];
            var slope = (double)(b2 - b1) / (n2 - n1);
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"slope {n1}..{n2}: {slope:N0} B ({slope / 1024:N2} KiB) managed per {unit}{extra?.Invoke(slope)}"));
        }
    }
}
