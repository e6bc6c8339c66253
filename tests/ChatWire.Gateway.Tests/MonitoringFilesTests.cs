using System.Text.RegularExpressions;
using ChatWire.Gateway.Tests.Infrastructure;

namespace ChatWire.Gateway.Tests;

/// <summary>
/// The Grafana dashboard (deploy/grafana/chatwire.json) and the alerting rules (deploy/prometheus/alerts.yml)
/// must only use metrics a live gateway exports: a renamed metric would otherwise leave an empty panel or an
/// alert that can never fire. The gateway runs in distributed mode (MariaDB and Redis), where every metric
/// family exists. promtool checks the rules' syntax (scripts/check-monitoring.sh, run by test.sh).
/// </summary>
[Collection(RunAlone.Name)]
public sealed partial class MonitoringFilesTests
{
    [Fact]
    public async Task DashboardAndAlertRules_EveryMetricTheyUse_ExistsOnALiveGateway()
    {
        var used = UsedMetrics();
        Assert.True(used.Count >= 30, $"Only {used.Count} metric names found in the dashboard and the rules; the extraction is broken.");

        await using var cluster = await Cluster.StartAsync(1);
        var exported = ExportedMetrics(await cluster[0].ManagementClient.GetStringAsync("metrics"));

        var missing = used.Where(name => !exported.Contains(name)).Order().ToList();
        Assert.True(missing.Count == 0, "Used by deploy/grafana/chatwire.json or deploy/prometheus/alerts.yml but not exported: " + string.Join(", ", missing));
        Assert.Contains("chatwire_push_notifications_total", used);
    }

    // Metric names in the expressions of both files (Prometheus's own `up` aside), histogram series
    // (_bucket, _sum, _count) under their family's name.
    private static HashSet<string> UsedMetrics()
    {
        var root = RepositoryRoot();
        var text = File.ReadAllText(Path.Combine(root, "deploy", "grafana", "chatwire.json"))
            + File.ReadAllText(Path.Combine(root, "deploy", "prometheus", "alerts.yml"));
        return MetricName().Matches(text).Select(m => HistogramSuffix().Replace(m.Value, string.Empty)).ToHashSet(StringComparer.Ordinal);
    }

    // Every family the exposition declares (# TYPE), whether or not it has a series yet.
    private static HashSet<string> ExportedMetrics(string exposition) =>
        exposition.Split('\n')
            .Where(line => line.StartsWith("# TYPE ", StringComparison.Ordinal))
            .Select(line => line.Split(' ')[2])
            .ToHashSet(StringComparer.Ordinal);

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ChatWire.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No ChatWire.sln above {AppContext.BaseDirectory}.");
    }

    [GeneratedRegex(@"\b(?:chatwire|process|dotnet)_[a-z0-9_]+\b")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"_(?:bucket|sum|count)$")]
    private static partial Regex HistogramSuffix();
}
