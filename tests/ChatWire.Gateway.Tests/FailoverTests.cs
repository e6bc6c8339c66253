using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol.Frames;
using ChatWire.Tests.Shared;

namespace ChatWire.Gateway.Tests;

/// <summary>
/// MySQL failover under two gateway nodes: the connection string lists the primary then the replica
/// (<c>LoadBalance=FailOver</c>); the primary is stopped and the replica promoted, as an operator (or an
/// orchestrator) would; the gateways carry on without a restart, and nothing acknowledged is lost
/// (replication is semi-synchronous, so an acknowledged commit is on the replica too).
/// </summary>
[Collection(RunAlone.Name)]
public sealed class FailoverTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task PrimaryStoppedAndReplicaPromoted_GatewaysCarryOn_NothingAcknowledgedLost()
    {
        await using var mysql = await PrivateMySql.StartAsync();
        var connection = mysql.FailoverConnectionString + ";Database=chatwire_failover;Connection Timeout=3";
        await using var cluster = await Cluster.StartAsync(2, extra: new Dictionary<string, string>
        {
            ["Storage:MySql:ConnectionString"] = connection,
            ["Storage:MySql:ReplicaConnectionString"] = "",
        });

        var (aliceToken, aliceDevice) = await cluster[0].SignupAsync("alice");
        var team = await cluster[0].CallAsync(aliceToken, HttpMethod.Post, "v1/teams", new { name = "Acme" });
        var general = team.GetProperty("general_channel_id").GetGuid();
        var acknowledged = new Dictionary<Guid, ulong>();
        await using (var alice = await RawClient.ConnectAsync(cluster[0].Tcp))
        {
            await alice.HandshakeAsync(aliceToken, aliceDevice);
            for (var i = 0; i < 20; i++)
            {
                var ack = await alice.SendTextAsync(general, $"before {i}");
                acknowledged[ack.MessageId] = ack.Seq;
            }
        }

        await mysql.StopPrimaryAsync();
        await mysql.PromoteReplicaAsync();

        // The other node, which never talked to the new primary, takes a login and SENDs. The first attempts
        // may meet connections to the old primary that the pool has not dropped yet: a client retries with
        // the same message id, as the SDK does.
        var (bobToken, bobDevice) = await RetryAsync(() => cluster[1].SignupAsync("bob"));
        var invite = await RetryAsync(() => cluster[1].CallAsync(aliceToken, HttpMethod.Post, $"v1/teams/{team.GetProperty("team_id").GetGuid()}/invites", new { }));
        await RetryAsync(() => cluster[1].CallAsync(bobToken, HttpMethod.Post, $"v1/invites/{invite.GetProperty("invite_code").GetString()}/join"));
        await using var bob = await RawClient.ConnectAsync(cluster[1].Tcp);
        await bob.HandshakeAsync(bobToken, bobDevice);
        for (var i = 0; i < 20; i++)
        {
            var id = Guid.CreateVersion7();
            var ack = await RetryAsync(async () =>
            {
                await bob.SendAsync(new Send(bob.NextRequestId(), general, id, "text/plain", System.Text.Encoding.UTF8.GetBytes($"after {i}")));
                return await bob.ExpectAsync<SendAck>(TimeSpan.FromSeconds(20));
            });
            acknowledged[id] = ack.Seq;
        }

        await bob.SendAsync(new History(bob.NextRequestId(), general, 0, HistoryDirection.After, 200));
        var events = (await bob.ExpectAsync<HistoryPage>()).Events;
        output.WriteLine($"{acknowledged.Count} acknowledged, {events.Count} events after the failover");
        Assert.Equal(Enumerable.Range(1, events.Count).Select(n => (ulong)n), events.Select(e => e.Seq));
        Assert.All(acknowledged, a => Assert.Equal(a.Value, events.Single(e => e.EventId == a.Key).Seq));
    }

    // MariaDB stops waiting for a frozen replica after rpl_semi_sync_master_timeout (5 s in scripts/services.sh) and
    // replicates asynchronously from then on, saying so only in a status variable: the gateway's readiness check reads
    // it into chatwire_mysql_semi_sync (0, alerted on), and it is 1 again once the replica has caught up.
    [Fact]
    public async Task ReplicaFrozen_PrimaryFallsBackToAsync_TheMetricSaysSo_AndRecovers()
    {
        await using var mysql = await PrivateMySql.StartAsync();
        await using var cluster = await Cluster.StartAsync(1, extra: new Dictionary<string, string>
        {
            ["Storage:MySql:ConnectionString"] = mysql.FailoverConnectionString + ";Database=chatwire_semisync;Connection Timeout=3",
            ["Storage:MySql:ReplicaConnectionString"] = "",
        });
        var node = cluster[0];

        var before = await SemiSyncAsync(node);
        await mysql.PauseReplicaAsync();
        await node.SignupAsync("carol");
        var frozen = await SemiSyncAsync(node);
        await mysql.ResumeReplicaAsync();
        var after = before;
        for (var i = 0; i < 60 && (after = await SemiSyncAsync(node)) != 1; i++)
        {
            // Each commit lets the primary see the replica's acknowledgements again.
            await node.SignupAsync($"dave{i}");
            await Task.Delay(500);
        }

        Assert.Equal((1, 0, 1), (before, frozen, after));
    }

    // GET /ready runs the checks now; the gauge then holds what it read.
    private static async Task<int> SemiSyncAsync(GatewayChild node)
    {
        (await node.ManagementClient.GetAsync("ready")).Dispose();
        var metrics = await node.ManagementClient.GetStringAsync("metrics");
        var line = metrics.Split('\n').Single(l => l.StartsWith("chatwire_mysql_semi_sync ", StringComparison.Ordinal));
        return int.Parse(line["chatwire_mysql_semi_sync ".Length..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<T> RetryAsync<T>(Func<Task<T>> attempt)
    {
        for (var i = 1; ; i++)
        {
            try
            {
                return await attempt();
            }
            catch (Exception ex) when (i < 10 && ex is Xunit.Sdk.XunitException or HttpRequestException or InvalidOperationException)
            {
                output.WriteLine($"attempt {i}: {ex.Message.Split('\n')[0]}");
                await Task.Delay(500);
            }
        }
    }
}
