namespace ChatWire.Client.Tests.Infrastructure;

// The bound on every wait in this suite: long enough for a loaded two-core machine, never a speed assertion.
internal static class Patience
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(10);
}
