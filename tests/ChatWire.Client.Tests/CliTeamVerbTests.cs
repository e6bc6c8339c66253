using ChatWire.Cli;
using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// Channel leave/add/members, team invites/revoke/promote/demote and password, against the real gateway.
public sealed class CliTeamVerbTests : IClassFixture<ServerFixture>, IDisposable
{
    private readonly TestServer _server;
    private readonly CliHarness _cli;

    public CliTeamVerbTests(ServerFixture fixture)
    {
        _server = fixture.Server;
        _cli = new CliHarness(_server);
    }

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Channel_AddByUsername_Members_Leave_AndGeneralCannotBeLeft()
    {
        var crew = await Crew.CreateAsync(_server, "Ops");
        _cli.LogIn(crew.Alice);
        _cli.LogIn(crew.Bob, "bob");
        await Ok("--json", "channel", "create", "Ops", "plans", "--private");

        await Ok("channel", "add", "plans", crew.Bob.Username);
        var members = await Ok("--json", "channel", "members", "plans");
        var left = await Ok("--json", "--profile", "bob", "channel", "leave", "plans");
        var afterLeave = await Ok("--json", "channel", "members", "plans");
        var general = await _cli.RunAsync("--json", "--profile", "bob", "channel", "leave", "general");

        Assert.Equal(new HashSet<string?> { crew.Alice.Username, crew.Bob.Username }, members.JsonLines.Select(l => l.GetProperty("username").GetString()).ToHashSet());
        Assert.True(Assert.Single(left.JsonLines).GetProperty("left").GetBoolean());
        Assert.Equal(crew.Alice.UserId, Assert.Single(afterLeave.JsonLines).GetProperty("user_id").GetGuid());
        Assert.Equal(CliApp.ExitFailed, general.Exit);
        Assert.Equal("FORBIDDEN", Assert.Single(general.JsonLines).GetProperty("error").GetProperty("name").GetString());

        // Bob's devices learned of the leave as an event in the channel; he cannot read it any more.
        var history = await _cli.RunAsync("--json", "history", "plans");
        Assert.Equal("member_left", history.JsonLines[^1].GetProperty("type").GetString());
        Assert.Equal(crew.Bob.UserId, history.JsonLines[^1].GetProperty("user_id").GetGuid());
    }

    [Fact]
    public async Task Team_InvitesRevokePromoteDemote()
    {
        var crew = await Crew.CreateAsync(_server, "Guild");
        _cli.LogIn(crew.Alice);
        _cli.LogIn(crew.Bob, "bob");
        var invite = Assert.Single((await Ok("--json", "team", "invite", "Guild")).JsonLines).GetProperty("invite_id").GetString()!;

        var before = await Ok("--json", "team", "invites", "Guild");
        await Ok("team", "invite", "revoke", "Guild", invite);
        var after = await Ok("--json", "team", "invites", "Guild");
        var bobCannotInvite = await _cli.RunAsync("--json", "--profile", "bob", "team", "invite", "Guild");
        var promoted = await Ok("team", "promote", "Guild", crew.Bob.Username);
        await Ok("--profile", "bob", "team", "invite", "Guild");
        await Ok("team", "demote", "Guild", crew.Bob.Username);
        var bobAgain = await _cli.RunAsync("--json", "--profile", "bob", "team", "invite", "Guild");

        Assert.Contains(before.JsonLines, l => l.GetProperty("invite_id").GetString() == invite && !l.GetProperty("revoked").GetBoolean());
        Assert.Contains(after.JsonLines, l => l.GetProperty("invite_id").GetString() == invite && l.GetProperty("revoked").GetBoolean());
        Assert.Equal(CliApp.ExitFailed, bobCannotInvite.Exit);
        Assert.Equal($"{crew.Bob.Username} is now an admin of Guild.", Assert.Single(promoted.Lines));
        Assert.Equal(CliApp.ExitFailed, bobAgain.Exit);
    }

