using System.Text.Json;
using ChatWire.Cli;
using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// reply, thread, edit, delete, react, unreact, read, unread and mentions in send: a message named by its id
// alone, as history --json prints it, against the real gateway.
public sealed class CliMessageVerbTests : IClassFixture<ServerFixture>, IDisposable
{
    private readonly TestServer _server;
    private readonly CliHarness _cli;

    public CliMessageVerbTests(ServerFixture fixture)
    {
        _server = fixture.Server;
        _cli = new CliHarness(_server);
    }

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task ReplyAndThread_ByMessageId_AReplyToAReplyGoesToTheRoot()
    {
        var crew = await Crew.CreateAsync(_server);
        _cli.LogIn(crew.Alice);
        var root = await SendAsync("--json", "send", "general", "release?");

        var reply = Single(await _cli.RunAsync("--json", "reply", root, "tomorrow"));
        var second = Single(await _cli.RunAsync("--json", "reply", reply.GetProperty("message_id").GetString()!, "agreed"));
        var thread = await _cli.RunAsync("--json", "thread", reply.GetProperty("message_id").GetString()!);

        Assert.Equal(root, reply.GetProperty("thread_root_id").GetString());
        Assert.Equal(root, second.GetProperty("thread_root_id").GetString());
        Assert.Equal(CliApp.ExitOk, thread.Exit);
        Assert.Equal(["release?", "tomorrow", "agreed"], thread.JsonLines.Select(l => l.GetProperty("text").GetString()));
        Assert.Equal(2, thread.JsonLines[0].GetProperty("reply_count").GetInt32());
        Assert.Equal(root, thread.JsonLines[2].GetProperty("thread_root_id").GetString());
    }

    [Fact]
    public async Task EditReactDelete_ShowInHistory_AndAreRefusedForSomeoneElse()
    {
        var crew = await Crew.CreateAsync(_server);
        _cli.LogIn(crew.Alice);
        _cli.LogIn(crew.Bob, "bob");
        var message = await SendAsync("--json", "send", "general", "helo");

        var edited = Single(await _cli.RunAsync("--json", "edit", message, "hello"));
        var reacted = Single(await _cli.RunAsync("--json", "--profile", "bob", "react", message, "👍"));
        var again = Single(await _cli.RunAsync("--json", "--profile", "bob", "react", message, "👍"));
        var bobEdits = await _cli.RunAsync("--json", "--profile", "bob", "edit", message, "mine now");
        var history = await _cli.RunAsync("--json", "history", "general");
        var human = await _cli.RunAsync("history", "general");

        Assert.Equal(message, edited.GetProperty("message_id").GetString());
        Assert.Equal((true, false), (reacted.GetProperty("changed").GetBoolean(), again.GetProperty("changed").GetBoolean()));
        Assert.Equal(CliApp.ExitFailed, bobEdits.Exit);
        Assert.Equal("FORBIDDEN", Single(bobEdits).GetProperty("error").GetProperty("name").GetString());
        var asStored = history.JsonLines.Single(l => l.GetProperty("type").GetString() == "message" && l.GetProperty("message_id").GetString() == message);
        Assert.Equal("hello", asStored.GetProperty("text").GetString());
        Assert.True(asStored.TryGetProperty("edited_at", out _));
        Assert.Equal("👍", asStored.GetProperty("reactions")[0].GetProperty("emoji").GetString());
        Assert.Contains(history.JsonLines, l => l.GetProperty("type").GetString() == "edit" && l.GetProperty("message_id").GetString() == message);
        Assert.Contains(history.JsonLines, l => l.GetProperty("type").GetString() == "reaction" && l.GetProperty("emoji").GetString() == "👍");
        Assert.Contains(human.Lines, l => l.EndsWith($" {crew.Alice.Username}: hello (edited) 👍1", StringComparison.Ordinal));
        Assert.Contains(human.Lines, l => l.EndsWith($" {crew.Bob.Username} reacted 👍 to {message}", StringComparison.Ordinal));
        Assert.Equal(crew.Alice.Username, asStored.GetProperty("sender_username").GetString());

        var deleted = Single(await _cli.RunAsync("--json", "delete", message));
        var unreacted = await _cli.RunAsync("--json", "--profile", "bob", "unreact", message, "👍");
        var afterDelete = await _cli.RunAsync("--json", "history", "general");

        // The deletion took the reaction with it; taking it back names a message that is gone.
        Assert.NotEqual(0UL, deleted.GetProperty("seq").GetUInt64());
        Assert.Equal(CliApp.ExitFailed, unreacted.Exit);
        Assert.Equal("NOT_FOUND", Single(unreacted).GetProperty("error").GetProperty("name").GetString());
        var tombstone = afterDelete.JsonLines.Single(l => l.GetProperty("type").GetString() == "message" && l.GetProperty("message_id").GetString() == message);
        Assert.True(tombstone.TryGetProperty("deleted_at", out _));
        Assert.Equal(JsonValueKind.Null, tombstone.GetProperty("text").ValueKind);
    }

