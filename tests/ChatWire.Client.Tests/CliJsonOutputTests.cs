using System.Text.Json;
using ChatWire.Cli;
using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// docs/cli.md: --json keys are a contract. These pin the key names of each verb's output, run against the
// real gateway, and check that what the verb printed is what the server now holds.
public sealed class CliJsonOutputTests : IClassFixture<ServerFixture>, IDisposable
{
    private readonly TestServer _server;
    private readonly CliHarness _cli;

    public CliJsonOutputTests(ServerFixture fixture)
    {
        _server = fixture.Server;
        _cli = new CliHarness(_server);
    }

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Signup_Json_PrintsIdentity_AndStoresProfileWith0600()
    {
        var username = "u" + Guid.NewGuid().ToString("N")[..12];

        var result = await _cli.RunWithStdinAsync("correct horse\n", "--json", "--profile", "p1", "signup", "--server", _server.ApiUrl, "--user", username, "--password-stdin", "--display-name", "Alice");

        Assert.Equal(CliApp.ExitOk, result.Exit);
        var line = Assert.Single(result.JsonLines);
        Assert.Equal(["user_id", "username", "display_name", "device_id", "server", "profile", "e2e"], CliResult.Keys(line));
        Assert.True(line.GetProperty("e2e").GetProperty("approved").GetBoolean());
        Assert.Equal((username, "Alice", _server.ApiUrl, "p1"), (line.GetProperty("username").GetString(), line.GetProperty("display_name").GetString(), line.GetProperty("server").GetString(), line.GetProperty("profile").GetString()));
        var profile = _cli.Profiles.Load("p1")!;
        Assert.Equal((line.GetProperty("user_id").GetGuid(), line.GetProperty("device_id").GetGuid()), (profile.UserId!.Value, profile.DeviceId!.Value));
        Assert.Equal((_server.ApiUrl, username), (profile.Server, profile.Username));
        Assert.DoesNotContain(profile.SessionToken!, result.Stdout, StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_cli.Profiles.PathFor("p1")));
        }

        // The stored token is the new device's session, and the password read from stdin is the account's.
        using var api = new ChatWireApiClient(_server.ApiBaseAddress) { SessionToken = profile.SessionToken };
        var me = await api.GetMeAsync();
        Assert.Equal((profile.UserId!.Value, profile.DeviceId!.Value), (me.UserId, me.DeviceId));
        Assert.Equal(profile.UserId, (await api.LoginAsync(new LoginRequest(username, "correct horse"))).UserId);
    }

    [Fact]
    public async Task Login_ReusesTheProfileServer_AndSendsTokenAfterwards()
    {
        var user = await _server.SignupAsync();
        _cli.Profiles.Save("default", new CliProfile(_server.ApiUrl, null, user.Username, null, null));

        var login = await _cli.RunWithStdinAsync(user.Password + "\n", "login", "--user", user.Username, "--password-stdin");
        var whoami = await _cli.RunAsync("--json", "whoami");

        Assert.Equal(CliApp.ExitOk, login.Exit);
        Assert.Equal(CliApp.ExitOk, whoami.Exit);
        var profile = _cli.Profiles.Load("default")!;
        Assert.Equal(user.UserId, profile.UserId);
        Assert.NotEqual(user.DeviceId, profile.DeviceId);
        var me = Assert.Single(whoami.JsonLines);
        Assert.Equal(["user_id", "username", "display_name", "device_id", "server"], CliResult.Keys(me));
        Assert.Equal((user.UserId, profile.DeviceId!.Value), (me.GetProperty("user_id").GetGuid(), me.GetProperty("device_id").GetGuid()));
        Assert.Equal($"Bearer {profile.SessionToken}", _cli.Http.Requests[^1].Authorization);
    }

    [Fact]
    public async Task Login_WrongPassword_PrintsInvalidCredentialsAndExitsOne()
    {
        var user = await _server.SignupAsync();

        var result = await _cli.RunWithStdinAsync("not the password\n", "--json", "login", "--server", _server.ApiUrl, "--user", user.Username, "--password-stdin");

        Assert.Equal(CliApp.ExitFailed, result.Exit);
        var error = Assert.Single(result.JsonLines).GetProperty("error");
        Assert.Equal((2006, "INVALID_CREDENTIALS"), (error.GetProperty("code").GetInt32(), error.GetProperty("name").GetString()));
        Assert.Null(_cli.Profiles.Load("default"));
    }

    [Fact]
    public async Task TeamCreate_Json_PrintsTeamIdAndAnInviteCodeThatWorks()
    {
        var alice = await _server.SignupAsync();
        var bob = await _server.SignupAsync();
        _cli.LogIn(alice);

        var result = await _cli.RunAsync("--json", "team", "create", "Acme");

        Assert.Equal(CliApp.ExitOk, result.Exit);
        var line = Assert.Single(result.JsonLines);
        Assert.Equal(["team_id", "name", "role", "general_channel_id", "invite_code", "invite_id", "expires_at"], CliResult.Keys(line));
        Assert.Equal(("Acme", "owner"), (line.GetProperty("name").GetString(), line.GetProperty("role").GetString()));
        Assert.Equal($"Bearer {alice.Token}", _cli.Http.Requests[0].Authorization);
        await bob.JoinAsync(line.GetProperty("invite_code").GetString()!);
        var bobsTeam = Assert.Single((await bob.CallAsync(HttpMethod.Get, "v1/teams")).GetProperty("teams").EnumerateArray());
        Assert.Equal(line.GetProperty("team_id").GetGuid(), bobsTeam.GetProperty("team_id").GetGuid());
    }

    [Fact]
    public async Task TeamJoin_Json_PrintsTheTeamJoined()
    {
        var alice = await _server.SignupAsync();
        var bob = await _server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync("Acme");
        _cli.LogIn(bob);

        var result = await _cli.RunAsync("--json", "team", "join", await alice.InviteAsync(teamId));

        Assert.Equal(CliApp.ExitOk, result.Exit);
        var line = Assert.Single(result.JsonLines);
        Assert.Equal(["team_id", "name", "role", "muted"], CliResult.Keys(line));
        Assert.Equal((teamId, "Acme", "member"), (line.GetProperty("team_id").GetGuid(), line.GetProperty("name").GetString(), line.GetProperty("role").GetString()));
    }

    [Fact]
    public async Task Teams_Json_OneObjectPerTeam()
    {
        var alice = await _server.SignupAsync();
        var bob = await _server.SignupAsync();
        var (acme, _) = await alice.CreateTeamAsync("Acme");
        var (beta, _) = await bob.CreateTeamAsync("Beta");
        await alice.JoinAsync(await bob.InviteAsync(beta));
        await alice.CallAsync(HttpMethod.Put, $"v1/teams/{beta}/mute");
        _cli.LogIn(alice);

        var result = await _cli.RunAsync("--json", "teams");

        Assert.Equal(CliApp.ExitOk, result.Exit);
        Assert.All(result.JsonLines, line => Assert.Equal(["team_id", "name", "role", "muted"], CliResult.Keys(line)));
        Assert.Equal(
            [(acme, "Acme", "owner", false), (beta, "Beta", "member", true)],
            result.JsonLines.Select(line => (line.GetProperty("team_id").GetGuid(), line.GetProperty("name").GetString(), line.GetProperty("role").GetString(), line.GetProperty("muted").GetBoolean())));
    }

    [Fact]
    public async Task ChannelCreate_Json_PrintsConversationId_AndChannelsListsIt()
    {
        var alice = await _server.SignupAsync();
        var (teamId, generalId) = await alice.CreateTeamAsync("Acme");
        _cli.LogIn(alice);

        var created = await _cli.RunAsync("--json", "channel", "create", teamId.ToString(), "ops", "--private");
        var channels = await _cli.RunAsync("--json", "channels", "Acme");

        Assert.Equal(CliApp.ExitOk, created.Exit);
        var line = Assert.Single(created.JsonLines);
        Assert.Equal(["conversation_id", "team_id", "name", "type"], CliResult.Keys(line));
        Assert.Equal((teamId, "ops", "private"), (line.GetProperty("team_id").GetGuid(), line.GetProperty("name").GetString(), line.GetProperty("type").GetString()));
        Assert.Equal(CliApp.ExitOk, channels.Exit);
        Assert.All(channels.JsonLines, channel => Assert.Equal(["conversation_id", "team_id", "name", "type", "member", "archived", "slow_mode_seconds", "topic"], CliResult.Keys(channel)));
        Assert.Equal(
            [(generalId, "general", "public", true), (line.GetProperty("conversation_id").GetGuid(), "ops", "private", true)],
            channels.JsonLines.Select(channel => (channel.GetProperty("conversation_id").GetGuid(), channel.GetProperty("name").GetString(), channel.GetProperty("type").GetString(), channel.GetProperty("member").GetBoolean())));
    }

    [Fact]
    public async Task ChannelJoin_Json_JoinsAPublicChannel()
    {
        var alice = await _server.SignupAsync();
        var bob = await _server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync("Acme");
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        var ops = (await alice.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "ops" })).GetProperty("conversation_id").GetGuid();
        _cli.LogIn(bob);

        var result = await _cli.RunAsync("--json", "channel", "join", ops.ToString());

        Assert.Equal(CliApp.ExitOk, result.Exit);
        var line = Assert.Single(result.JsonLines);
        Assert.Equal(["conversation_id", "joined"], CliResult.Keys(line));
        var channels = (await bob.CallAsync(HttpMethod.Get, $"v1/teams/{teamId}/channels")).GetProperty("channels").EnumerateArray();
        Assert.True(channels.Single(channel => channel.GetProperty("conversation_id").GetGuid() == ops).GetProperty("member").GetBoolean());
    }

    [Fact]
    public async Task Dm_Json_PrintsConversationId_AndPassesUsersThrough()
    {
        var alice = await _server.SignupAsync();
        var bob = await _server.SignupAsync();
        var carol = await _server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        await carol.JoinAsync(await alice.InviteAsync(teamId));
        _cli.LogIn(alice);

        var result = await _cli.RunAsync("--json", "dm", bob.Username, carol.UserId.ToString());

        Assert.Equal(CliApp.ExitOk, result.Exit);
        var line = Assert.Single(result.JsonLines);
        Assert.Equal(["conversation_id", "type", "members"], CliResult.Keys(line));
        Assert.Equal("group", line.GetProperty("type").GetString());
        Assert.Equal(new[] { alice.UserId, bob.UserId, carol.UserId }.Order(), line.GetProperty("members").EnumerateArray().Select(member => member.GetGuid()).Order());
        using var body = JsonDocument.Parse(_cli.Http.Requests[0].Body!);
        Assert.Equal([bob.Username, carol.UserId.ToString()], body.RootElement.GetProperty("users").EnumerateArray().Select(user => user.GetString()));
        Assert.Equal(line.GetProperty("conversation_id").GetGuid(), await alice.OpenDmAsync(bob.Username, carol.Username));
    }

    [Fact]
    public async Task Members_Json_PrefixAndLimitApply()
    {
        var alice = await _server.SignupAsync(displayName: "Alice");
        var albert = await _server.SignupAsync(displayName: "Albert");
        var carol = await _server.SignupAsync(displayName: "Carol");
        var (teamId, _) = await alice.CreateTeamAsync("Acme");
        await albert.JoinAsync(await alice.InviteAsync(teamId));
        await carol.JoinAsync(await alice.InviteAsync(teamId));
        _cli.LogIn(alice);

        var prefixed = await _cli.RunAsync("--json", "members", "Acme", "--prefix", "al", "--limit", "3");
        var limited = await _cli.RunAsync("--json", "members", teamId.ToString(), "--limit", "1");

        Assert.Equal(CliApp.ExitOk, prefixed.Exit);
        Assert.All(prefixed.JsonLines, line => Assert.Equal(["user_id", "username", "display_name", "role"], CliResult.Keys(line)));
        Assert.Equal(["Albert", "Alice"], prefixed.JsonLines.Select(line => line.GetProperty("display_name").GetString()).Order(StringComparer.Ordinal));
        Assert.Single(limited.JsonLines);
    }

    [Fact]
    public async Task FailedCommand_Json_PrintsErrorObjectAndExitsOne()
    {
        var alice = await _server.SignupAsync();
        var bob = await _server.SignupAsync();
        var (bobsTeam, _) = await bob.CreateTeamAsync();
        _cli.LogIn(alice);

        var result = await _cli.RunAsync("--json", "team", "mute", bobsTeam.ToString());

        Assert.Equal(CliApp.ExitFailed, result.Exit);
        var line = Assert.Single(result.JsonLines);
        Assert.Equal(["error"], CliResult.Keys(line));
        var error = line.GetProperty("error");
        Assert.Equal(["code", "name", "message"], CliResult.Keys(error));
        Assert.Equal(4001, error.GetProperty("code").GetInt32());
        Assert.Equal("NOT_A_MEMBER", error.GetProperty("name").GetString());
        Assert.Equal("You are not a member of this team.", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task FailedCommand_Human_PrintsSentenceOnStderr()
    {
        var alice = await _server.SignupAsync();
        var bob = await _server.SignupAsync();
        var (bobsTeam, _) = await bob.CreateTeamAsync();
        _cli.LogIn(alice);

        var result = await _cli.RunAsync("team", "mute", bobsTeam.ToString());

        Assert.Equal(CliApp.ExitFailed, result.Exit);
        Assert.Equal(string.Empty, result.Stdout);
        Assert.Contains("You are not a member of this team.", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("NOT_A_MEMBER", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logout_EndsTheSessionOnTheServer_KeepsTheServerInTheProfile()
    {
        var user = await _server.SignupAsync();
        _cli.LogIn(user);

        var result = await _cli.RunAsync("--json", "logout");

        Assert.Equal(CliApp.ExitOk, result.Exit);
        var profile = _cli.Profiles.Load("default")!;
        Assert.Null(profile.SessionToken);
        Assert.Equal(_server.ApiUrl, profile.Server);
        Assert.Equal(user.Username, profile.Username);
        using var api = new ChatWireApiClient(_server.ApiBaseAddress) { SessionToken = user.Token };
        Assert.Equal(ErrorCode.SessionRevoked, (await Assert.ThrowsAsync<ChatWireException>(() => api.GetMeAsync())).Code);
    }

    [Fact]
    public void MessageJson_HasTheListenKeys_AndDecodesTextPlain()
    {
        var message = Messages.Text(Guid.CreateVersion7(), 42, "héllo <b>");

        var line = JsonDocument.Parse(CliOutput.JsonLine(CliOutput.EventJson(message))).RootElement;

        Assert.Equal(
            ["type", "conversation_id", "message_id", "seq", "sender", "sender_device", "text", "content_type", "sent_at"],
            CliResult.Keys(line));
        Assert.Equal("message", line.GetProperty("type").GetString());
        Assert.Equal(42UL, line.GetProperty("seq").GetUInt64());
        Assert.Equal("héllo <b>", line.GetProperty("text").GetString());
        Assert.Equal(Messages.SenderId.ToString(), line.GetProperty("sender").GetString());
        Assert.EndsWith("Z", line.GetProperty("sent_at").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void EventJson_MemberJoined_NamesTheMemberAndWhoAddedThem()
    {
        var member = Guid.CreateVersion7();
        var joined = Messages.Text(Guid.CreateVersion7(), 7) with { ContentType = string.Empty, Content = Array.Empty<byte>(), Kind = EventKind.MemberJoined, SubjectId = member };

        var line = JsonDocument.Parse(CliOutput.JsonLine(CliOutput.EventJson(joined))).RootElement;

        Assert.Equal(["type", "conversation_id", "message_id", "seq", "sender", "sender_device", "user_id", "sent_at"], CliResult.Keys(line));
        Assert.Equal("member_joined", line.GetProperty("type").GetString());
        Assert.Equal(member, line.GetProperty("user_id").GetGuid());
        Assert.Equal(Messages.SenderId, line.GetProperty("sender").GetGuid());
        Assert.Equal("member_left", JsonDocument.Parse(CliOutput.JsonLine(CliOutput.EventJson(joined with { Kind = EventKind.MemberLeft }))).RootElement.GetProperty("type").GetString());
    }

    [Fact]
    public void EventJson_ChannelUpdated_ListsWhatChangedAndTheSettingsAfter()
    {
        var content = new ChannelUpdate(ChannelChanges.Topic | ChannelChanges.SlowMode, "design", "Q3 launch", 30, 0).Encode();
        var updated = Messages.Text(Guid.CreateVersion7(), 9) with { ContentType = string.Empty, Content = content, Kind = EventKind.ChannelUpdated };
        using var api = new ChatWireApiClient(_server.ApiBaseAddress);

        var line = JsonDocument.Parse(CliOutput.JsonLine(CliOutput.EventJson(updated))).RootElement;
        var human = CliOutput.EventHuman(updated, new NameBook(api, Messages.SenderId), conversation: null);
        var unreadable = JsonDocument.Parse(CliOutput.JsonLine(CliOutput.EventJson(updated with { Content = new byte[] { 0x90 } }))).RootElement;

        Assert.Equal(
            ["type", "conversation_id", "message_id", "seq", "sender", "sender_device", "changed", "name", "topic", "slow_mode_seconds", "archived", "sent_at"],
            CliResult.Keys(line));
        Assert.Equal("channel_updated", line.GetProperty("type").GetString());
        Assert.Equal(["topic", "slow_mode_seconds"], line.GetProperty("changed").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal(("design", "Q3 launch", 30, false), (line.GetProperty("name").GetString(), line.GetProperty("topic").GetString(), line.GetProperty("slow_mode_seconds").GetInt32(), line.GetProperty("archived").GetBoolean()));
        Assert.EndsWith(" changed the channel: topic: Q3 launch; slow mode 30 s", human, StringComparison.Ordinal);
        Assert.Equal(("channel_updated", 8), (unreadable.GetProperty("type").GetString(), unreadable.GetProperty("kind").GetInt32()));
    }

    [Fact]
    public void MessageJson_BinaryContent_HasNullTextAndBase64()
    {
        var message = Messages.Text(Guid.CreateVersion7(), 1) with { ContentType = "application/octet-stream", Content = new byte[] { 1, 2, 3 } };

        var line = JsonDocument.Parse(CliOutput.JsonLine(CliOutput.EventJson(message))).RootElement;

        Assert.Equal(JsonValueKind.Null, line.GetProperty("text").ValueKind);
        Assert.Equal("AQID", line.GetProperty("content_base64").GetString());
    }

    [Fact]
    public void TextOf_TextPlainWithCharset_IsText()
    {
        var message = Messages.Text(Guid.CreateVersion7(), 1, "x") with { ContentType = "Text/Plain; charset=utf-8" };

        Assert.Equal("x", CliOutput.TextOf(message));
    }
}
