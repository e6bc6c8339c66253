using System.Diagnostics;

namespace ChatWire.Bench;

/// <summary>
/// How a warm-up ended: rounds run, their wall time, and the share of the last round's wall time spent in the JIT by
/// the server and by this process (NaN for the server when its JIT time cannot be read).
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
        ? $"warm-up: {Rounds} rounds in {Seconds:F1} s, the JIT at {LastJitShare:P1} (server) and {LastOwnJitShare:P1} (this process) of the last one"
        : $"warm-up: {Rounds} rounds in {Seconds:F1} s (the server's JIT time cannot be read: warmed up by time)";
}

/// <summary>
/// Warms a server, and this process's clients, up until their JIT has levelled off. Tiered compilation recompiles
/// the hot code, optimized, in the background during the first seconds of traffic (8–35 s of it in the gateway), and
/// a run measured before that ends counts the JIT's CPU, and the slower code's, against its messages: on 2026-12-04 a
/// 200,000-message SQLite <c>send</c> after one short round measured 43–44 µs of gateway CPU per message, with
/// tiered compilation off 36–38 µs. Rounds of the scenario's own traffic run until two in a row each spend under
/// <see cref="QuietShare"/> of their wall time in the server's JIT and in this process's, or the most rounds or time
/// allowed. A server whose JIT time cannot be read (a gateway older than its
/// <c>chatwire_jit_compilation_seconds_total</c>) is warmed up for <see cref="FallbackSeconds"/> instead; a native
/// server (Redis, NATS, Mosquitto) has no JIT, and its reading is a constant 0. Shared by the load harness and
/// ChatWire.Peers, so both sides of a comparison warm up the same way.
/// </summary>
internal static class JitWarmUp
{
    public const int MaxRounds = 40;
    public const double QuietShare = 0.01;
    public const double FallbackSeconds = 10;

    /// <summary>The server reading of a native server: it spends no time in a JIT.</summary>
    public static Task<double?> NoJit() => Task.FromResult<double?>(0);

    public static async Task<WarmUpReport> RunAsync(Func<Task> round, Func<Task<double?>> serverJitSeconds, int maxRounds = MaxRounds, TimeSpan? maxTime = null)
    {
        var started = Stopwatch.GetTimestamp();
        var quietRounds = 0;
        for (var rounds = 1; ; rounds++)
        {
            var before = await serverJitSeconds();
            var ownBefore = System.Runtime.JitInfo.GetCompilationTime();
            var roundStarted = Stopwatch.GetTimestamp();
            await round();
            var wall = Math.Max(Stopwatch.GetElapsedTime(roundStarted).TotalSeconds, 1e-3);
            var ownShare = (System.Runtime.JitInfo.GetCompilationTime() - ownBefore).TotalSeconds / wall;
            var after = await serverJitSeconds();
            var total = Stopwatch.GetElapsedTime(started).TotalSeconds;
            var outOfTurns = rounds == maxRounds || (maxTime is { } limit && total >= limit.TotalSeconds);
            if (before is null || after is null)
            {
                if (total >= FallbackSeconds || outOfTurns)
                {
                    return new WarmUpReport(rounds, total, double.NaN, ownShare);
                }

                continue;
            }

            var share = (after.Value - before.Value) / wall;
            quietRounds = share < QuietShare && ownShare < QuietShare ? quietRounds + 1 : 0;
            if (quietRounds == 2 || outOfTurns)
            {
                return new WarmUpReport(rounds, total, share, ownShare);
            }
        }
    }
}
