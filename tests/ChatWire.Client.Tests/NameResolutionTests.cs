using ChatWire.Cli;
using ChatWire.Client.Tests.Infrastructure;

namespace ChatWire.Client.Tests;

public sealed class NameResolutionTests : IDisposable
{
    private const string Acme1 = "0190a0b2-0000-7000-8000-0000000000f1";
    private const string Acme2 = "0190a0b2-0000-7000-8000-0000000000f2";
    private const string Beta = "0190a0b2-0000-7000-8000-0000000000f3";
    private const string GeneralAcme = "0190a0b2-0000-7000-8000-0000000000c1";
    private const string GeneralBeta = "0190a0b2-0000-7000-8000-0000000000c3";
    private const string OpsBeta = "0190a0b2-0000-7000-8000-0000000000c4";

    private readonly CliHarness _cli = new();

    public NameResolutionTests()
    {
        _cli.LogIn();
        _cli.Http
            .Json(HttpMethod.Get, "/v1/teams", $$"""
                {"teams":[
                  {"team_id":"{{Acme1}}","name":"Acme","role":"owner","muted":false},
                  {"team_id":"{{Acme2}}","name":"Acme","role":"member","muted":false},
                  {"team_id":"{{Beta}}","name":"Beta","role":"member","muted":false}]}
                """)
            .Json(HttpMethod.Get, $"/v1/teams/{Acme1}/channels", $$"""{"channels":[{"conversation_id":"{{GeneralAcme}}","team_id":"{{Acme1}}","name":"general","type":"public","member":true}]}""")
            .Json(HttpMethod.Get, $"/v1/teams/{Acme2}/channels", """{"channels":[]}""")
            .Json(HttpMethod.Get, $"/v1/teams/{Beta}/channels", $$"""
                {"channels":[
                  {"conversation_id":"{{GeneralBeta}}","team_id":"{{Beta}}","name":"general","type":"public","member":true},
                  {"conversation_id":"{{OpsBeta}}","team_id":"{{Beta}}","name":"ops","type":"public","member":false}]}
                """)
            .NoContent(HttpMethod.Put, $"/v1/teams/{Beta}/mute")
            .NoContent(HttpMethod.Put, $"/v1/teams/{Acme1}/mute")
            .NoContent(HttpMethod.Post, $"/v1/channels/{OpsBeta}/join")
            .NoContent(HttpMethod.Post, $"/v1/channels/{GeneralBeta}/join");
    }

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task TeamName_Unique_ResolvesToItsId()
    {
        var result = await _cli.RunAsync("--json", "team", "mute", "Beta");

        Assert.Equal(CliApp.ExitOk, result.Exit);
        Assert.Equal(Beta, Assert.Single(result.JsonLines).GetProperty("team_id").GetString());
        Assert.Contains(_cli.Http.Requests, request => request is { Method: "PUT", PathAndQuery: $"/v1/teams/{Beta}/mute" });
    }

    [Fact]
    public async Task TeamName_CaseInsensitiveWhenNoExactMatch()
    {
        var result = await _cli.RunAsync("--json", "team", "mute", "beta");

        Assert.Equal(CliApp.ExitOk, result.Exit);
    }

    [Fact]
    public async Task TeamId_IsUsedWithoutLookup()
    {
        var result = await _cli.RunAsync("team", "mute", Acme1);

        Assert.Equal(CliApp.ExitOk, result.Exit);
        Assert.Equal($"/v1/teams/{Acme1}/mute", Assert.Single(_cli.Http.Requests).PathAndQuery);
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
        Assert.Contains(Acme1, message, StringComparison.Ordinal);
        Assert.Contains(Acme2, message, StringComparison.Ordinal);
        Assert.Equal([Acme1, Acme2], error.GetProperty("candidates").EnumerateArray().Select(candidate => candidate.GetProperty("id").GetString()));
        Assert.DoesNotContain(_cli.Http.Requests, request => request.Method == "PUT");
    }

    [Fact]
    public async Task TeamName_Ambiguous_HumanMessageOnStderr()
    {
        var result = await _cli.RunAsync("team", "mute", "Acme");

        Assert.Equal(CliApp.ExitFailed, result.Exit);
        Assert.Contains("ambiguous", result.Stderr, StringComparison.Ordinal);
        Assert.Contains(Acme2, result.Stderr, StringComparison.Ordinal);
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
        Assert.Equal(OpsBeta, Assert.Single(result.JsonLines).GetProperty("conversation_id").GetString());
    }

    [Fact]
    public async Task ChannelName_InSeveralTeams_IsAmbiguous()
    {
        var result = await _cli.RunAsync("--json", "channel", "join", "general");

        Assert.Equal(CliApp.ExitFailed, result.Exit);
        var error = Assert.Single(result.JsonLines).GetProperty("error");
        Assert.Equal(4007, error.GetProperty("code").GetInt32());
        var message = error.GetProperty("message").GetString()!;
        Assert.Contains(GeneralAcme, message, StringComparison.Ordinal);
        Assert.Contains(GeneralBeta, message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChannelName_QualifiedByTeam_Resolves()
    {
        var result = await _cli.RunAsync("--json", "channel", "join", "Beta/#general");

        Assert.Equal(CliApp.ExitOk, result.Exit);
        Assert.Equal(GeneralBeta, Assert.Single(result.JsonLines).GetProperty("conversation_id").GetString());
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
        var result = await _cli.RunAsync("--json", "send", "general", "hello");

        Assert.Equal(CliApp.ExitFailed, result.Exit);
        Assert.Equal(4007, Assert.Single(result.JsonLines).GetProperty("error").GetProperty("code").GetInt32());
        Assert.DoesNotContain(_cli.Http.Requests, request => request.PathAndQuery == "/v1/server-info");
    }

    [Fact]
    public async Task SessionRevoke_ByDeviceName_Ambiguous_ListsDevices()
    {
        _cli.Http.Json(HttpMethod.Get, "/v1/sessions", """
            {"sessions":[
              {"device_id":"0190a0b2-0000-7000-8000-0000000000d1","device_name":"laptop","created_at":"2026-01-01T00:00:00.000Z","last_used_at":null,"current":true},
              {"device_id":"0190a0b2-0000-7000-8000-0000000000d2","device_name":"laptop","created_at":"2026-01-02T00:00:00.000Z","last_used_at":null,"current":false}]}
            """);

        var result = await _cli.RunAsync("--json", "sessions", "revoke", "laptop");

        Assert.Equal(CliApp.ExitFailed, result.Exit);
        var message = Assert.Single(result.JsonLines).GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains("0190a0b2-0000-7000-8000-0000000000d2", message, StringComparison.Ordinal);
        Assert.DoesNotContain(_cli.Http.Requests, request => request.Method == "DELETE");
    }
}
