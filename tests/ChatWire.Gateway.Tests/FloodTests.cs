using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using ChatWire.Gateway.Tests.Infrastructure;

namespace ChatWire.Gateway.Tests;

// docs/security.md, "Connection floods": one budget of connections over every listener, below the open-file
// limit, enforced at accept; per-listener and per-address caps before TLS. Regression for idle HTTP
// keep-alives exhausting the file descriptors (the process aborted) and silent TLS connections skipping the
// per-address cap (the TLS listener stopped accepting for good).
[Collection(RunAlone.Name)]
public sealed class FloodTests
{
    private const int OpenFiles = 1024;

    [Fact]
    public async Task EveryListenerFloodedPastTheBudget_ProcessLives_ExcessRefused_ThenTlsAndDmWork()
    {
        await using var gateway = await GatewayChild.StartAsync(OpenFiles, new Dictionary<string, string>
        {
            // The budget, not the per-address cap, is what this flood meets.
            ["Gateway:MaxConnectionsPerIp"] = "1000000",
            ["Gateway:MaxConnectionsPerUser"] = "0",
            ["Auth:AttemptsPerIpPerMinute"] = "100000",
        });
        var health = await gateway.ManagementClient.GetFromJsonAsync<JsonElement>("health");
        var budget = health.GetProperty("connections").GetProperty("budget").GetInt32();
        Assert.Equal(OpenFiles, health.GetProperty("connections").GetProperty("open_file_limit").GetInt32());
        Assert.True(budget < OpenFiles, $"budget {budget}");

        // Idle connections to every listener: HTTP keep-alives that never send, TLS connections that never
        // shake hands, protocol connections that never say HELLO, management connections. Far more than fit.
        var flood = new List<Socket>();
        var attempted = 0;
        try
        {
            foreach (var (endpoint, count) in new[] { (gateway.Http, 400), (gateway.Management, 200), (gateway.Tls, 400), (gateway.Tcp, 400) })
            {
                for (var i = 0; i < count; i++)
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    socket.Bind(new IPEndPoint(IPAddress.Parse($"127.0.0.{2 + (i % 8)}"), 0));
                    attempted++;
                    try
                    {
                        await socket.ConnectAsync(endpoint);
                        flood.Add(socket);
                    }
                    catch (SocketException)
                    {
                        // Refused so fast (accepted and reset) that the connect itself saw the reset.
                        socket.Dispose();
                    }
                }
            }

            // The excess is closed by the server, promptly: a read on it ends (or is reset) within the wait.
            var closed = await Task.WhenAll(flood.Select(ClosedByServerWithinAsync));
            var refused = closed.Count(c => c) + (attempted - flood.Count);
            Assert.False(gateway.HasExited, gateway.Output);
            Assert.InRange(attempted - refused, 1, budget);
            Assert.True(refused >= attempted - budget, $"{refused} of {attempted} refused; budget {budget}");
        }
        finally
        {
            flood.ForEach(s => s.Dispose());
        }

