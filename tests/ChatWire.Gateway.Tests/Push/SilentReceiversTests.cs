using ChatWire.Gateway.Push;

namespace ChatWire.Gateway.Tests.Push;

public sealed class SilentReceiversTests
{
    // 5 minutes, doubling with each further silence, up to 6 hours; an answer starts again from no pause.
    [Fact]
    public void Silent_Repeatedly_PauseDoublesUpToTheLongest_AnAnswerEndsIt()
    {
        var time = new ManualTime();
        var silent = new SilentReceivers(time);
        var device = Guid.NewGuid();
        Assert.False(silent.IsPaused(device));

        foreach (var minutes in new[] { 5, 10, 20, 40, 80, 160, 320, 360, 360 })
        {
            silent.Silent(device);
            time.Now += TimeSpan.FromMinutes(minutes) - TimeSpan.FromSeconds(1);
            Assert.True(silent.IsPaused(device), $"paused just before {minutes} minutes");
            time.Now += TimeSpan.FromSeconds(1);
            Assert.False(silent.IsPaused(device), $"not paused at {minutes} minutes");
        }

        silent.Silent(device);
        silent.Answered(device);
        Assert.False(silent.IsPaused(device));
        Assert.False(silent.IsPaused(Guid.NewGuid()));

        silent.Silent(device);
        time.Now += SilentReceivers.FirstPause;
        Assert.False(silent.IsPaused(device));
    }

    private sealed class ManualTime : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
