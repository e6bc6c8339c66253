using System.Text.Json;
using ChatWire.Cli;
using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// send, history and listen run in-process and speak the TCP protocol to the real gateway that server-info announces.
public sealed class CliTcpCommandTests : IClassFixture<ServerFixture>, IDisposable
{
    private readonly TestServer _server;
    private readonly CliHarness _cli;

    public CliTcpCommandTests(ServerFixture fixture)
    {
        _server = fixture.Server;
        _cli = new CliHarness(_server);
    }

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Send_ConnectsAuthenticatesSends_PrintsMessageIdAndSeq()
    {
        var crew = await Crew.CreateAsync(_server);
        _cli.LogIn(crew.Alice);

        var result = await _cli.RunAsync("--json", "send", crew.GeneralId.ToString(), "hello", "world");

        Assert.Equal(CliApp.ExitOk, result.Exit);
        var line = Assert.Single(result.JsonLines);
        Assert.Equal(["conversation_id", "message_id", "seq", "sent_at", "encrypted"], CliResult.Keys(line));
        Assert.Equal(crew.GeneralId, line.GetProperty("conversation_id").GetGuid());

        // A profile written without signup or login here has no keys: plaintext, as before, with a warning.
        Assert.False(line.GetProperty("encrypted").GetBoolean());
        Assert.Contains("not end-to-end encrypted", result.Stderr, StringComparison.Ordinal);
        Assert.Equal(Crew.FirstMessageSeq, line.GetProperty("seq").GetUInt64());

        // The CLI hangs up once done; what it sent is stored as the profile's user and device.
        await _server.WaitForMetricAsync("chatwire_connections", "state=\"authenticated\"", count => count == 0);
        var stored = Assert.Single(await HistoryAsync(crew.Bob, crew.GeneralId));
        Assert.Equal(line.GetProperty("message_id").GetGuid(), stored.EventId);
        Assert.Equal(("hello world", crew.Alice.UserId, crew.Alice.DeviceId), (Sdk.Text(stored), stored.SenderUserId, stored.SenderDeviceId));
    }

    [Fact]
    public async Task Send_ChannelByNameAndTextFromStdin_Sends()
    {
        var crew = await Crew.CreateAsync(_server);
        _cli.LogIn(crew.Alice);

        var result = await _cli.RunWithStdinAsync("from stdin\n", "--json", "send", "general", "-");

        Assert.Equal(CliApp.ExitOk, result.Exit);
        Assert.Equal(crew.GeneralId, Assert.Single(result.JsonLines).GetProperty("conversation_id").GetGuid());
        Assert.Equal("from stdin", Sdk.Text(Assert.Single(await HistoryAsync(crew.Bob, crew.GeneralId))));
    }

