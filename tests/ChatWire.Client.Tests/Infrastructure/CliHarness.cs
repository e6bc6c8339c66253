using System.Text.Json;
using ChatWire.Cli;
using ChatWire.Testing;

namespace ChatWire.Client.Tests.Infrastructure;

// Runs the CLI in-process with a temporary XDG_CONFIG_HOME and captured streams, against a real TestServer
// (or, for the tests of argument parsing and profiles, against none: an address nothing listens on). API
// calls go through a pass-through recorder to the real server, so a test can also see what was asked.
internal sealed class CliHarness : IDisposable
{
    // Loopback port 9 (discard): nothing listens there, so a command that should not reach a server fails loudly.
    public const string UnreachableServer = "http://127.0.0.1:9";

    public CliHarness(TestServer? server = null)
    {
        ServerUrl = server?.ApiUrl ?? UnreachableServer;
        ConfigHome = Path.Combine(Path.GetTempPath(), "chatwire-cli-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(ConfigHome);
    }

    public string ServerUrl { get; }

    public string ConfigHome { get; }

    public RecordingHandler Http { get; } = new();

    /// <summary>More environment variables for every run (e.g. CHATWIRE_ADMIN_TOKEN).</summary>
    public Dictionary<string, string?> ExtraEnvironment { get; } = [];

    public ProfileStore Profiles => new(Path.Combine(ConfigHome, "chatwire"));

    // A saved profile holding a real session of user, as "chatwire login" leaves it.
    public void LogIn(TestUser user, string profile = ProfileStore.DefaultProfile) =>
        Profiles.Save(profile, new CliProfile(ServerUrl, user.UserId, user.Username, user.DeviceId, user.Token));

    // A profile that looks logged in, for tests that must fail before any network call.
    public void LogInOffline(string profile = ProfileStore.DefaultProfile) =>
        Profiles.Save(profile, new CliProfile(UnreachableServer, Guid.CreateVersion7(), "alice", Guid.CreateVersion7(), "token-alice"));

    public async Task<CliResult> RunWithStdinAsync(string stdin, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = await CliApp.RunAsync(args, Context(stdin, stdout, stderr), CancellationToken.None).WaitAsync(Patience.Default);
        return new CliResult(exit, stdout.ToString(), stderr.ToString());
    }

    public Task<CliResult> RunAsync(params string[] args) => RunWithStdinAsync(string.Empty, args);

    public CliContext Context(string stdin, TextWriter stdout, TextWriter stderr) => new()
    {
        Stdin = new StringReader(stdin),
        Stdout = stdout,
        Stderr = stderr,
        Environment = new Dictionary<string, string?>(ExtraEnvironment) { ["XDG_CONFIG_HOME"] = ConfigHome, ["HOME"] = ConfigHome },
        HttpHandler = Http,
    };

    public void Dispose()
    {
        Http.Dispose();
        try
        {
            Directory.Delete(ConfigHome, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp directory left behind does no harm.
        }
    }
}

internal sealed record CliResult(int Exit, string Stdout, string Stderr)
{
    public IReadOnlyList<string> Lines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public IReadOnlyList<JsonElement> JsonLines => Lines.Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToList();

    public static IReadOnlyList<string> Keys(JsonElement element) => element.EnumerateObject().Select(property => property.Name).ToList();
}
