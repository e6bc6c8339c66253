using System.Diagnostics;

namespace ChatWire.LoadHarness;

/// <summary>
/// How a warm-up ended: rounds run, their wall time, and the share of the last round's wall time spent in the JIT by
/// the gateway and by this process (NaN for the gateway when it does not export its JIT time).
/// </summary>
internal sealed record WarmUpReport(int Rounds, double Seconds, double LastJitShare, double LastOwnJitShare)
{
    public bool JitMeasured => !double.IsNaN(LastJitShare);

    /// <summary>The result file's warm_up object.</summary>
    public object ToJson() => new
    {
        rounds = Rounds,
        seconds = Seconds,
        gateway_jit_share_of_last_round = JitMeasured ? LastJitShare : (double?)null,
        harness_jit_share_of_last_round = LastOwnJitShare,
    };

    public override string ToString() => JitMeasured
        ? $"warm-up: {Rounds} rounds in {Seconds:F1} s, the JIT at {LastJitShare:P1} (gateway) and {LastOwnJitShare:P1} (harness) of the last one"
        : $"warm-up: {Rounds} rounds in {Seconds:F1} s (this gateway exports no chatwire_jit_compilation_seconds_total: warmed up by time)";
}

/// <summary>
/// Warms the gateway, and this process's clients, up until their JIT has levelled off. Tiered compilation recompiles
/// the hot code, optimized, in the background during the first seconds of traffic (8–35 s of it here), and a run
/// measured before that ends counts the JIT's CPU, and the slower code's, against its messages: on 2026-12-04 a
/// 200,000-message SQLite <c>send</c> after one short round measured 43–44 µs of gateway CPU per message, with
/// tiered compilation off 36–38 µs. Rounds of the scenario's own traffic run until two in a row each spend under
/// <see cref="QuietShare"/> of their wall time in the gateway's JIT (<c>chatwire_jit_compilation_seconds_total</c>)
/// and in this process's, or <see cref="MaxRounds"/> rounds. A gateway without that metric (an older build under
/// comparison) is warmed up for <see cref="FallbackSeconds"/> instead.
/// </summary>
internal static class JitWarmUp
{
    public const int MaxRounds = 40;
    public const double QuietShare = 0.01;
    public const double FallbackSeconds = 10;
    private const string JitSeconds = "chatwire_jit_compilation_seconds_total";

    public static async Task<WarmUpReport> RunAsync(GatewayProcess gateway, Func<Task> round)
    {
        var started = Stopwatch.GetTimestamp();
        var quietRounds = 0;
        for (var rounds = 1; ; rounds++)
        {
            var before = await ReadJitSecondsAsync(gateway);
            var ownBefore = System.Runtime.JitInfo.GetCompilationTime();
            var roundStarted = Stopwatch.GetTimestamp();
            await round();
            var wall = Math.Max(Stopwatch.GetElapsedTime(roundStarted).TotalSeconds, 1e-3);
            var ownShare = (System.Runtime.JitInfo.GetCompilationTime() - ownBefore).TotalSeconds / wall;
            var after = await ReadJitSecondsAsync(gateway);
            var total = Stopwatch.GetElapsedTime(started).TotalSeconds;
            if (before is null || after is null)
            {
                if (total >= FallbackSeconds || rounds == MaxRounds)
                {
                    return new WarmUpReport(rounds, total, double.NaN, ownShare);
                }

                continue;
            }

            var share = (after.Value - before.Value) / wall;
            quietRounds = share < QuietShare && ownShare < QuietShare ? quietRounds + 1 : 0;
            if (quietRounds == 2 || rounds == MaxRounds)
            {
                return new WarmUpReport(rounds, total, share, ownShare);
            }
        }
    }

    /// <summary>The gateway's JIT time so far, in seconds; null when it does not export it.</summary>
    public static async Task<double?> ReadJitSecondsAsync(GatewayProcess gateway) =>
        (await gateway.ReadUnlabelledMetricsAsync()).TryGetValue(JitSeconds, out var seconds) ? seconds : null;
}