    [Fact]
    public async Task Send_ServerRefuses_PrintsTheErrorAndExitsOne()
    {
        var alice = await _server.SignupAsync();
        var stranger = await _server.SignupAsync();
        var (_, strangersGeneral) = await stranger.CreateTeamAsync();
        _cli.LogIn(alice);

        var result = await _cli.RunAsync("--json", "send", strangersGeneral.ToString(), "hello");

        Assert.Equal(CliApp.ExitFailed, result.Exit);
        var error = Assert.Single(result.JsonLines).GetProperty("error");
        Assert.Equal(4001, error.GetProperty("code").GetInt32());
        Assert.Equal("NOT_A_MEMBER", error.GetProperty("name").GetString());
        Assert.Equal("You are not a member of this conversation.", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task History_MoreThanOnePage_PrintsTheNewestOldestFirst()
    {
        var crew = await Crew.CreateAsync(_server);
        await using (var connection = await Sdk.ConnectAsync(crew.Bob))
        {
            // More than one HISTORY page (the server's page limit is 200); sent together, so each text's seq comes from its ack.
            var sends = Enumerable.Range(1, 205).Select(i => connection.SendTextAsync(crew.GeneralId, $"m{i}")).ToList();
            await Task.WhenAll(sends).WaitAsync(Patience.Default * 3);
        }

        _cli.LogIn(crew.Alice);
        var history = await HistoryAsync(crew.Bob, crew.GeneralId, limit: 200);

        var result = await _cli.RunAsync("--json", "history", crew.GeneralId.ToString(), "--limit", "203");

        Assert.Equal(CliApp.ExitOk, result.Exit);
        // The channel's events are its two MEMBER_JOINED (seqs 1, 2) and m1..m205 (3..207): the newest 203 are 5..207.
        Assert.Equal(Enumerable.Range(5, 203).Select(seq => (ulong)seq), result.JsonLines.Select(line => line.GetProperty("seq").GetUInt64()));
        Assert.Equal(
            history.Select(message => (message.EventId, Sdk.Text(message))),
            result.JsonLines.Skip(3).Select(line => (line.GetProperty("message_id").GetGuid(), line.GetProperty("text").GetString()!)));
    }

    [Fact]
    public async Task History_ConversationStartReached_StopsEarly()
    {
        var crew = await Crew.CreateAsync(_server);
        await using (var connection = await Sdk.ConnectAsync(crew.Bob))
        {
            await connection.SendTextAsync(crew.GeneralId, "first").WaitAsync(Patience.Default);
            await connection.SendTextAsync(crew.GeneralId, "second").WaitAsync(Patience.Default);
        }

        _cli.LogIn(crew.Alice);

        var result = await _cli.RunAsync("--json", "history", "general");

        // Every event of the channel, oldest first: alice created it, bob joined, then the two messages.
        Assert.Equal(CliApp.ExitOk, result.Exit);
        Assert.Equal([1UL, 2, 3, 4], result.JsonLines.Select(line => line.GetProperty("seq").GetUInt64()));
        Assert.Equal(["member_joined", "member_joined", "message", "message"], result.JsonLines.Select(line => line.GetProperty("type").GetString()));
        Assert.Equal([crew.Alice.UserId, crew.Bob.UserId], result.JsonLines.Take(2).Select(line => line.GetProperty("user_id").GetGuid()));
        Assert.Equal(["first", "second"], result.JsonLines.Skip(2).Select(line => line.GetProperty("text").GetString()));
        Assert.All(result.JsonLines.Skip(1), line => Assert.Equal(crew.Bob.UserId, line.GetProperty("sender").GetGuid()));
    }

    [Fact]
    public async Task Listen_PrintsReadyThenMessages_ExitsZeroWhenCancelled()
    {
        var crew = await Crew.CreateAsync(_server);
        _cli.LogIn(crew.Alice);
        var stdout = new LineWriter();
        using var stop = new CancellationTokenSource();

        var running = CliApp.RunAsync(["--json", "listen"], _cli.Context(string.Empty, stdout, new StringWriter()), stop.Token);
        Assert.Equal("""{"type":"ready"}""", await stdout.NextLineAsync());
        SendResult sent;
        await using (var sender = await Sdk.ConnectAsync(crew.Bob))
        {
            sent = await sender.SendTextAsync(crew.GeneralId, "live one").WaitAsync(Patience.Default);
        }

        var line = JsonDocument.Parse(await stdout.NextLineAsync()).RootElement;
        await stop.CancelAsync();
        var exit = await running.WaitAsync(Patience.Default);

        Assert.Equal(CliApp.ExitOk, exit);
        Assert.Equal("message", line.GetProperty("type").GetString());
        Assert.Equal(sent.MessageId, line.GetProperty("message_id").GetGuid());
        Assert.Equal(sent.Seq, line.GetProperty("seq").GetUInt64());
        Assert.Equal(crew.GeneralId, line.GetProperty("conversation_id").GetGuid());
        Assert.Equal("live one", line.GetProperty("text").GetString());
        Assert.Equal(crew.Bob.UserId, line.GetProperty("sender").GetGuid());
        Assert.Equal(crew.Bob.DeviceId, line.GetProperty("sender_device").GetGuid());
        Assert.Empty(stdout.Remaining());
        await _server.WaitForMetricAsync("chatwire_connections", "state=\"authenticated\"", count => count == 0);
    }

    // Regression: listen showed nothing of a message sent, while it was reconnecting, into a conversation it
    // had not printed anything from yet.
    [Fact]
    public async Task Listen_Reconnects_PrintsWhatWasMissedInConversationsItHadNotSeen()
    {
        var dataDirectory = TestServer.NewDataDirectory();
        var ports = TestServer.FixedPortOverrides();
        TestServer? third = null;
        using var stop = new CancellationTokenSource();
        Task<int>? running = null;
        try
        {
            Crew crew;
            Guid quietDm;
            var stdout = new LineWriter();
            var first = await TestServer.StartAsync(ports, dataDirectory);
            using var cli = new CliHarness(first);
            await using (first)
            {
                crew = await Crew.CreateAsync(first);
                quietDm = await crew.Alice.OpenDmAsync(crew.Bob.Username);
                cli.LogIn(crew.Bob);
                running = CliApp.RunAsync(["--json", "listen"], cli.Context(string.Empty, stdout, new StringWriter()), stop.Token);
                Assert.Equal("""{"type":"ready"}""", await stdout.NextLineAsync());
            }

            Assert.Equal("reconnecting", JsonDocument.Parse(await stdout.NextLineAsync()).RootElement.GetProperty("state").GetString());
            // The listener cannot get back in while this server runs: its TCP and Noise listeners are elsewhere.
            var elsewhere = new Dictionary<string, string?>(ports) { ["Gateway:TcpEndpoint"] = "127.0.0.1:0", ["Gateway:NoiseEndpoint"] = "127.0.0.1:0" };
            Guid channel;
            await using (var second = await TestServer.StartAsync(elsewhere, dataDirectory))
            {
                var alice = crew.Alice with { Server = second };
                channel = (await alice.CallAsync(HttpMethod.Post, $"v1/teams/{crew.TeamId}/channels", new { name = "news" })).GetProperty("conversation_id").GetGuid();
                await alice.CallAsync(HttpMethod.Post, $"v1/channels/{channel}/members", new { user_id = crew.Bob.UserId });
                await using var sender = await Sdk.ConnectAsync(alice, ReconnectPolicy.Disabled, port: second.TcpEndPoint.Port);
                await sender.SendTextAsync(quietDm, "while you were away").WaitAsync(Patience.Default);
                await sender.SendTextAsync(channel, "news!").WaitAsync(Patience.Default);
            }

            third = await TestServer.StartAsync(ports, dataDirectory);
            var lines = new List<JsonElement>();
            while (lines.Count(l => l.GetProperty("type").GetString() == "message") < 2)
            {
                // Connection states and the presence of alice (watched: bob and she share a DM) come between.
                var line = JsonDocument.Parse(await stdout.NextLineAsync()).RootElement.Clone();
                if (line.GetProperty("type").GetString() is not "connection" and not "presence")
                {
                    lines.Add(line);
                }
            }

            await using (var sender = await Sdk.ConnectAsync(crew.Alice with { Server = third }, ReconnectPolicy.Disabled))
            {
                await sender.SendTextAsync(quietDm, "live again").WaitAsync(Patience.Default);
            }

            // The next message line is the live one: nothing missed comes twice.
            JsonElement next;
            do
            {
                next = JsonDocument.Parse(await stdout.NextLineAsync()).RootElement.Clone();
            }
            while (next.GetProperty("type").GetString() == "presence");

            Assert.Equal("live again", next.GetProperty("text").GetString());
            Assert.Equal("while you were away", Assert.Single(lines, l => l.GetProperty("conversation_id").GetGuid() == quietDm).GetProperty("text").GetString());
            var news = lines.Where(l => l.GetProperty("conversation_id").GetGuid() == channel).ToList();

            // First the read position bob has in a channel he was added to meanwhile: his own member_joined, seq 2.
            Assert.Equal(["read", "member_joined", "member_joined", "message"], news.Select(l => l.GetProperty("type").GetString()));
            Assert.Equal((2UL, 1), (news[0].GetProperty("read_seq").GetUInt64(), news[0].GetProperty("unread_count").GetInt32()));
            Assert.Equal([1UL, 2UL, 3UL], news.Skip(1).Select(l => l.GetProperty("seq").GetUInt64()));
            Assert.Equal(crew.Bob.UserId, news[2].GetProperty("user_id").GetGuid());
            Assert.Equal("news!", news[3].GetProperty("text").GetString());
        }
        finally
        {
            await stop.CancelAsync();
            if (running is not null)
            {
                Assert.Equal(CliApp.ExitOk, await running.WaitAsync(Patience.Default));
            }

            if (third is not null)
            {
                await third.DisposeAsync();
            }

            TestServer.DeleteDirectory(dataDirectory);
        }
    }

    [Fact]
    public async Task Listen_SessionRevoked_PrintsTheErrorAndExitsOne()
    {
        var crew = await Crew.CreateAsync(_server);
        _cli.LogIn(crew.Alice);
        var stdout = new LineWriter();

        var running = CliApp.RunAsync(["--json", "listen"], _cli.Context(string.Empty, stdout, new StringWriter()), CancellationToken.None);
        Assert.Equal("""{"type":"ready"}""", await stdout.NextLineAsync());
        await crew.Alice.CallAsync(HttpMethod.Delete, $"v1/sessions/{crew.Alice.DeviceId}");
        var exit = await running.WaitAsync(Patience.Default);
        var error = JsonDocument.Parse(await stdout.NextLineAsync()).RootElement.GetProperty("error");

        Assert.Equal(CliApp.ExitFailed, exit);
        Assert.Equal(2005, error.GetProperty("code").GetInt32());
        Assert.Equal("SESSION_REVOKED", error.GetProperty("name").GetString());
    }

    private static async Task<IReadOnlyList<ConversationEvent>> HistoryAsync(TestUser user, Guid conversationId, int limit = 50)
    {
        await using var connection = await Sdk.ConnectAsync(user);
        return Sdk.Messages(await connection.GetHistoryAsync(conversationId, 0, HistoryDirection.Before, limit).WaitAsync(Patience.Default));
    }
}
