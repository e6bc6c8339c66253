using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ChatWire.Peers;

/// <summary>
/// Reads one scripts/peers.sh run's results (the load harness's chatwire-idle.json and chatwire-fanout-*.json,
/// this tool's peer-*.json, a peer's phases and runs possibly in files of their own) and prints, then writes as ratios.md and ratios.json, each side's figures and the
/// ratios ChatWire ÷ peer. Fan-out figures are each side's best run by deliveries/s, latencies from that run.
/// </summary>
internal static class RatioTable
{
    private static readonly (string Kind, string Name)[] Peers =
    [
        ("redis", "Redis pub/sub"),
        ("nats", "NATS"),
        ("mqtt", "Mosquitto (MQTT 3.1.1, QoS 0)"),
        ("signalr", "ASP.NET Core SignalR hub"),
    ];

    internal static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public static void Write(string directory)
    {
        var idle = Load(Path.Combine(directory, "chatwire-idle.json")).GetProperty("result");
        var chatWireResults = Directory.GetFiles(directory, "chatwire-fanout-*.json").Order(StringComparer.Ordinal)
            .Select(file => Load(file).GetProperty("result"))
            .ToList();
        var chatWireRuns = chatWireResults.Select(r => ReadRun(r, "gateway")).ToList();
        var chatWireName = idle.TryGetProperty("managed_bytes_per_connection", out var managed)
            ? Invariant($"ChatWire (managed heap {managed.GetDouble() / 1024:F2} KB per idle connection)")
            : "ChatWire";
        var chatWireMessages = chatWireResults.Count > 0 ? chatWireResults[0].GetProperty("messages").GetInt32() : 0;
        var chatWire = new Side(chatWireName, idle.GetProperty("rss_bytes_per_connection").GetDouble(), LargestStep(idle), chatWireRuns, chatWireMessages);

        var peers = new List<Side>();
        foreach (var (kind, name) in Peers)
        {
            // peer-KIND.json holds both phases; peers.sh also writes peer-KIND-idle.json and one
            // peer-KIND-fanout-N.json per run it alternates with ChatWire's.
            var results = Directory.GetFiles(directory, $"peer-{kind}.json")
                .Concat(Directory.GetFiles(directory, $"peer-{kind}-*.json").Order(StringComparer.Ordinal))
                .Select(Load)
                .ToList();
            var idles = results.Select(r => r.GetProperty("idle")).Where(i => i.ValueKind == JsonValueKind.Object).ToList();
            var fanouts = results.Select(r => r.GetProperty("fanout")).Where(f => f.ValueKind == JsonValueKind.Object).ToList();
            if (idles.Count == 0 || fanouts.Count == 0)
            {
                continue;
            }

            var runs = fanouts.SelectMany(f => f.GetProperty("runs").EnumerateArray()).Select(r => ReadRun(r, "server")).ToList();
            peers.Add(new Side(name, idles[0].GetProperty("rss_bytes_per_connection").GetDouble(), LargestStep(idles[0]), runs, fanouts[0].GetProperty("messages").GetInt32()));
        }

        var markdown = new StringBuilder();
        markdown.AppendLine("| | RSS per idle connection (slope; largest step) | fan-out messages per run | fan-out deliveries/s (best; all runs) | p50 of the best run | p99 of the best run | server CPU per delivery in the best run (user + kernel) |");
        markdown.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var side in peers.Prepend(chatWire))
        {
            var runs = string.Join(", ", side.Runs.Select(r => $"{r.Rate / 1000:F0}k"));
            var cpu = double.IsNaN(side.Best.UserNs) ? "not recorded" : Invariant($"{side.Best.UserNs:F0} + {side.Best.KernelNs:F0} ns");
            markdown.AppendLine(Invariant($"| {side.Name} | {side.RssPerConnection / 1024:F2} KB; {side.RssLargestStep / 1024:F2} KB | {side.Messages:N0} | {side.Best.Rate:N0} ({runs}) | {side.Best.P50:F1} ms | {side.Best.P99:F1} ms | {cpu} |"));
        }

        markdown.AppendLine();
        markdown.AppendLine("| ChatWire ÷ peer | RSS per idle connection (slope) | RSS per idle connection (largest step) | deliveries/s | p50 latency | p99 latency |");
        markdown.AppendLine("|---|---:|---:|---:|---:|---:|");
        var ratios = new List<object>();
        foreach (var side in peers)
        {
            var rss = chatWire.RssPerConnection / side.RssPerConnection;
            var rssStep = chatWire.RssLargestStep / side.RssLargestStep;
            var rate = chatWire.Best.Rate / side.Best.Rate;
            var p50 = chatWire.Best.P50 / side.Best.P50;
            var p99 = chatWire.Best.P99 / side.Best.P99;
            markdown.AppendLine(Invariant($"| ÷ {side.Name} | {rss:F2} | {rssStep:F2} | {rate:F2} | {p50:F2} | {p99:F2} |"));
            ratios.Add(new { peer = side.Name, rss_per_idle_connection = rss, rss_per_idle_connection_largest_step = rssStep, deliveries_per_second = rate, p50_latency = p50, p99_latency = p99 });
        }

        Console.Write(markdown);
        File.WriteAllText(Path.Combine(directory, "ratios.md"), markdown.ToString());
        var json = new
        {
            sides = peers.Prepend(chatWire).Select(s => new
            {
                name = s.Name,
                rss_bytes_per_idle_connection = s.RssPerConnection,
                rss_bytes_per_idle_connection_largest_step = s.RssLargestStep,
                fanout_messages_per_run = s.Messages,
                best = new { deliveries_per_second = s.Best.Rate, p50_ms = s.Best.P50, p99_ms = s.Best.P99, server_user_ns_per_delivery = s.Best.UserNs, server_kernel_ns_per_delivery = s.Best.KernelNs },
                runs_deliveries_per_second = s.Runs.Select(r => r.Rate),
            }),
            ratios_chatwire_over_peer = ratios,
        };
        File.WriteAllText(Path.Combine(directory, "ratios.json"), JsonSerializer.Serialize(json, Indented));
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static JsonElement Load(string file) => JsonDocument.Parse(File.ReadAllText(file)).RootElement;

    // The server's CPU per delivery is NaN in results written before it was recorded.
    private static Run ReadRun(JsonElement run, string cpuPrefix) => new(
        run.GetProperty("deliveries_per_second").GetDouble(),
        run.GetProperty("p50_ms").GetDouble(),
        run.GetProperty("p99_ms").GetDouble(),
        run.TryGetProperty(cpuPrefix + "_user_ns_per_delivery", out var user) ? user.GetDouble() : double.NaN,
        run.TryGetProperty(cpuPrefix + "_kernel_ns_per_delivery", out var kernel) ? kernel.GetDouble() : double.NaN);

    private sealed record Run(double Rate, double P50, double P99, double UserNs, double KernelNs);

    // The largest RSS step between two counts in a row: the harness's rss_bytes_per_connection_largest_step, the
    // peer tool's likewise; NaN in results written before it was recorded (two counts only).
    private static double LargestStep(JsonElement idle) =>
        idle.TryGetProperty("rss_bytes_per_connection_largest_step", out var step) && step.ValueKind == JsonValueKind.Number ? step.GetDouble() : double.NaN;

    private sealed record Side(string Name, double RssPerConnection, double RssLargestStep, List<Run> Runs, int Messages)
    {
        public Run Best { get; } = Runs.MaxBy(r => r.Rate) ?? new Run(double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
    }
}
