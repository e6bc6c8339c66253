using ChatWire.Cli;
using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// The CLI's transports: --transport, Noise by default where the server offers it, the profile's pins, the warning
// when a server's key changed and the ways to accept it.
public sealed class CliNoiseTests : IClassFixture<ServerFixture>, IDisposable
{
    private readonly TestServer _server;
    private readonly CliHarness _cli;

    public CliNoiseTests(ServerFixture fixture)
    {
        _server = fixture.Server;
        _cli = new CliHarness(_server);
    }

    private string Endpoint => NoiseKeys.PinName("127.0.0.1", _server.NoiseEndPoint.Port);

    private string ServerKey => NoiseKeys.ToHex(_server.NoisePublicKey);

    public void Dispose() => _cli.Dispose();

    [Theory]
    [InlineData("quic")]
    [InlineData("NOISE")]
    public async Task Transport_UnknownValue_IsAUsageError(string value)
    {
        _cli.LogInOffline();

        var result = await _cli.RunAsync("--transport", value, "whoami");

        Assert.Equal(CliApp.ExitUsage, result.Exit);
        Assert.Contains("--transport must be noise, tls or tcp", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Transport_NoiseKeyNotHex_IsAUsageError()
    {
        var crew = await Crew.CreateAsync(_server);
        _cli.LogIn(crew.Alice);

        var result = await _cli.RunAsync("--noise-key", "abc", "status", "online");

        Assert.Equal(CliApp.ExitUsage, result.Exit);
        Assert.Contains("--noise-key must be the server's Noise key", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_ByDefaultOverNoise_PinsTheKeyInTheProfile_ServerKeyShowsIt_TcpStillSelectable()
    {
        var crew = await Crew.CreateAsync(_server);
        _cli.LogIn(crew.Alice);

        var sent = await _cli.RunAsync("send", crew.GeneralId.ToString(), "over noise");
        var pins = _cli.Profiles.Load(ProfileStore.DefaultProfile)!.NoisePins;
        var shown = await _cli.RunAsync("--json", "server-key");
        var overTcp = await _cli.RunAsync("--transport", "tcp", "send", crew.GeneralId.ToString(), "over tcp");

        Assert.Equal(CliApp.ExitOk, sent.Exit);
        Assert.Equal(ServerKey, Assert.Contains(Endpoint, pins!));
        Assert.Equal(CliApp.ExitOk, shown.Exit);
        var line = Assert.Single(shown.JsonLines);
        Assert.Equal((Endpoint, "noise", "IK", ServerKey), (line.GetProperty("endpoint").GetString(), line.GetProperty("transport").GetString(), line.GetProperty("pattern").GetString(), line.GetProperty("key").GetString()));
        Assert.Equal(CliApp.ExitOk, overTcp.Exit);
        var history = await _cli.RunAsync("history", crew.GeneralId.ToString());
        Assert.Contains("over noise", history.Stdout, StringComparison.Ordinal);
        Assert.Contains("over tcp", history.Stdout, StringComparison.Ordinal);
    }

    // The profile's pin differs from what the server proves, as after a reinstall or under an impostor.
    [Fact]
    public async Task Send_PinnedKeyChanged_WarnsLoudlyAndRefuses_UntilAcceptedOrGivenExplicitly()
    {
        var crew = await Crew.CreateAsync(_server);
        _cli.LogIn(crew.Alice);
        var old = new string('a', 64);
        var profile = _cli.Profiles.Load(ProfileStore.DefaultProfile)!;
        _cli.Profiles.Save(ProfileStore.DefaultProfile, profile with { NoisePins = new Dictionary<string, string> { [Endpoint] = old } });

        var refused = await _cli.RunAsync("send", crew.GeneralId.ToString(), "must not go");
        var refusedJson = await _cli.RunAsync("--json", "status", "online");
        var pinAfterRefusal = _cli.Profiles.Load(ProfileStore.DefaultProfile)!.NoisePins![Endpoint];
        var wrongExplicit = await _cli.RunAsync("--noise-key", old, "status", "online");
        var accepted = await _cli.RunAsync("server-key", "--accept-new-server-key");
        var pinAfterAccepting = _cli.Profiles.Load(ProfileStore.DefaultProfile)!.NoisePins![Endpoint];
        var afterwards = await _cli.RunAsync("send", crew.GeneralId.ToString(), "now it may");

        Assert.Equal(CliApp.ExitFailed, refused.Exit);
        Assert.Contains("WARNING: THE CHATWIRE SERVER'S NOISE KEY HAS CHANGED!", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains($"trusted key:   {old}", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains($"presented key: {ServerKey}", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("chatwire --profile default server-key --accept-new-server-key", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("(SERVER_KEY_CHANGED)", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(CliApp.ExitFailed, refusedJson.Exit);
        var error = Assert.Single(refusedJson.JsonLines).GetProperty("error");
        Assert.Equal(("SERVER_KEY_CHANGED", old, ServerKey), (error.GetProperty("name").GetString(), error.GetProperty("trusted_key").GetString(), error.GetProperty("presented_key").GetString()));
        Assert.Contains("WARNING", refusedJson.Stderr, StringComparison.Ordinal);
        Assert.Equal(old, pinAfterRefusal);
        Assert.Equal(CliApp.ExitFailed, wrongExplicit.Exit);
        Assert.Contains("the key given with --noise-key", wrongExplicit.Stderr, StringComparison.Ordinal);
        Assert.Equal(CliApp.ExitOk, accepted.Exit);
        Assert.Equal(ServerKey, pinAfterAccepting);
        Assert.Equal(CliApp.ExitOk, afterwards.Exit);
        var history = await _cli.RunAsync("history", crew.GeneralId.ToString());
        Assert.DoesNotContain("must not go", history.Stdout, StringComparison.Ordinal);
        Assert.Contains("now it may", history.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServerKey_ExplicitNoiseKey_PinsIt_AndLoginKeepsThePins()
    {
        var crew = await Crew.CreateAsync(_server);
        _cli.LogIn(crew.Alice);

        var given = await _cli.RunAsync("--json", "--noise-key", ServerKey.ToUpperInvariant(), "server-key");
        var login = await _cli.RunWithStdinAsync(crew.Alice.Password + "\n", "login", "--user", crew.Alice.Username, "--password-stdin");

        Assert.Equal(CliApp.ExitOk, given.Exit);
        Assert.Equal("IK", Assert.Single(given.JsonLines).GetProperty("pattern").GetString());
        Assert.Equal(CliApp.ExitOk, login.Exit);
        Assert.Equal(ServerKey, _cli.Profiles.Load(ProfileStore.DefaultProfile)!.NoisePins![Endpoint]);
    }

    // listen over Noise across two restarts on the same data directory (same key): it reconnects each time, prints
    // what is sent, and Ctrl+C still ends it with exit 0.
    [Fact]
    public async Task Listen_OverNoise_ReconnectsAcrossRestarts_AndStopsCleanly()
    {
        var dataDirectory = TestServer.NewDataDirectory();
        var ports = TestServer.FixedPortOverrides();
        using var stop = new CancellationTokenSource();
        var stdout = new LineWriter();
        var stderr = new StringWriter();
        Task<int>? running = null;
        TestServer? server = null;
        try
        {
            server = await TestServer.StartAsync(ports, dataDirectory);
            using var cli = new CliHarness(server);
            var crew = await Crew.CreateAsync(server);
            cli.LogIn(crew.Bob);
            running = CliApp.RunAsync(["--json", "listen"], cli.Context(string.Empty, stdout, stderr), stop.Token);
            Assert.Equal("""{"type":"ready"}""", await stdout.NextLineAsync());
            for (var restart = 1; restart <= 2; restart++)
            {
                await server.DisposeAsync();
                server = await TestServer.StartAsync(ports, dataDirectory);
                await using var sender = await Sdk.ConnectAsync(crew.Alice with { Server = server }, ReconnectPolicy.Disabled);
                await sender.SendTextAsync(crew.GeneralId, $"after restart {restart}").WaitAsync(Patience.Default);
                string? text = null;
                while (text is null)
                {
                    var line = System.Text.Json.JsonDocument.Parse(await stdout.NextLineAsync()).RootElement;
                    text = line.GetProperty("type").GetString() == "message" ? line.GetProperty("text").GetString() : null;
                }

                Assert.Equal($"after restart {restart}", text);
            }

            await stop.CancelAsync();
            Assert.True(await running.WaitAsync(Patience.Default) == CliApp.ExitOk, stderr.ToString());
            Assert.Equal(NoiseKeys.ToHex(server.NoisePublicKey), cli.Profiles.Load(ProfileStore.DefaultProfile)!.NoisePins![NoiseKeys.PinName("127.0.0.1", server.NoiseEndPoint.Port)]);
        }
        finally
        {
            await stop.CancelAsync();
            if (running is not null)
            {
                await Record.ExceptionAsync(() => running.WaitAsync(Patience.Default));
            }

            if (server is not null)
            {
                await server.DisposeAsync();
            }

            TestServer.DeleteDirectory(dataDirectory);
        }
    }
}
