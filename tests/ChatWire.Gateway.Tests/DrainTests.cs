using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChatWire.Client;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.Gateway.Tests;

/// <summary>
/// The graceful drain (docs/operations.md): a gateway process told to stop (SIGTERM) goes unready, sends
/// GO_AWAY, keeps serving until its clients have moved, and exits with every acknowledged message stored.
/// </summary>
[Collection(RunAlone.Name)]
public sealed class DrainTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Sigterm_WhileMessagesAreSent_EveryClientResumesOnTheOtherNode_NoAcknowledgedMessageLost()
    {
        await using var cluster = await Cluster.StartAsync(2, extra: new Dictionary<string, string>
        {
            ["Gateway:DrainTimeoutMs"] = "20000",
            ["Logging:LogLevel:ChatWire.Gateway.Hosting.GatewayDrain"] = "Information",
        });
        var (a, b) = (cluster[0], cluster[1]);
        var (general, users) = await TeamAsync(b, "alice", "bob", "carol");

        // Every client starts on node A and knows node B as the fallback.
        var connections = new Dictionary<string, ChatWireConnection>();
        foreach (var (name, (token, device)) in users)
        {
            connections[name] = await ChatWireConnection.ConnectAsync(new ChatWireConnectionOptions
            {
                Host = "127.0.0.1",
                Port = a.Tcp.Port,
                FallbackEndpoints = [new DnsEndPoint("127.0.0.1", b.Tcp.Port)],
                SessionToken = token,
                DeviceId = device,
                Reconnect = ReconnectPolicy.Default with { MaxDelay = TimeSpan.FromSeconds(2) },
            });
        }

        try
        {
            // Bob only reads; what reaches him is compared with what alice and carol were acknowledged.
            var received = new ConcurrentDictionary<Guid, ulong>();
            using var stop = new CancellationTokenSource();
            var reading = Task.Run(async () =>
            {
                try
                {
                    await foreach (var e in connections["bob"].ReadEventsAsync(stop.Token))
                    {
                        if (e is MessageReceived m)
                        {
                            received[m.Message.EventId] = m.Message.Seq;
                        }
                    }
                }
                catch (OperationCanceledException)
                {
                }
            });

            var acknowledged = new ConcurrentDictionary<Guid, ulong>();
            var sentSome = new TaskCompletionSource();
            async Task SendAllAsync(ChatWireConnection sender, string name)
            {
                for (var i = 0; i < 150; i++)
                {
                    var id = Guid.CreateVersion7();
                    var ack = await SendUntilAcknowledgedAsync(sender, general, id, $"{name} {i}");
                    acknowledged[id] = ack.Seq;
                    if (acknowledged.Count >= 60)
                    {
                        sentSome.TrySetResult();
                    }
                }
            }

            var sending = Task.WhenAll(SendAllAsync(connections["alice"], "alice"), SendAllAsync(connections["carol"], "carol"));
            await sentSome.Task.WaitAsync(Patience);
            await a.TerminateAsync();

            // While the clients move, node A is not ready any more (or already gone). The signal reaches the node's
            // runtime on a thread of its own, so a /ready served in the first instants after kill may still say 200.
            var ready = await ReadyStatusAsync(a);
            for (var notReadyBy = Stopwatch.GetTimestamp() + (10 * Stopwatch.Frequency); ready == HttpStatusCode.OK && Stopwatch.GetTimestamp() < notReadyBy;)
            {
                await Task.Delay(20);
                ready = await ReadyStatusAsync(a);
            }

            Assert.True(ready is null or HttpStatusCode.ServiceUnavailable, $"/ready of the draining node answered {ready}");

            await sending.WaitAsync(Patience);
            Assert.Equal(0, await a.WaitForExitAsync(Patience));
            Assert.Equal(300, acknowledged.Count);

            // The clients left on their own, on GO_AWAY, before the deadline would have closed them.
            Assert.Contains("Draining: 3 connections were asked to move", a.Output, StringComparison.Ordinal);
            Assert.Contains("0 connections still open were closed", a.Output, StringComparison.Ordinal);

            // Every client is on node B, connected (a reader may still be finishing its reconnect: A closed it at the latest at its deadline).
            foreach (var (name, connection) in connections)
            {
                using var wait = new CancellationTokenSource(Patience);
                while (!(connection.State == ConnectionState.Connected && connection.CurrentEndpoint.Port == b.Tcp.Port) && !wait.IsCancellationRequested)
                {
                    await Task.Delay(100, CancellationToken.None);
                }

                Assert.Equal(b.Tcp.Port, connection.CurrentEndpoint.Port);
                Assert.Equal(ConnectionState.Connected, connection.State);
                output.WriteLine($"{name}: on port {connection.CurrentEndpoint.Port}");
            }

            // Every acknowledged message reached bob, with its acknowledged seq, through the move.
            using var deadline = new CancellationTokenSource(Patience);
            while (!acknowledged.Keys.All(received.ContainsKey) && !deadline.IsCancellationRequested)
            {
                await Task.Delay(100, CancellationToken.None);
            }

            output.WriteLine($"{acknowledged.Count} acknowledged, {received.Count} received by bob; a's output:\n{a.Output}");
            Assert.All(acknowledged, pair => Assert.Equal(pair.Value, received.GetValueOrDefault(pair.Key)));

            // And the store has them all, read back through node B.
            var stored = new HashSet<Guid>();
            var page = await connections["bob"].GetHistoryAsync(general, 0, HistoryDirection.After, 200);
            ulong last = 0;
            while (page.Events.Count > 0)
            {
                foreach (var e in page.Events.Where(e => e.Kind == EventKind.Message))
                {
                    stored.Add(e.EventId);
                }

                last = page.Events[^1].Seq;
                page = await connections["bob"].GetHistoryAsync(general, last, HistoryDirection.After, 200);
            }

            Assert.Superset(stored, acknowledged.Keys.ToHashSet());
            await stop.CancelAsync();
            await reading;
        }
        finally
        {
            foreach (var connection in connections.Values)
            {
                await connection.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Sigterm_ReadyTurns503AndLoginIsRefused_WhileAClientStays_ThenItIsClosedAtTheDeadline()
    {
        await using var node = await GatewayChild.StartAsync(4096, new Dictionary<string, string> { ["Gateway:DrainTimeoutMs"] = "6000" });
        var (token, device) = await node.SignupAsync("dora");
        Assert.Equal(HttpStatusCode.OK, await ReadyStatusAsync(node));
        var health = await node.ManagementClient.GetFromJsonAsync<JsonElement>("ready");
        Assert.Equal("ok", health.GetProperty("backends").GetProperty("directory").GetProperty("status").GetString());
        Assert.Equal("ok", health.GetProperty("backends").GetProperty("messages").GetProperty("status").GetString());

        // A raw client does not know GO_AWAY's meaning: it stays until the deadline.
        await using var stays = await RawClient.ConnectAsync(node.Tcp);
        await stays.HandshakeAsync(token, device);
        await node.TerminateAsync();

        var goAway = await stays.ExpectAsync<GoAway>(TimeSpan.FromSeconds(10));
        Assert.Equal(3000u, goAway.ReconnectWindowMs);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await ReadyStatusAsync(node));
        var ready = await (await node.ManagementClient.GetAsync("ready")).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("draining", ready.GetProperty("status").GetString());
        Assert.True((await node.ManagementClient.GetAsync("health")).IsSuccessStatusCode, "/health stays 200: the process is alive");

        var login = await node.Api.PostAsJsonAsync("v1/accounts/login", new { username = "dora", password = "correct horse battery", device_name = "late" });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, login.StatusCode);
        Assert.Equal((int)ErrorCode.ShuttingDown, (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetInt32());

        // The connection still serves requests until the deadline, then is closed with SHUTTING_DOWN.
        await stays.SendAsync(new Ping(stays.NextRequestId()));
        await stays.ExpectAsync<Pong>(TimeSpan.FromSeconds(10));
        var closed = await stays.ExpectErrorAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(ErrorCode.ShuttingDown, closed.Code);
        Assert.Equal(0, await node.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    // A SEND cut off by the move is sent again with the same id: the server answers the original seq.
    private static async Task<SendResult> SendUntilAcknowledgedAsync(ChatWireConnection sender, Guid conversation, Guid id, string text)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await sender.SendTextAsync(conversation, text, id).WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (Exception ex) when (attempt < 20 && ex is IOException or TimeoutException || (ex is ChatWireException { Code: ErrorCode.ShuttingDown or ErrorCode.StorageUnavailable } && attempt < 20))
            {
                await Task.Delay(100);
            }
        }
    }

    private static async Task<HttpStatusCode?> ReadyStatusAsync(GatewayChild node)
    {
        try
        {
            return (await node.ManagementClient.GetAsync("ready")).StatusCode;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    private async Task<(Guid General, Dictionary<string, (string Token, Guid DeviceId)> Users)> TeamAsync(GatewayChild node, params string[] usernames)
    {
        var users = new Dictionary<string, (string Token, Guid DeviceId)>();
        foreach (var name in usernames)
        {
            users[name] = await node.SignupAsync(name);
        }

        var owner = users[usernames[0]].Token;
        var team = await node.CallAsync(owner, HttpMethod.Post, "v1/teams", new { name = "Acme" });
        var teamId = team.GetProperty("team_id").GetGuid();
        foreach (var name in usernames.Skip(1))
        {
            var invite = await node.CallAsync(owner, HttpMethod.Post, $"v1/teams/{teamId}/invites", new { });
            await node.CallAsync(users[name].Token, HttpMethod.Post, $"v1/invites/{invite.GetProperty("invite_code").GetString()}/join");
        }

        output.WriteLine($"team {teamId} on {node.Http}");
        return (team.GetProperty("general_channel_id").GetGuid(), users);
    }
}