    [Fact]
    public async Task Send_Mentions_AreResolvedToTeamMembers_AndCountedAsUnread()
    {
        var crew = await Crew.CreateAsync(_server);
        _cli.LogIn(crew.Alice);
        _cli.LogIn(crew.Bob, "bob");

        await SendAsync("--json", "send", "general", $"@{crew.Bob.Username} look, and @here too; @nobody-by-this-name stays text");
        await SendAsync("--json", "send", "general", "no mention");
        var unread = await _cli.RunAsync("--json", "--profile", "bob", "unread");
        var humanUnread = await _cli.RunAsync("--profile", "bob", "unread");
        var history = await _cli.RunAsync("--json", "--profile", "bob", "history", "general");

        var line = Assert.Single(unread.JsonLines);
        Assert.Equal((2, 1), (line.GetProperty("unread_count").GetInt32(), line.GetProperty("mention_count").GetInt32()));
        Assert.Equal("#general (Team)", line.GetProperty("name").GetString());
        Assert.Equal("#general (Team): 2 unread, 1 mention", Assert.Single(humanUnread.Lines));
        var mentioning = history.JsonLines.First(l => l.GetProperty("type").GetString() == "message");
        Assert.Equal(crew.Bob.UserId, Assert.Single(mentioning.GetProperty("mentions").EnumerateArray()).GetGuid());
        Assert.Equal("here", Assert.Single(mentioning.GetProperty("group_mentions").EnumerateArray()).GetString());

        var read = Single(await _cli.RunAsync("--json", "--profile", "bob", "read", "general"));
        var nothing = await _cli.RunAsync("--profile", "bob", "unread");

        Assert.Equal((0, 0), (read.GetProperty("unread_count").GetInt32(), read.GetProperty("mention_count").GetInt32()));
        Assert.Equal(read.GetProperty("last_seq").GetUInt64(), read.GetProperty("read_seq").GetUInt64());
        Assert.Equal("Nothing unread.", Assert.Single(nothing.Lines));
    }

    [Fact]
    public async Task Send_ToAtUser_GoesToTheirDm()
    {
        var crew = await Crew.CreateAsync(_server);
        _cli.LogIn(crew.Alice);
        _cli.LogIn(crew.Bob, "bob");

        var sent = Single(await _cli.RunAsync("--json", "send", "@" + crew.Bob.Username, "psst"));
        var bobsView = await _cli.RunAsync("--json", "--profile", "bob", "history", "@" + crew.Alice.Username);
        var label = await _cli.RunAsync("--profile", "bob", "unread");

        Assert.Equal("psst", bobsView.JsonLines[^1].GetProperty("text").GetString());
        Assert.Equal(sent.GetProperty("conversation_id").GetGuid(), bobsView.JsonLines[^1].GetProperty("conversation_id").GetGuid());
        Assert.Contains($"DM with {crew.Alice.Username}: 1 unread, 0 mentions", label.Lines);
    }

    [Fact]
    public async Task History_Before_PagesOlder_AndMessageVerbsCheckTheirArguments()
    {
        var crew = await Crew.CreateAsync(_server);
        _cli.LogIn(crew.Alice);
        for (var i = 1; i <= 3; i++)
        {
            await SendAsync("--json", "send", "general", $"m{i}");
        }

        var older = await _cli.RunAsync("--json", "history", "general", "--before", (Crew.FirstMessageSeq + 2).ToString(System.Globalization.CultureInfo.InvariantCulture), "--limit", "1");
        var notAnId = await _cli.RunAsync("react", "general", "👍");
        var unknown = await _cli.RunAsync("--json", "delete", Guid.CreateVersion7().ToString());

        Assert.Equal("m2", Assert.Single(older.JsonLines).GetProperty("text").GetString());
        Assert.Equal(CliApp.ExitUsage, notAnId.Exit);
        Assert.Equal("NOT_FOUND", Single(unknown).GetProperty("error").GetProperty("name").GetString());
    }

