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
