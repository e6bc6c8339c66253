namespace ChatWire.LoadHarness;

/// <summary>
/// Bounds one phase of a scenario in time (<c>--timeout-seconds</c>): a phase still running at its bound fails
/// the run with what the phase had done by then, instead of leaving the harness waiting on a gateway that stopped
/// answering. The caller's <c>await using</c> of the gateway then stops it.
/// </summary>
internal static class Deadline
{
    public static async Task<T> WithinAsync<T>(Task<T> phase, int seconds, Func<string> describe)
    {
        await WithinAsync((Task)phase, seconds, describe);
        return await phase;
    }

    public static async Task WithinAsync(Task phase, int seconds, Func<string> describe)
    {
        using var timer = new CancellationTokenSource();
        if (await Task.WhenAny(phase, Task.Delay(TimeSpan.FromSeconds(seconds), timer.Token)) != phase)
        {
            throw new TimeoutException($"{describe()}: not done within {seconds} s (--timeout-seconds).");
        }

        await timer.CancelAsync();
        await phase;
    }
}

/// <summary>A count that a scenario's tasks add to and its progress line reads.</summary>
internal sealed class Counter
{
    private long _value;

    public long Value => Volatile.Read(ref _value);

    public void Add(long n) => Interlocked.Add(ref _value, n);
}
