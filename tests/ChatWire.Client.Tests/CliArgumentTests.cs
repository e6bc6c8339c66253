using ChatWire.Cli;
using ChatWire.Client.Tests.Infrastructure;

namespace ChatWire.Client.Tests;

// Usage errors and what fails before any network call: no server is started, and none may be contacted.
public sealed class CliArgumentTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    [Theory]
    [InlineData("")]
    [InlineData("frobnicate")]
    [InlineData("team")]
    [InlineData("team|explode|x")]
    [InlineData("teams|extra")]
    [InlineData("team|create")]
    [InlineData("channel|create|only-team")]
    [InlineData("teams|--private")]
    [InlineData("teams|--no-such-option")]
    [InlineData("members|acme|--limit")]
    [InlineData("members|acme|--limit|many")]
    [InlineData("members|acme|--limit|101")]
    [InlineData("history|general|--limit|0")]
    [InlineData("sessions|revoke")]
    [InlineData("sessions|revoke|laptop|--all")]
    [InlineData("send|general")]
    [InlineData("send|general|hi|--message-id|not-a-uuid")]
    [InlineData("dm")]
    [InlineData("dm|a|b|c|d|e|f|g|h")]
    [InlineData("--json=yes|teams")]
    [InlineData("--profile|../escape|teams")]
    [InlineData("signup|--server|localhost:7480|--user|alice|--password-stdin")]
    public async Task RunAsync_UsageError_ExitsTwoWithUsageOnStderr(string commandLine)
    {
        _cli.LogInOffline();

        var result = await _cli.RunWithStdinAsync("secret-password\n", commandLine.Split('|', StringSplitOptions.RemoveEmptyEntries));

        Assert.Equal(CliApp.ExitUsage, result.Exit);
        Assert.Contains("Usage: chatwire", result.Stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Stdout);
        Assert.Empty(_cli.Http.Requests);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("help")]
    public async Task RunAsync_Help_PrintsUsageToStdoutAndExitsZero(string flag)
    {
        var result = await _cli.RunAsync(flag);

        Assert.Equal(CliApp.ExitOk, result.Exit);
        Assert.StartsWith("Usage: chatwire", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UsageError_IsTwoLines_TheProblemAndTheVerbsUsage()
    {
        var result = await _cli.RunAsync("react", "only-one-argument");
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(CliApp.ExitUsage, result.Exit);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("chatwire: react needs 2 arguments", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("Usage: chatwire react MESSAGE EMOJI", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task FamilyHelp_ListsItsVerbs_AndVersionPrintsTheVersion()
    {
        var team = await _cli.RunAsync("team", "--help");
        var version = await _cli.RunAsync("--version");

        Assert.Equal(CliApp.ExitOk, team.Exit);
        Assert.StartsWith("Usage: chatwire team create NAME", team.Stdout, StringComparison.Ordinal);
        Assert.Contains("chatwire team promote TEAM USER", team.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("send CONVERSATION", team.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"^chatwire \S+ \(protocol 1\)", version.Stdout);
    }

    [Fact]
    public async Task RunAsync_HelpAfterCommand_StillHelps()
    {
        var result = await _cli.RunAsync("send", "--help");

        Assert.Equal(CliApp.ExitOk, result.Exit);
        Assert.Contains("send CONVERSATION TEXT", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_WithoutPasswordStdinAndNoTerminal_IsAUsageError()
    {
        var result = await _cli.RunAsync("login", "--server", CliHarness.UnreachableServer, "--user", "alice");

        Assert.Equal(CliApp.ExitUsage, result.Exit);
        Assert.Contains("--password-stdin", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(_cli.Http.Requests);
    }

    [Fact]
    public async Task Login_PasswordStdinWithEmptyStdin_IsAUsageError()
    {
        var result = await _cli.RunWithStdinAsync(string.Empty, "login", "--server", CliHarness.UnreachableServer, "--user", "alice", "--password-stdin");

        Assert.Equal(CliApp.ExitUsage, result.Exit);
        Assert.Empty(_cli.Http.Requests);
    }

    [Fact]
    public async Task Command_NotLoggedIn_FailsWithNotAuthenticated()
    {
        var result = await _cli.RunAsync("--json", "teams");

        Assert.Equal(CliApp.ExitFailed, result.Exit);
        var error = Assert.Single(result.JsonLines).GetProperty("error");
        Assert.Equal(2001, error.GetProperty("code").GetInt32());
        Assert.Equal("NOT_AUTHENTICATED", error.GetProperty("name").GetString());
    }

    [Fact]
    public async Task Command_ServerUnreachable_FailsWithConnectionFailed()
    {
        _cli.LogInOffline();

        var result = await _cli.RunAsync("--json", "teams");

        Assert.Equal(CliApp.ExitFailed, result.Exit);
        var error = Assert.Single(result.JsonLines).GetProperty("error");
        Assert.Equal(0, error.GetProperty("code").GetInt32());
        Assert.Equal("CONNECTION_FAILED", error.GetProperty("name").GetString());
        Assert.Equal("/v1/teams?limit=500", Assert.Single(_cli.Http.Requests).PathAndQuery);
    }

    [Fact]
    public async Task SendFile_Missing_AndDownloadIntoMissingFolder_FailWithFileError_BeforeAnyRequest()
    {
        _cli.LogInOffline();
        var missing = Path.Combine(_cli.ConfigHome, "no-such-photo.jpg");
        var intoMissingFolder = Path.Combine(_cli.ConfigHome, "no-such-folder", "photo.jpg");

        var send = await _cli.RunAsync("--json", "send", Guid.NewGuid().ToString("D"), "--file", missing);
        var download = await _cli.RunAsync("--json", "download", Guid.NewGuid().ToString("D"), "--out", intoMissingFolder);
        var downloadOntoFolder = await _cli.RunAsync("--json", "download", Guid.NewGuid().ToString("D"), "--out", _cli.ConfigHome);

        foreach (var (result, path) in new[] { (send, missing), (download, intoMissingFolder), (downloadOntoFolder, _cli.ConfigHome) })
        {
            Assert.Equal(CliApp.ExitFailed, result.Exit);
            var error = Assert.Single(result.JsonLines).GetProperty("error");
            Assert.Equal(0, error.GetProperty("code").GetInt32());
            Assert.Equal("FILE_ERROR", error.GetProperty("name").GetString());
            Assert.StartsWith("Cannot ", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.Contains(path, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        Assert.Empty(_cli.Http.Requests);
    }

    [Fact]
    public void Parse_OptionsAnywhere_EqualsForm_AndDoubleDash()
    {
        var line = CommandLine.Parse(["send", "--profile=bob", "general", "--json", "--", "--not-an-option", "-1"]);

        Assert.Equal(["send", "general", "--not-an-option", "-1"], line.Words);
        Assert.Equal("bob", line.Value("--profile"));
        Assert.True(line.Json);
    }

    [Fact]
    public void Parse_SingleDashWord_IsPositional()
    {
        var line = CommandLine.Parse(["send", "general", "-)", "-"]);

        Assert.Equal(["send", "general", "-)", "-"], line.Words);
    }

    [Fact]
    public void Parse_ValuedOptionFollowedByOption_IsAUsageError()
    {
        Assert.Throws<CliUsageException>(() => CommandLine.Parse(["login", "--user", "--password-stdin"]));
    }

    // Regression: recover declared --recovery-key-stdin, which the parser did not know, so `chatwire recover
    // --recovery-key-stdin` failed with "Unknown option".
    [Fact]
    public void Parse_EveryOptionACommandDeclares_IsKnownToTheParser()
    {
        foreach (var spec in ChatWire.Cli.Commands.CommandTable.All)
        {
            foreach (var option in spec.Options)
            {
                Assert.True(CommandLine.IsKnownOption(option), $"{spec.Name} {option}");
            }
        }
    }
}
