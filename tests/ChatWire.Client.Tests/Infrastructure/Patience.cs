namespace ChatWire.Client.Tests.Infrastructure;

// The bound on every wait in this suite: long enough for a loaded two-core machine, never a speed assertion.
internal static class Patience
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(10);

    /// <summary>Polls <paramref name="condition"/> until it holds, failing the test after a generous bound.</summary>
    public static async Task UntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + (Default * 6);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The condition did not hold within " + (Default * 6) + ".");
            }

            await Task.Delay(20);
        }
    }
}
