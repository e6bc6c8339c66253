using ChatWire.Cli;
using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// docs/cli.md: teams, channels and devices named by name or id, resolved against what the real server lists.
// Alice is in two teams named "Acme" (her own, then Bob's) and in Bob's "Beta", which also has "ops".
public sealed class NameResolutionTests : IClassFixture<ServerFixture>, IAsyncLifetime, IDisposable
{
    private readonly TestServer _server;
    private readonly CliHarness _cli;
    private TestUser _alice = null!;
    private Guid _acme1;
    private Guid _acme2;
    private Guid _beta;
    private Guid _generalAcme1;
    private Guid _generalAcme2;
    private Guid _generalBeta;
    private Guid _opsBeta;

    public NameResolutionTests(ServerFixture fixture)
    {
        _server = fixture.Server;
        _cli = new CliHarness(_server);
    }

    public async Task InitializeAsync()
    {
        _alice = await _server.SignupAsync();
        var bob = await _server.SignupAsync();
        (_acme1, _generalAcme1) = await _alice.CreateTeamAsync("Acme");
        (_acme2, _generalAcme2) = await bob.CreateTeamAsync("Acme");
        (_beta, _generalBeta) = await bob.CreateTeamAsync("Beta");
        _opsBeta = (await bob.CallAsync(HttpMethod.Post, $"v1/teams/{_beta}/channels", new { name = "ops" })).GetProperty("conversation_id").GetGuid();
        await _alice.JoinAsync(await bob.InviteAsync(_acme2));
        await _alice.JoinAsync(await bob.InviteAsync(_beta));
        _cli.LogIn(_alice);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task TeamName_Unique_ResolvesToItsId()
    {
        var result = await _cli.RunAsync("--json", "team", "mute", "Beta");

        Assert.Equal(CliApp.ExitOk, result.Exit);
        Assert.Equal(_beta, Assert.Single(result.JsonLines).GetProperty("team_id").GetGuid());
        Assert.Equal([_beta], await MutedTeamsAsync());
    }

    [Fact]
    public async Task TeamName_CaseInsensitiveWhenNoExactMatch()
    {
        var result = await _cli.RunAsync("--json", "team", "mute", "beta");

        Assert.Equal(CliApp.ExitOk, result.Exit);
        Assert.Equal([_beta], await MutedTeamsAsync());
    }

    [Fact]
    public async Task TeamId_IsUsedAsGiven_AndTheConfirmationNamesTheTeam()
    {
        var result = await _cli.RunAsync("team", "mute", _acme1.ToString());

        // One read of my teams, for the name the confirmation prints; the change itself goes to the id given.
        Assert.Equal(CliApp.ExitOk, result.Exit);
        Assert.Equal(["/v1/teams?limit=500", $"/v1/teams/{_acme1}/mute"], _cli.Http.Requests.Select(r => r.PathAndQuery));
        Assert.StartsWith("Muted Acme:", Assert.Single(result.Lines), StringComparison.Ordinal);
        Assert.Equal([_acme1], await MutedTeamsAsync());
    }

    [Fact]
    public async Task TeamName_Ambiguous_FailsWithValidationFailedListingCandidates()
    {
        var result = await _cli.RunAsync("--json", "team", "mute", "Acme");

        Assert.Equal(CliApp.ExitFailed, result.Exit);
        var error = Assert.Single(result.JsonLines).GetProperty("error");
        Assert.Equal(4007, error.GetProperty("code").GetInt32());
        Assert.Equal("VALIDATION_FAILED", error.GetProperty("name").GetString());
        var message = error.GetProperty("message").GetString()!;
        Assert.Contains(_acme1.ToString(), message, StringComparison.Ordinal);
        Assert.Contains(_acme2.ToString(), message, StringComparison.Ordinal);
        var listed = (await _alice.CallAsync(HttpMethod.Get, "v1/teams")).GetProperty("teams").EnumerateArray()
            .Where(team => team.GetProperty("name").GetString() == "Acme")
            .Select(team => team.GetProperty("team_id").GetGuid());
        Assert.Equal(new[] { _acme1, _acme2 }.Order(), listed.Order());
        Assert.Equal(listed, error.GetProperty("candidates").EnumerateArray().Select(candidate => candidate.GetProperty("id").GetGuid()));
        Assert.DoesNotContain(_cli.Http.Requests, request => request.Method == "PUT");
        Assert.Empty(await MutedTeamsAsync());
    }

    [Fact]
    public async Task TeamName_Ambiguous_HumanMessageOnStderr()
    {
        var result = await _cli.RunAsync("team", "mute", "Acme");

        Assert.Equal(CliApp.ExitFailed, result.Exit);
        Assert.Contains("ambiguous", result.Stderr, StringComparison.Ordinal);
        Assert.Contains(_acme2.ToString(), result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TeamName_Unknown_FailsWithNotFound()
    {
        var result = await _cli.RunAsync("--json", "team", "mute", "Nope");

        Assert.Equal(CliApp.ExitFailed, result.Exit);
        Assert.Equal(4002, Assert.Single(result.JsonLines).GetProperty("error").GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task ChannelName_InOneTeamOnly_Resolves()
    {
        var result = await _cli.RunAsync("--json", "channel", "join", "ops");

        Assert.Equal(CliApp.ExitOk, result.Exit);
        Assert.Equal(_opsBeta, Assert.Single(result.JsonLines).GetProperty("conversation_id").GetGuid());
        var channels = (await _alice.CallAsync(HttpMethod.Get, $"v1/teams/{_beta}/channels")).GetProperty("channels").EnumerateArray();
        Assert.True(channels.Single(channel => channel.GetProperty("conversation_id").GetGuid() == _opsBeta).GetProperty("member").GetBoolean());
    }

    [Fact]
    public async Task ChannelName_InSeveralTeams_IsAmbiguous_ListingEveryCandidateWithItsId()
    {
        var result = await _cli.RunAsync("--json", "channel", "join", "general");

        Assert.Equal(CliApp.ExitFailed, result.Exit);
        var error = Assert.Single(result.JsonLines).GetProperty("error");
        Assert.Equal(4007, error.GetProperty("code").GetInt32());
        var message = error.GetProperty("message").GetString()!;
        foreach (var general in new[] { _generalAcme1, _generalAcme2, _generalBeta })
        {
            Assert.Contains(general.ToString(), message, StringComparison.Ordinal);
        }

        Assert.Equal(
            new[] { _generalAcme1, _generalAcme2, _generalBeta }.Order(),
            error.GetProperty("candidates").EnumerateArray().Select(candidate => candidate.GetProperty("id").GetGuid()).Order());
        Assert.DoesNotContain(_cli.Http.Requests, request => request.PathAndQuery.EndsWith("/join", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ChannelName_QualifiedByTeam_Resolves()
    {
        var result = await _cli.RunAsync("--json", "channel", "join", "Beta/#general");

        Assert.Equal(CliApp.ExitOk, result.Exit);
        Assert.Equal(_generalBeta, Assert.Single(result.JsonLines).GetProperty("conversation_id").GetGuid());
    }

    [Fact]
    public async Task ChannelName_QualifiedByAmbiguousTeam_IsAmbiguous()
    {
        var result = await _cli.RunAsync("--json", "channel", "join", "Acme/general");

        Assert.Equal(CliApp.ExitFailed, result.Exit);
        Assert.Equal(4007, Assert.Single(result.JsonLines).GetProperty("error").GetProperty("code").GetInt32());
    }

    [Fact]
    public async Task ChannelName_Unknown_FailsWithNotFound()
    {
        var result = await _cli.RunAsync("--json", "channel", "join", "random");

        Assert.Equal(CliApp.ExitFailed, result.Exit);
        Assert.Equal("NOT_FOUND", Assert.Single(result.JsonLines).GetProperty("error").GetProperty("name").GetString());
    }

    [Fact]
    public async Task ConversationName_AmbiguousForSend_FailsBeforeConnecting()
    {
        var hellos = await _server.ReadMetricAsync("chatwire_frames_received_total", "opcode=\"HELLO\"");

        var result = await _cli.RunAsync("--json", "send", "general", "hello");

        Assert.Equal(CliApp.ExitFailed, result.Exit);
        Assert.Equal(4007, Assert.Single(result.JsonLines).GetProperty("error").GetProperty("code").GetInt32());
        Assert.DoesNotContain(_cli.Http.Requests, request => request.PathAndQuery == "/v1/server-info");
        Assert.Equal(hellos, await _server.ReadMetricAsync("chatwire_frames_received_total", "opcode=\"HELLO\""));
    }

    [Fact]
    public async Task SessionRevoke_ByDeviceName_Ambiguous_ListsDevices()
    {
        var laptop1 = await _server.LoginAsync(_alice, "laptop");
        var laptop2 = await _server.LoginAsync(_alice, "laptop");

        var result = await _cli.RunAsync("--json", "sessions", "revoke", "laptop");

        Assert.Equal(CliApp.ExitFailed, result.Exit);
        var message = Assert.Single(result.JsonLines).GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains(laptop1.DeviceId.ToString(), message, StringComparison.Ordinal);
        Assert.Contains(laptop2.DeviceId.ToString(), message, StringComparison.Ordinal);
        Assert.DoesNotContain(_cli.Http.Requests, request => request.Method == "DELETE");
        Assert.Equal(3, (await _alice.CallAsync(HttpMethod.Get, "v1/sessions")).GetProperty("sessions").GetArrayLength());
    }

    [Fact]
    public async Task SessionRevoke_ByUniqueDeviceName_RevokesThatDevice()
    {
        var phone = await _server.LoginAsync(_alice, "phone");

        var result = await _cli.RunAsync("--json", "sessions", "revoke", "phone");

        Assert.Equal(CliApp.ExitOk, result.Exit);
        Assert.Equal(phone.DeviceId, Assert.Single(result.JsonLines).GetProperty("device_id").GetGuid());
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await phone.SendAsync(HttpMethod.Get, "v1/me")).StatusCode);
        Assert.Equal(_alice.DeviceId, Assert.Single((await _alice.CallAsync(HttpMethod.Get, "v1/sessions")).GetProperty("sessions").EnumerateArray()).GetProperty("device_id").GetGuid());
    }

    private async Task<List<Guid>> MutedTeamsAsync() =>
        (await _alice.CallAsync(HttpMethod.Get, "v1/teams")).GetProperty("teams").EnumerateArray()
            .Where(team => team.GetProperty("muted").GetBoolean())
            .Select(team => team.GetProperty("team_id").GetGuid())
            .ToList();
}
