using System.Net.Sockets;
using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// ChatWireConnectionOptions.RetryFirstConnect: an app started while its server is down connects once the server is
// back; what retrying cannot cure is still thrown at once.
public sealed class FirstConnectRetryTests
{
    [Fact]
    public async Task ServerDownAtFirst_ConnectAsyncKeepsTrying_AndConnectsOnceTheServerIsBack()
    {
        var dataDirectory = TestServer.NewDataDirectory();
        var ports = TestServer.FixedPortOverrides();
        try
        {
            Crew crew;
            ChatWireConnectionOptions options;
            await using (var first = await TestServer.StartAsync(ports, dataDirectory))
            {
                crew = await Crew.CreateAsync(first);
                options = Sdk.Options(crew.Bob) with { RetryFirstConnect = true };
            }

            // Without the option, the first failure is thrown.
            await Assert.ThrowsAnyAsync<SocketException>(() => ChatWireConnection.ConnectAsync(options with { RetryFirstConnect = false }).WaitAsync(Patience.Default));

            var connecting = ChatWireConnection.ConnectAsync(options);
            await Task.Delay(500);
            Assert.False(connecting.IsCompleted);

            await using var second = await TestServer.StartAsync(ports, dataDirectory);
            await using var bob = await connecting.WaitAsync(Patience.Default);
            var sent = await bob.SendTextAsync(crew.GeneralId, "made it").WaitAsync(Patience.Default);
            Assert.Equal(ConnectionState.Connected, bob.State);
            Assert.True(sent.Seq > 0);
        }
        finally
        {
            TestServer.DeleteDirectory(dataDirectory);
        }
    }

    [Fact]
    public async Task ServerDown_TheReconnectPolicysAttemptsRunOut_TheLastFailureIsThrown()
    {
        var ports = TestServer.FixedPortOverrides();
        var port = int.Parse(ports["Gateway:TcpEndpoint"]!.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
        var options = new ChatWireConnectionOptions
        {
            Host = "127.0.0.1",
            Port = port,
            SessionToken = "token",
            DeviceId = Guid.CreateVersion7(),
            RetryFirstConnect = true,
            Reconnect = Sdk.FastReconnect with { MaxAttempts = 3 },
        };

        await Assert.ThrowsAnyAsync<SocketException>(() => ChatWireConnection.ConnectAsync(options).WaitAsync(Patience.Default));
    }

    [Fact]
    public async Task ServerDown_Cancelled_StopsTrying()
    {
        var ports = TestServer.FixedPortOverrides();
        var port = int.Parse(ports["Gateway:TcpEndpoint"]!.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
        var options = new ChatWireConnectionOptions { Host = "127.0.0.1", Port = port, SessionToken = "token", DeviceId = Guid.CreateVersion7(), RetryFirstConnect = true, Reconnect = Sdk.FastReconnect };
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ChatWireConnection.ConnectAsync(options, cancel.Token).WaitAsync(Patience.Default));
    }

    [Fact]
    public async Task RateLimitedAuth_CarriesTheServersDelay_AndTheRetryWaitsForIt()
    {
        // One refused token a minute from this address: the next AUTH, valid or not, is refused for about 60 s.
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Limits:RefusedTokensPerMinutePerAddress"] = "1" });
        var user = await server.SignupAsync();
        var options = Sdk.Options(user) with { Reconnect = ReconnectPolicy.Disabled };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var wrong = await Assert.ThrowsAsync<ChatWireException>(() => ChatWireConnection.ConnectAsync(options with { SessionToken = new string('A', 43) }).WaitAsync(Patience.Default));

        var limited = await Assert.ThrowsAsync<ChatWireException>(() => ChatWireConnection.ConnectAsync(options).WaitAsync(Patience.Default));
        var sinceTheRefusedToken = clock.Elapsed;

        // Retrying with a policy of 20-200 ms would try again at once; told to wait about a minute, it makes no second attempt.
        using var cancel = new CancellationTokenSource();
        var retrying = ChatWireConnection.ConnectAsync(options with { RetryFirstConnect = true, Reconnect = Sdk.FastReconnect }, cancel.Token);
        await server.WaitForMetricAsync("chatwire_errors_total", "name=\"RATE_LIMITED\",transport=\"tcp\"", n => n >= 2);
        await Task.Delay(1_000);
        var attempts = await server.ReadMetricAsync("chatwire_errors_total", "name=\"RATE_LIMITED\",transport=\"tcp\"");
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => retrying.WaitAsync(Patience.Default));

        Assert.Equal(ErrorCode.InvalidToken, wrong.Code);
        Assert.Equal(ErrorCode.RateLimited, limited.Code);
        // A minute from when the refused token was charged, which was at most sinceTheRefusedToken before the refusal.
        Assert.InRange(limited.RetryAfter!.Value, TimeSpan.FromSeconds(59) - sinceTheRefusedToken, TimeSpan.FromSeconds(60));
        Assert.Equal(2, attempts);
    }

    [Fact]
    public async Task RefusedToken_IsThrownAtOnce_NotRetried()
    {
        await using var server = await TestServer.StartAsync();
        var user = await server.SignupAsync();
        var options = Sdk.Options(user) with { DeviceId = Guid.CreateVersion7(), RetryFirstConnect = true };

        var ex = await Assert.ThrowsAsync<ChatWireException>(() => ChatWireConnection.ConnectAsync(options).WaitAsync(Patience.Default));

        Assert.Equal(ErrorCode.InvalidToken, ex.Code);
    }
}