    [Fact]
    public async Task Listen_PrintsEveryKindOfEvent_AsItsJsonLine()
    {
        var crew = await Crew.CreateAsync(_server);
        _cli.LogIn(crew.Alice);
        _cli.LogIn(crew.Bob, "bob");
        var stdout = new LineWriter();
        using var stop = new CancellationTokenSource();
        var running = CliApp.RunAsync(["--json", "--profile", "bob", "listen"], _cli.Context(string.Empty, stdout, new StringWriter()), stop.Token);
        try
        {
            Assert.Equal("""{"type":"ready"}""", await stdout.NextLineAsync());
            var message = await SendAsync("--json", "send", "general", "hi bob");
            await _cli.RunAsync("react", message, "🎉");
            await _cli.RunAsync("edit", message, "hi bob!");
            await _cli.RunAsync("typing", "general");
            await _cli.RunAsync("delete", message);
            Assert.Equal(CliApp.ExitOk, (await _cli.RunAsync("channel", "topic", "general", "launch week")).Exit);

            var types = new List<string>();
            while (types.Count < 6)
            {
                var line = JsonDocument.Parse(await stdout.NextLineAsync()).RootElement;
                var type = line.GetProperty("type").GetString()!;
                if (type is not "member_joined" and not "presence")
                {
                    types.Add(type);
                    Assert.Equal(crew.GeneralId, line.GetProperty("conversation_id").GetGuid());
                }
            }

            Assert.Equal(["message", "reaction", "edit", "typing", "delete", "channel_updated"], types);
        }
        finally
        {
            await stop.CancelAsync();
            Assert.Equal(CliApp.ExitOk, await running.WaitAsync(Patience.Default));
        }
    }

    [Fact]
    public async Task Listen_AnotherDeviceOfMineSignsOut_PrintsKeysChanged()
    {
        var crew = await Crew.CreateAsync(_server);
        _cli.LogIn(crew.Alice);
        var laptop = await _server.LoginAsync(crew.Alice, "laptop");
        var stdout = new LineWriter();
        using var stop = new CancellationTokenSource();
        var running = CliApp.RunAsync(["--json", "listen"], _cli.Context(string.Empty, stdout, new StringWriter()), stop.Token);
        try
        {
            Assert.Equal("""{"type":"ready"}""", await stdout.NextLineAsync());
            await laptop.CallAsync(HttpMethod.Post, "v1/accounts/logout");

            JsonElement line;
            do
            {
                line = JsonDocument.Parse(await stdout.NextLineAsync()).RootElement;
            }
            while (line.GetProperty("type").GetString() != "keys_changed");

            Assert.Equal("device_revoked", line.GetProperty("change").GetString());
            Assert.Equal(laptop.DeviceId, line.GetProperty("device_id").GetGuid());
        }
        finally
        {
            await stop.CancelAsync();
            Assert.Equal(CliApp.ExitOk, await running.WaitAsync(Patience.Default));
        }
    }

    [Fact]
    public async Task Listen_SkipMuted_LeavesOutTheMutedTeamsConversations()
    {
        var crew = await Crew.CreateAsync(_server, "Noisy");
        _cli.LogIn(crew.Alice);
        _cli.LogIn(crew.Bob, "bob");
        await SendAsync("--json", "send", "@" + crew.Bob.Username, "hello");
        await _cli.RunAsync("team", "mute", "Noisy");
        var stdout = new LineWriter();
        using var stop = new CancellationTokenSource();
        var running = CliApp.RunAsync(["--json", "listen", "--skip-muted"], _cli.Context(string.Empty, stdout, new StringWriter()), stop.Token);
        try
        {
            Assert.Equal("""{"type":"ready"}""", await stdout.NextLineAsync());
            await SendAsync("--json", "--profile", "bob", "send", "general", "in the muted team");
            await SendAsync("--json", "--profile", "bob", "send", "@" + crew.Alice.Username, "direct");

            JsonElement line;
            do
            {
                line = JsonDocument.Parse(await stdout.NextLineAsync()).RootElement.Clone();
            }
            while (line.GetProperty("type").GetString() != "message");

            Assert.Equal("direct", line.GetProperty("text").GetString());
        }
        finally
        {
            await stop.CancelAsync();
            Assert.Equal(CliApp.ExitOk, await running.WaitAsync(Patience.Default));
        }
    }

    private async Task<string> SendAsync(params string[] args)
    {
        var result = await _cli.RunAsync(args);
        Assert.Equal(CliApp.ExitOk, result.Exit);
        return Single(result).GetProperty("message_id").GetString()!;
    }

    private static JsonElement Single(CliResult result) => Assert.Single(result.JsonLines);
}
