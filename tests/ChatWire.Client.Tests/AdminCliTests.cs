using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// chatwire admin … against a real gateway's management listener: the operator's verbs, and an online backup taken
// while messages are being sent, restored into a fresh server.
public sealed class AdminCliTests : IDisposable
{
    private const string Token = "admin-token-for-cli-tests-0123456789abcdef";

    private readonly List<string> _directories = [];

    public void Dispose()
    {
        foreach (var directory in _directories)
        {
            TestServer.DeleteDirectory(directory);
        }
    }

    [Fact]
    public async Task Backup_WhileSending_RestoredServerHasEveryMessageAcknowledgedBeforeIt()
    {
        var data = NewDirectory();
        var backup = NewDirectory();
        Crew crew;
        Guid general;
        var acknowledged = new List<SendResult>();
        int acknowledgedBeforeBackup;
        CliResult result;
        await using (var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Admin:Token"] = Token }, data))
        {
            crew = await Crew.CreateAsync(server);
            general = crew.GeneralId;
            await using var connection = await Sdk.ConnectAsync(crew.Alice);
            using var stop = new CancellationTokenSource();
            var sender = Task.Run(async () =>
            {
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    var sent = await connection.SendAsync(general, System.Text.Encoding.UTF8.GetBytes("message " + i));
                    lock (acknowledged)
                    {
                        acknowledged.Add(sent);
                    }
                }
            });
            await Patience.UntilAsync(() => { lock (acknowledged) { return acknowledged.Count >= 50; } });

            lock (acknowledged)
            {
                acknowledgedBeforeBackup = acknowledged.Count;
            }

            using var cli = Cli(server);
            result = await cli.RunAsync("--json", "admin", "backup", backup);
            await Patience.UntilAsync(() => { lock (acknowledged) { return acknowledged.Count >= acknowledgedBeforeBackup + 20; } });
            await stop.CancelAsync();
            await sender;
        }

        // The backup directory is the data directory of a new server.
        await using var restored = await TestServer.StartAsync(dataDirectory: backup);
        await using var reader = await Sdk.ConnectAsync(crew.Bob with { Server = restored });
        var history = new List<ConversationEvent>();
        for (ulong from = 0; ;)
        {
            var page = await reader.GetHistoryAsync(general, from, HistoryDirection.After, 200);
            history.AddRange(Sdk.Messages(page));
            if (!page.HasMore || page.Events.Count == 0)
            {
                break;
            }

            from = page.Events[^1].Seq;
        }

        var restoredIds = history.Select(e => e.EventId).ToHashSet();

        Assert.Equal(0, result.Exit);
        Assert.Empty(result.JsonLines[0].GetProperty("not_included").EnumerateArray());
        Assert.Equal(["messages.db", "directory.db"], result.JsonLines[0].GetProperty("files").EnumerateArray().Take(2).Select(f => f.GetProperty("name").GetString()));
        Assert.All(acknowledged.Take(acknowledgedBeforeBackup), sent => Assert.Contains(sent.MessageId, restoredIds));
        // A consistent snapshot: a gap-free prefix of what was sent, in order.
        Assert.Equal(acknowledged.Take(history.Count).Select(s => s.MessageId), history.Select(e => e.EventId));
        Assert.Equal(Enumerable.Range(0, history.Count).Select(i => Crew.FirstMessageSeq + (ulong)i), history.Select(e => e.Seq));
    }

    [Fact]
    public async Task AdminVerbs_ListDisableEnableDelete_AndWithoutTokenAUsageError()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Admin:Token"] = Token });
        var crew = await Crew.CreateAsync(server);
        using var cli = Cli(server);
        using var noToken = new CliHarness(server);

        var users = await cli.RunAsync("--json", "admin", "users");
        var disabled = await cli.RunAsync("admin", "user", "disable", crew.Bob.Username);
        var shown = await cli.RunAsync("--json", "admin", "user", crew.Bob.UserId.ToString());
        var enabled = await cli.RunAsync("admin", "user", "enable", crew.Bob.Username);
        var unconfirmed = await cli.RunAsync("admin", "user", "delete", crew.Bob.Username);
        var deleted = await cli.RunAsync("admin", "user", "delete", crew.Bob.Username, "--yes");
        var teams = await cli.RunAsync("--json", "admin", "teams");
        var refused = await noToken.RunAsync("admin", "users", "--management", ManagementUrl(server));

        Assert.Equal(0, users.Exit);
        Assert.Contains(users.JsonLines[0].GetProperty("users").EnumerateArray(), u => u.GetProperty("username").GetString() == crew.Alice.Username);
        Assert.Equal((0, 0, 0), (disabled.Exit, shown.Exit, enabled.Exit));
        Assert.True(shown.JsonLines[0].GetProperty("disabled").GetBoolean());
        Assert.Equal(2, unconfirmed.Exit);
        Assert.Equal(0, deleted.Exit);
        Assert.Contains("Deleted account", deleted.Stdout, StringComparison.Ordinal);
        Assert.Equal(1, Assert.Single(teams.JsonLines[0].GetProperty("teams").EnumerateArray()).GetProperty("members").GetInt32());
        Assert.Equal(2, refused.Exit);
        Assert.Contains("CHATWIRE_ADMIN_TOKEN", refused.Stderr, StringComparison.Ordinal);
    }

    private static string ManagementUrl(TestServer server) => server.Management.BaseAddress!.ToString();

    private static CliHarness Cli(TestServer server)
    {
        var cli = new CliHarness(server);
        cli.ExtraEnvironment["CHATWIRE_ADMIN_TOKEN"] = Token;
        cli.ExtraEnvironment["CHATWIRE_MANAGEMENT_URL"] = ManagementUrl(server);
        return cli;
    }

    private string NewDirectory()
    {
        var path = TestServer.NewDataDirectory();
        _directories.Add(path);
        return path;
    }
}
