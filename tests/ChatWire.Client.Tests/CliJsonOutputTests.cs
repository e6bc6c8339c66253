using System.Net;
using System.Text.Json;
using ChatWire.Cli;
using ChatWire.Client.Tests.Infrastructure;

namespace ChatWire.Client.Tests;

// DESIGN §11: --json keys are a contract. These pin the key names of each verb's output.
public sealed class CliJsonOutputTests : IDisposable
{
    private const string TeamId = "0190a0b2-0000-7000-8000-0000000000f1";
    private const string GeneralId = "0190a0b2-0000-7000-8000-0000000000c1";
    private const string ConversationId = "0190a0b2-0000-7000-8000-0000000000c9";

    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Signup_Json_PrintsIdentity_AndStoresProfileWith0600()
    {
        _cli.Http.Json(
            HttpMethod.Post,
            "/v1/accounts/signup",
            $$"""{"user_id":"{{CliHarness.UserId}}","username":"alice","display_name":"Alice","device_id":"{{CliHarness.DeviceId}}","session_token":"tok-1","expires_at":"2026-11-25T16:20:00.000Z"}""",
            HttpStatusCode.Created);

        var result = await _cli.RunWithStdinAsync("correct horse\n", "--json", "--profile", "p1", "signup", "--server", CliHarness.Server, "--user", "alice", "--password-stdin", "--display-name", "Alice");

        Assert.Equal(CliApp.ExitOk, result.Exit);
        var line = Assert.Single(result.JsonLines);
        Assert.Equal(["user_id", "username", "display_name", "device_id", "server", "profile"], CliResult.Keys(line));
        Assert.Equal(CliHarness.UserId.ToString(), line.GetProperty("user_id").GetString());
        Assert.DoesNotContain("tok-1", result.Stdout, StringComparison.Ordinal);

        using var body = JsonDocument.Parse(_cli.Http.Requests[0].Body!);
        Assert.Equal("correct horse", body.RootElement.GetProperty("password").GetString());

        var profile = _cli.Profiles.Load("p1")!;
        Assert.Equal(new CliProfile(CliHarness.Server, CliHarness.UserId, "alice", CliHarness.DeviceId, "tok-1"), profile);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_cli.Profiles.PathFor("p1")));
        }
    }

    [Fact]
    public async Task Login_ReusesTheProfileServer_AndSendsTokenAfterwards()
    {
        _cli.Profiles.Save("default", new CliProfile(CliHarness.Server, null, "alice", null, null));
        _cli.Http
            .Json(HttpMethod.Post, "/v1/accounts/login", $$"""{"user_id":"{{CliHarness.UserId}}","username":"alice","display_name":"Alice","device_id":"{{CliHarness.DeviceId}}","session_token":"tok-2","expires_at":null}""")
            .Json(HttpMethod.Get, "/v1/teams", """{"teams":[]}""");

        var login = await _cli.RunWithStdinAsync("pw-12345678\n", "login", "--user", "alice", "--password-stdin");
        var teams = await _cli.RunAsync("teams");

        Assert.Equal(CliApp.ExitOk, login.Exit);
        Assert.Equal(CliApp.ExitOk, teams.Exit);
        Assert.Equal("Bearer tok-2", _cli.Http.Requests[^1].Authorization);
    }

    [Fact]
    public async Task TeamCreate_Json_PrintsTeamIdAndInviteCode()
    {
        _cli.LogIn();
        _cli.Http
            .Json(HttpMethod.Post, "/v1/teams", $$"""{"team_id":"{{TeamId}}","name":"Acme","role":"owner","muted":false,"general_channel_id":"{{GeneralId}}"}""", HttpStatusCode.Created)
            .Json(HttpMethod.Post, $"/v1/teams/{TeamId}/invites", $$"""{"invite_id":"0190a0b2-0000-7000-8000-0000000000e1","invite_code":"abcDEF_-123","team_id":"{{TeamId}}","expires_at":"2026-12-02T16:20:00.000Z"}""", HttpStatusCode.Created);

        var result = await _cli.RunAsync("--json", "team", "create", "Acme");

        Assert.Equal(CliApp.ExitOk, result.Exit);
        var line = Assert.Single(result.JsonLines);
        Assert.Equal(TeamId, line.GetProperty("team_id").GetString());
        Assert.Equal("abcDEF_-123", line.GetProperty("invite_code").GetString());
        Assert.Equal("Acme", line.GetProperty("name").GetString());
        Assert.Equal("Bearer token-alice", _cli.Http.Requests[0].Authorization);
    }

    [Fact]
    public async Task Teams_Json_OneObjectPerTeam()
    {
        _cli.LogIn();
        _cli.Http.Json(HttpMethod.Get, "/v1/teams", $$"""{"teams":[{"team_id":"{{TeamId}}","name":"Acme","role":"owner","muted":false},{"team_id":"0190a0b2-0000-7000-8000-0000000000f2","name":"Beta","role":"member","muted":true}]}""");

        var result = await _cli.RunAsync("--json", "teams");

        Assert.Equal(2, result.JsonLines.Count);
        Assert.All(result.JsonLines, line => Assert.Equal(["team_id", "name", "role", "muted"], CliResult.Keys(line)));
        Assert.True(result.JsonLines[1].GetProperty("muted").GetBoolean());
    }

    [Fact]
    public async Task ChannelCreate_Json_PrintsConversationId()
    {
        _cli.LogIn();
        _cli.Http.Json(HttpMethod.Post, $"/v1/teams/{TeamId}/channels", $$"""{"conversation_id":"{{ConversationId}}","team_id":"{{TeamId}}","name":"ops","type":"private"}""", HttpStatusCode.Created);

        var result = await _cli.RunAsync("--json", "channel", "create", TeamId, "ops", "--private");

        var line = Assert.Single(result.JsonLines);
        Assert.Equal(["conversation_id", "team_id", "name", "type"], CliResult.Keys(line));
        Assert.Equal(ConversationId, line.GetProperty("conversation_id").GetString());
        using var body = JsonDocument.Parse(_cli.Http.Requests[0].Body!);
        Assert.True(body.RootElement.GetProperty("private").GetBoolean());
    }

    [Fact]
    public async Task Dm_Json_PrintsConversationId_AndPassesUsersThrough()
    {
        _cli.LogIn();
        _cli.Http.Json(HttpMethod.Post, "/v1/dms", $$"""{"conversation_id":"{{ConversationId}}","type":"group","members":["{{CliHarness.UserId}}","0190a0b2-0000-7000-8000-000000000002","0190a0b2-0000-7000-8000-000000000003"]}""");

        var result = await _cli.RunAsync("--json", "dm", "bob", "0190a0b2-0000-7000-8000-000000000003");

        var line = Assert.Single(result.JsonLines);
        Assert.Equal(["conversation_id", "type", "members"], CliResult.Keys(line));
        using var body = JsonDocument.Parse(_cli.Http.Requests[0].Body!);
        Assert.Equal(["bob", "0190a0b2-0000-7000-8000-000000000003"], body.RootElement.GetProperty("users").EnumerateArray().Select(user => user.GetString()));
    }

    [Fact]
    public async Task Members_Json_PassesPrefixAndLimit()
    {
        _cli.LogIn();
        _cli.Http.Json(HttpMethod.Get, $"/v1/teams/{TeamId}/members?prefix=al&limit=3", $$"""{"members":[{"user_id":"{{CliHarness.UserId}}","username":"alice","display_name":"Alice","role":"owner"}]}""");

        var result = await _cli.RunAsync("--json", "members", TeamId, "--prefix", "al", "--limit", "3");

        Assert.Equal(CliApp.ExitOk, result.Exit);
        Assert.Equal(["user_id", "username", "display_name", "role"], CliResult.Keys(Assert.Single(result.JsonLines)));
    }

    [Fact]
    public async Task FailedCommand_Json_PrintsErrorObjectAndExitsOne()
    {
        _cli.LogIn();
        _cli.Http.Problem(HttpMethod.Put, $"/v1/teams/{TeamId}/mute", HttpStatusCode.Forbidden, 4001, "NOT_A_MEMBER", "You are not a member of this team.");

        var result = await _cli.RunAsync("--json", "team", "mute", TeamId);

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
        _cli.LogIn();
        _cli.Http.Problem(HttpMethod.Put, $"/v1/teams/{TeamId}/mute", HttpStatusCode.Forbidden, 4001, "NOT_A_MEMBER", "You are not a member of this team.");

        var result = await _cli.RunAsync("team", "mute", TeamId);

        Assert.Equal(CliApp.ExitFailed, result.Exit);
        Assert.Equal(string.Empty, result.Stdout);
        Assert.Contains("You are not a member of this team.", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("NOT_A_MEMBER", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logout_ClearsTheSession_KeepsTheServer()
    {
        _cli.LogIn();
        _cli.Http.NoContent(HttpMethod.Post, "/v1/accounts/logout");

        var result = await _cli.RunAsync("--json", "logout");

        Assert.Equal(CliApp.ExitOk, result.Exit);
        var profile = _cli.Profiles.Load("default")!;
        Assert.Null(profile.SessionToken);
        Assert.Equal(CliHarness.Server, profile.Server);
    }

    [Fact]
    public void MessageJson_HasTheListenKeys_AndDecodesTextPlain()
    {
        var message = PeerLink.Message(Guid.Parse(ConversationId), 42, "héllo <b>");

        var line = JsonDocument.Parse(CliOutput.JsonLine(CliOutput.MessageJson(message))).RootElement;

        Assert.Equal(
            ["type", "conversation_id", "message_id", "seq", "sender", "sender_device", "text", "content_type", "sent_at"],
            CliResult.Keys(line));
        Assert.Equal("message", line.GetProperty("type").GetString());
        Assert.Equal(42UL, line.GetProperty("seq").GetUInt64());
        Assert.Equal("héllo <b>", line.GetProperty("text").GetString());
        Assert.Equal(PeerLink.UserId.ToString(), line.GetProperty("sender").GetString());
        Assert.EndsWith("Z", line.GetProperty("sent_at").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void MessageJson_BinaryContent_HasNullTextAndBase64()
    {
        var message = PeerLink.Message(Guid.Parse(ConversationId), 1) with { ContentType = "application/octet-stream", Content = new byte[] { 1, 2, 3 } };

        var line = JsonDocument.Parse(CliOutput.JsonLine(CliOutput.MessageJson(message))).RootElement;

        Assert.Equal(JsonValueKind.Null, line.GetProperty("text").ValueKind);
        Assert.Equal("AQID", line.GetProperty("content_base64").GetString());
    }

    [Fact]
    public void TextOf_TextPlainWithCharset_IsText()
    {
        var message = PeerLink.Message(Guid.Parse(ConversationId), 1, "x") with { ContentType = "Text/Plain; charset=utf-8" };

        Assert.Equal("x", CliOutput.TextOf(message));
    }
}
