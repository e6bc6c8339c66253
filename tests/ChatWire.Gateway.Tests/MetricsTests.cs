using System.Net;
using System.Net.Http.Json;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests;

// What /metrics counts (docs/operations.md, "Metrics"): HTTP refusals as well as protocol ones, the
// group-commit writer, store reads and delivery, all without a user or conversation id in any label.
public sealed class MetricsTests
{
    [Fact]
    public async Task HttpRefusals_UnauthorizedAndRateLimited_CountedByCodeAndRoute()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Auth:AttemptsPerIpPerMinute"] = "2" });

        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Http.GetAsync("v1/me")).StatusCode);
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            statuses.Add((await server.Http.PostAsJsonAsync("v1/accounts/login", new { username = "nobody", password = "wrong password here" })).StatusCode);
        }

        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.True(await server.ReadMetricAsync("chatwire_errors_total", "name=\"NOT_AUTHENTICATED\",transport=\"http\"") >= 1);
        Assert.Equal(statuses.Count(s => s == HttpStatusCode.TooManyRequests), await server.ReadMetricAsync("chatwire_errors_total", "name=\"RATE_LIMITED\",transport=\"http\""));
        Assert.Equal(statuses.Count(s => s == HttpStatusCode.Unauthorized), await server.ReadMetricAsync("chatwire_errors_total", "name=\"INVALID_CREDENTIALS\",transport=\"http\""));
        Assert.Equal(statuses.Count(s => s == HttpStatusCode.TooManyRequests), await server.ReadMetricAsync("chatwire_http_requests_total", "method=\"POST\",route=\"/v1/accounts/login\",status=\"429\""));
        Assert.Equal(1, await server.ReadMetricAsync("chatwire_http_requests_total", "route=\"/v1/me\",status=\"401\""));

        // A made-up method becomes OTHER, not a label value of its own.
        using var odd = new HttpRequestMessage(new HttpMethod("SCAN1234"), "v1/me");
        await server.Http.SendAsync(odd);
        Assert.DoesNotContain("SCAN1234", await server.Management.GetStringAsync("metrics"), StringComparison.Ordinal);
        Assert.Equal(1, await server.ReadMetricAsync("chatwire_http_requests_total", "method=\"OTHER\""));
    }

    [Fact]
    public async Task Send_ToAConnectedMember_CommitDeliveryAndStoreMetricsMove_NoIdsInLabels()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        await using var sender = await RawClient.ConnectAuthenticatedAsync(alice);
        await using var receiver = await RawClient.ConnectAuthenticatedAsync(bob);

        await sender.SendTextAsync(dm, "hello");
        await receiver.ExpectMessageAsync();
        await receiver.SendAsync(new Protocol.Frames.History(receiver.NextRequestId(), dm, 0, Protocol.Frames.HistoryDirection.After, 10));
        await receiver.ExpectAsync<Protocol.Frames.HistoryPage>();

        Assert.True(await server.ReadMetricAsync("chatwire_commit_batch_size_count") >= 1);
        Assert.True(await server.ReadMetricAsync("chatwire_commit_duration_seconds_count") >= 1);
        Assert.Contains("# TYPE chatwire_commit_wait_seconds_total counter", await server.Management.GetStringAsync("metrics"), StringComparison.Ordinal);
        Assert.True(await server.ReadMetricAsync("chatwire_send_duration_seconds_count") >= 1);
        await server.WaitForMetricAsync("chatwire_delivery_latency_seconds_count", null, count => count >= 1);
        Assert.True(await server.ReadMetricAsync("chatwire_store_operation_duration_seconds_count", "operation=\"read\"") >= 1);
        Assert.Equal(2, await server.ReadMetricAsync("chatwire_connections", "state=\"authenticated\""));
        Assert.True(await server.ReadMetricAsync("chatwire_jit_compiled_methods_total") > 0);
        Assert.True(await server.ReadMetricAsync("chatwire_jit_compilation_seconds_total") > 0);

        var text = await server.Management.GetStringAsync("metrics");
        foreach (var id in new[] { alice.UserId, bob.UserId, alice.DeviceId, bob.DeviceId, dm })
        {
            Assert.DoesNotContain(id.ToString(), text, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(id.ToString("N"), text, StringComparison.OrdinalIgnoreCase);
        }
    }
}