    [Fact]
    public async Task Channel_RenameArchiveUnarchive_AndTeamTransfer()
    {
        var crew = await Crew.CreateAsync(_server, "Studio");
        _cli.LogIn(crew.Alice);
        await Ok("channel", "create", "Studio", "drafts");

        await Ok("channel", "rename", "drafts", "final");
        var archived = Assert.Single((await Ok("--json", "channel", "archive", "final")).JsonLines);
        var refused = await _cli.RunAsync("--json", "send", "final", "too late");
        var listed = await Ok("channels", "Studio");
        await Ok("channel", "unarchive", "final");
        await Ok("send", "final", "back again");
        var transferred = await Ok("team", "transfer", "Studio", crew.Bob.Username);
        var teams = await Ok("--json", "teams");

        Assert.True(archived.GetProperty("archived").GetBoolean());
        Assert.Equal("FORBIDDEN", Assert.Single(refused.JsonLines).GetProperty("error").GetProperty("name").GetString());
        Assert.Contains(listed.Lines, l => l.Contains("final", StringComparison.Ordinal) && l.EndsWith("(archived)", StringComparison.Ordinal));
        Assert.Equal($"{crew.Bob.Username} now owns Studio; you are an admin.", Assert.Single(transferred.Lines));
        Assert.Equal("admin", teams.JsonLines.Single(t => t.GetProperty("team_id").GetGuid() == crew.TeamId).GetProperty("role").GetString());
    }

    [Fact]
    public async Task Channel_SlowModeAndTopic()
    {
        var crew = await Crew.CreateAsync(_server, "Atelier");
        _cli.LogIn(crew.Alice);
        _cli.LogIn(crew.Bob, "bob");

        var set = Assert.Single((await Ok("--json", "channel", "slow-mode", "general", "300")).JsonLines);
        var listed = Assert.Single((await Ok("--json", "channels", "Atelier")).JsonLines, c => c.GetProperty("name").GetString() == "general");
        await Ok("--profile", "bob", "send", "general", "first");
        var second = await _cli.RunAsync("--json", "--profile", "bob", "send", "general", "second");
        var off = await Ok("channel", "slow-mode", "general", "0");
        var notANumber = await _cli.RunAsync("channel", "slow-mode", "general", "soon");
        var tooLong = await _cli.RunAsync("channel", "slow-mode", "general", "21601");
        var topic = Assert.Single((await Ok("--json", "channel", "topic", "general", "Say", "hello")).JsonLines);
        var noTopic = await Ok("channel", "topic", "general");

        Assert.Equal(300, set.GetProperty("slow_mode_seconds").GetInt32());
        Assert.Equal(300, listed.GetProperty("slow_mode_seconds").GetInt32());
        Assert.Equal(CliApp.ExitFailed, second.Exit);
        Assert.Equal("RATE_LIMITED", Assert.Single(second.JsonLines).GetProperty("error").GetProperty("name").GetString());
        Assert.Equal("Slow mode is off in general.", Assert.Single(off.Lines));
        Assert.Equal((CliApp.ExitUsage, CliApp.ExitUsage), (notANumber.Exit, tooLong.Exit));
        Assert.Equal("Say hello", topic.GetProperty("topic").GetString());
        Assert.Equal("general has no topic now.", Assert.Single(noTopic.Lines));
    }

    [Fact]
    public async Task Password_FromStdin_ChangesIt_AndTheOldOneStopsWorking()
    {
        var alice = await _server.SignupAsync();
        _cli.LogIn(alice);

        var changed = await _cli.RunWithStdinAsync($"{alice.Password}\nan entirely new passphrase\n", "--json", "password", "--password-stdin");
        var oneLine = await _cli.RunWithStdinAsync("only one line\n", "password", "--password-stdin");
        using var api = new ChatWireApiClient(_server.ApiBaseAddress);
        var old = await Assert.ThrowsAsync<ChatWireException>(() => api.LoginAsync(new LoginRequest(alice.Username, alice.Password)));
        var fresh = await api.LoginAsync(new LoginRequest(alice.Username, "an entirely new passphrase"));

        Assert.Equal(CliApp.ExitOk, changed.Exit);
        Assert.Equal(CliApp.ExitUsage, oneLine.Exit);
        Assert.Equal("INVALID_CREDENTIALS", old.Name);
        Assert.Equal(alice.UserId, fresh.UserId);
    }

    private async Task<CliResult> Ok(params string[] args)
    {
        var result = await _cli.RunAsync(args);
        Assert.True(result.Exit == CliApp.ExitOk, $"chatwire {string.Join(' ', args)} exited {result.Exit}: {result.Stdout} {result.Stderr}");
        return result;
    }
}
