using System.Text.Json;
using ChatWire.Cli;

namespace ChatWire.Client.Tests.Infrastructure;

// Runs the CLI in-process with a temporary XDG_CONFIG_HOME and captured streams.
internal sealed class CliHarness : IDisposable
{
    public const string Server = "http://chatwire.test:7480";

    public CliHarness()
    {
        ConfigHome = Path.Combine(Path.GetTempPath(), "chatwire-cli-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(ConfigHome);
    }

    public string ConfigHome { get; }

    public CannedHttpHandler Http { get; } = new();

    public ProfileStore Profiles => new(Path.Combine(ConfigHome, "chatwire"));

    public static Guid UserId { get; } = Guid.Parse("0190a0b2-0000-7000-8000-000000000001");

    public static Guid DeviceId { get; } = Guid.Parse("0190a0b2-0000-7000-8000-0000000000d1");

    public void LogIn(string profile = ProfileStore.DefaultProfile) =>
        Profiles.Save(profile, new CliProfile(Server, UserId, "alice", DeviceId, "token-alice"));

    public async Task<CliResult> RunWithStdinAsync(string stdin, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = await CliApp.RunAsync(args, Context(stdin, stdout, stderr), CancellationToken.None);
        return new CliResult(exit, stdout.ToString(), stderr.ToString());
    }

    public CliContext Context(string stdin, TextWriter stdout, TextWriter stderr) => new()
    {
        Stdin = new StringReader(stdin),
        Stdout = stdout,
        Stderr = stderr,
        Environment = new Dictionary<string, string?> { ["XDG_CONFIG_HOME"] = ConfigHome, ["HOME"] = ConfigHome },
        HttpHandler = Http,
    };

    // server-info announcing a scripted peer as the plain TCP endpoint.
    public void ServeInfoFor(ScriptedPeer peer, int maxHistoryLimit = 200) => Http.Json(
        HttpMethod.Get,
        "/v1/server-info",
        $$$"""
        {"server":"chatwire","version":"0.1.0","protocol_versions":[1],
         "endpoints":{"tcp":{"host":"127.0.0.1","port":{{{peer.Port}}}},"tls":null,"noise":null},
         "noise_static_public_key":null,
         "limits":{"max_frame_length":262144,"max_content_length":258048,"max_history_limit":{{{maxHistoryLimit}}},"heartbeat_interval_ms":30000,"auth_deadline_ms":10000}}
        """);

    public Task<CliResult> RunAsync(params string[] args) => RunWithStdinAsync(string.Empty, args);

    public void Dispose()
    {
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
