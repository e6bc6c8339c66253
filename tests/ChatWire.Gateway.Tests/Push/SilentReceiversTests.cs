using ChatWire.Gateway.Push;

namespace ChatWire.Gateway.Tests.Push;

public sealed class SilentReceiversTests
{
    private const string Url = "https://hooks.example/a";

    // 5 minutes, doubling with each further silence, up to 6 hours; clearing (an answer, a registration) starts again.
    [Fact]
    public void Silent_Repeatedly_PauseDoublesUpToTheLongest_ClearEndsIt()
    {
        var time = new ManualTime();
        var silent = new SilentReceivers(time);
        var device = Guid.NewGuid();
        Assert.False(silent.IsPaused(device, Url));

        foreach (var minutes in new[] { 5, 10, 20, 40, 80, 160, 320, 360, 360 })
        {
            silent.Silent(device, Url);
            time.Now += TimeSpan.FromMinutes(minutes) - TimeSpan.FromSeconds(1);
            Assert.True(silent.IsPaused(device, Url), $"paused just before {minutes} minutes");
            time.Now += TimeSpan.FromSeconds(1);
            Assert.False(silent.IsPaused(device, Url), $"not paused at {minutes} minutes");
        }

        silent.Silent(device, Url);
        silent.Clear(device);
        Assert.False(silent.IsPaused(device, Url));
        Assert.False(silent.IsPaused(Guid.NewGuid(), Url));

        silent.Silent(device, Url);
        time.Now += SilentReceivers.FirstPause;
        Assert.False(silent.IsPaused(device, Url));
    }

    // The pause belongs to the URL that was silent; and one over for longer than the longest pause is forgotten.
    [Fact]
    public void Silent_OtherUrlOrLongAgo_StartsFromTheFirstPause()
    {
        var time = new ManualTime();
        var silent = new SilentReceivers(time);
        var device = Guid.NewGuid();
        silent.Silent(device, Url);
        silent.Silent(device, Url);

        Assert.False(silent.IsPaused(device, "https://hooks.example/b"));
        silent.Silent(device, "https://hooks.example/b");
        time.Now += SilentReceivers.FirstPause;
        Assert.False(silent.IsPaused(device, "https://hooks.example/b"));

        time.Now += SilentReceivers.LongestPause + TimeSpan.FromMinutes(1);
        silent.Silent(device, "https://hooks.example/b");
        time.Now += SilentReceivers.FirstPause;
        Assert.False(silent.IsPaused(device, "https://hooks.example/b"));
        Assert.Equal(1, silent.Count);
    }

    private sealed class ManualTime : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