        // Released: the process is healthy, and the real thing works over TLS.
        Assert.False(gateway.HasExited, gateway.Output);
        JsonElement after;
        try
        {
            after = await WaitForHealthAsync(gateway);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"/health did not answer 200 within the wait after the flood; exited: {gateway.HasExited}.\n{gateway.Output}");
            throw;
        }

        Assert.Equal("ok", after.GetProperty("status").GetString());
        var alice = await gateway.SignupAsync("alice");
        var bob = await gateway.SignupAsync("bob");
        var team = await gateway.CallAsync(alice.Token, HttpMethod.Post, "v1/teams", new { name = "After" });
        var invite = await gateway.CallAsync(alice.Token, HttpMethod.Post, $"v1/teams/{team.GetProperty("team_id")}/invites", new { });
        await gateway.CallAsync(bob.Token, HttpMethod.Post, $"v1/invites/{invite.GetProperty("invite_code").GetString()}/join");
        var dm = (await gateway.CallAsync(alice.Token, HttpMethod.Post, "v1/dms", new { users = new[] { "bob" } })).GetProperty("conversation_id").GetGuid();
        await using var bobTls = await RawClient.ConnectTlsAsync(gateway.Tls, Path.Combine(gateway.DataDirectory, "dev-certificate.pfx"));
        await bobTls.HandshakeAsync(bob.Token, bob.DeviceId);
        await using var aliceTls = await RawClient.ConnectTlsAsync(gateway.Tls, Path.Combine(gateway.DataDirectory, "dev-certificate.pfx"));
        await aliceTls.HandshakeAsync(alice.Token, alice.DeviceId);
        var ack = await aliceTls.SendTextAsync(dm, "after the flood");
        Assert.Equal(ack.MessageId, (await bobTls.ExpectMessageAsync()).EventId);
    }

    [Fact]
    public async Task ConnectChurn_OneAddressMeetsItsRate_AThousandAddressesDoNot_AnotherClientUnaffected()
    {
        // Default connection limits: 256 open per address, 1,024 new ones a minute.
        await using var gateway = await GatewayChild.StartAsync(4096, new Dictionary<string, string> { ["Auth:AttemptsPerIpPerMinute"] = "100000" });
        var alice = await gateway.SignupAsync("alice");
        await using var bystander = await RawClient.ConnectAsync(gateway.Tcp);
        await bystander.HandshakeAsync(alice.Token, alice.DeviceId);

        // One address opens 1,500 connections as fast as it can, 16 at a time, each saying HELLO and leaving.
        var churning = System.Diagnostics.Stopwatch.StartNew();
        var one = await ChurnAsync(gateway, Enumerable.Repeat(IPAddress.Parse("127.0.0.20"), 1_500));
        var refilled = (int)Math.Ceiling(churning.Elapsed.TotalSeconds * 1_024 / 60);
        await bystander.SendAsync(new ChatWire.Protocol.Frames.Ping(1));
        await bystander.ExpectAsync<ChatWire.Protocol.Frames.Pong>();

        // A thousand addresses open two each: none is near its own rate.
        var many = await ChurnAsync(gateway, Enumerable.Range(0, 2_000).Select(i => IPAddress.Parse($"127.0.{1 + (i / 2 / 250)}.{1 + (i / 2 % 250)}")));
        await bystander.SendAsync(new ChatWire.Protocol.Frames.Ping(2));
        await bystander.ExpectAsync<ChatWire.Protocol.Frames.Pong>();
        var metrics = await gateway.ManagementClient.GetStringAsync("metrics");

        Assert.False(gateway.HasExited, gateway.Output);

        // The burst of 1,024 and what refilled meanwhile (one every 60/1,024 s) are let in; every other one is refused,
        // with the delay when the refusal could be read before the close.
        Assert.InRange(one.Welcomed, 1_024, 1_024 + refilled + 1);
        Assert.Equal(1_500, one.Welcomed + one.Refused + one.Reset);
        Assert.True(one.Refused > 0, $"{one.Refused} refusals read, {one.Reset} resets");
        Assert.All(one.RetryAfterMs, ms => Assert.InRange(ms, 1u, 60_000u));
        var counted = System.Text.RegularExpressions.Regex.Match(metrics, "chatwire_connections_rejected_total\\{reason=\"per-address connection rate\"\\} (\\S+)");
        Assert.Equal(one.Refused + one.Reset, double.Parse(counted.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal((2_000, 0, 0), (many.Welcomed, many.Refused, many.Reset));
    }

    private sealed record Churn(int Welcomed, int Refused, int Reset, IReadOnlyCollection<uint> RetryAfterMs);

    private static async Task<Churn> ChurnAsync(GatewayChild gateway, IEnumerable<IPAddress> sources)
    {
        int welcomed = 0, refused = 0, reset = 0;
        var delays = new System.Collections.Concurrent.ConcurrentBag<uint>();
        await Parallel.ForEachAsync(sources, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (source, _) =>
        {
            await using var client = await RawClient.ConnectAsync(gateway.Tcp, source);
            try
            {
                await client.SendAsync(new ChatWire.Protocol.Frames.Hello(1, ChatWire.Protocol.ProtocolLimits.CurrentVersion, "churn", []));
                var frame = await client.ReadFrameAsync();
                if (frame is { Header.OpcodeValue: (uint)ChatWire.Protocol.Opcode.Welcome })
                {
                    Interlocked.Increment(ref welcomed);
                }
                else if (frame is { Header.OpcodeValue: (uint)ChatWire.Protocol.Opcode.Error } error)
                {
                    var refusal = ChatWire.Protocol.FrameCodec.Decode<ChatWire.Protocol.Frames.ErrorFrame>(new System.Buffers.ReadOnlySequence<byte>(error.Body), ChatWire.Protocol.ProtocolLimits.Default);
                    Assert.Equal(ChatWire.Protocol.ErrorCode.TooManyConnections, refusal.Code);
                    delays.Add(refusal.RetryAfterMs);
                    Interlocked.Increment(ref refused);
                }
                else
                {
                    Interlocked.Increment(ref reset);
                }
            }
            catch (IOException)
            {
                // Refused and closed before our HELLO arrived: the kernel answered it with a reset.
                Interlocked.Increment(ref reset);
            }
        });
        return new Churn(welcomed, refused, reset, delays);
    }

    private static async Task<bool> ClosedByServerWithinAsync(Socket socket)
    {
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var buffer = new byte[512];
        try
        {
            while (true)
            {
                // A refused protocol connection gets an ERROR first, an HTTP one a 503: read past them.
                if (await socket.ReceiveAsync(buffer, SocketFlags.None, wait.Token) == 0)
                {
                    return true;
                }
            }
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static async Task<JsonElement> WaitForHealthAsync(GatewayChild gateway)
    {
        // Generous: the whole suite runs beside this child on two cores; a slot that is never given back still
        // fails the test (with the child's output), it just takes longer to say so.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            try
            {
                var response = await gateway.ManagementClient.GetAsync("health", timeout.Token);
                if (response.IsSuccessStatusCode)
                {
                    return await response.Content.ReadFromJsonAsync<JsonElement>(timeout.Token);
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100, timeout.Token);
        }
    }
}
