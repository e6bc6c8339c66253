using System.Text.Json;
using ChatWire.Cli;
using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.Client.Tests;

// send, history and listen run in-process against a scripted TCP peer that server-info points to.
public sealed class CliTcpCommandTests : IDisposable
{
    private const string Conversation = "0190a0b2-0000-7000-8000-0000000000c1";

    private readonly CliHarness _cli = new();

    public CliTcpCommandTests() => _cli.LogIn();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Send_ConnectsAuthenticatesSends_PrintsMessageIdAndSeq()
    {
        await using var peer = ScriptedPeer.Start();
        _cli.ServeInfoFor(peer);

        var running = _cli.RunAsync("--json", "send", Conversation, "hello", "world");
        await using var link = await peer.AcceptAsync();
        var (_, auth) = await link.HandshakeAsync();
        var send = await link.ReadAsync<Send>();
        await link.WriteAsync(new SendAck(send.RequestId, send.ConversationId, send.MessageId, 12, 1_700_000_000_000));
        var result = await running.WaitAsync(ScriptedPeer.Patience);

        Assert.Equal(CliApp.ExitOk, result.Exit);
        Assert.Equal("token-alice", auth.SessionToken);
        Assert.Equal(CliHarness.DeviceId, auth.DeviceId);
        Assert.Equal("hello world"u8.ToArray(), send.Content.ToArray());
        var line = Assert.Single(result.JsonLines);
        Assert.Equal(["conversation_id", "message_id", "seq", "sent_at"], CliResult.Keys(line));
        Assert.Equal(send.MessageId.ToString(), line.GetProperty("message_id").GetString());
        Assert.Equal(12UL, line.GetProperty("seq").GetUInt64());
        Assert.True(await link.ClientClosedAsync());
    }

    [Fact]
    public async Task Send_ServerRefuses_PrintsTheErrorAndExitsOne()
    {
        await using var peer = ScriptedPeer.Start();
        _cli.ServeInfoFor(peer);

        var running = _cli.RunAsync("--json", "send", Conversation, "hello");
        await using var link = await peer.AcceptAsync();
        await link.HandshakeAsync();
        var send = await link.ReadAsync<Send>();
        await link.WriteAsync(new ErrorFrame(send.RequestId, ErrorCode.NotAMember, "Not a member of this conversation."));
        var result = await running.WaitAsync(ScriptedPeer.Patience);

        Assert.Equal(CliApp.ExitFailed, result.Exit);
        var error = Assert.Single(result.JsonLines).GetProperty("error");
        Assert.Equal(4001, error.GetProperty("code").GetInt32());
        Assert.Equal("NOT_A_MEMBER", error.GetProperty("name").GetString());
    }

    [Fact]
    public async Task History_PagesBeforeFromZeroThenBeforeOldest_PrintsOldestFirst()
    {
        await using var peer = ScriptedPeer.Start();
        _cli.ServeInfoFor(peer, maxHistoryLimit: 2);
        var conversation = Guid.Parse(Conversation);

        var running = _cli.RunAsync("--json", "history", Conversation, "--limit", "5");
        await using var link = await peer.AcceptAsync();
        await link.HandshakeAsync();
        var requests = new List<History>();
        foreach (var (seqs, hasMore) in new[] { (new ulong[] { 9, 10 }, true), ([7, 8], true), ([6], true) })
        {
            var history = await link.ReadAsync<History>();
            requests.Add(history);
            await link.WriteAsync(new HistoryPage(history.RequestId, conversation, seqs.Select(seq => PeerLink.Message(conversation, seq, $"m{seq}")).ToList(), hasMore));
        }

        var result = await running.WaitAsync(ScriptedPeer.Patience);

        Assert.Equal(CliApp.ExitOk, result.Exit);
        Assert.Equal([(0UL, 2u), (9UL, 2u), (7UL, 1u)], requests.Select(request => (request.FromSeq, request.Limit)));
        Assert.All(requests, request => Assert.Equal(HistoryDirection.Before, request.Direction));
        Assert.Equal([6UL, 7, 8, 9, 10], result.JsonLines.Select(line => line.GetProperty("seq").GetUInt64()));
        Assert.Equal("m6", result.JsonLines[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task History_ConversationStartReached_StopsEarly()
    {
        await using var peer = ScriptedPeer.Start();
        _cli.ServeInfoFor(peer);
        var conversation = Guid.Parse(Conversation);

        var running = _cli.RunAsync("--json", "history", Conversation);
        await using var link = await peer.AcceptAsync();
        await link.HandshakeAsync();
        var history = await link.ReadAsync<History>();
        await link.WriteAsync(new HistoryPage(history.RequestId, conversation, [PeerLink.Message(conversation, 1), PeerLink.Message(conversation, 2)], false));
        var result = await running.WaitAsync(ScriptedPeer.Patience);

        Assert.Equal((0UL, 20u), (history.FromSeq, history.Limit));
        Assert.Equal([1UL, 2], result.JsonLines.Select(line => line.GetProperty("seq").GetUInt64()));
    }

    [Fact]
    public async Task Listen_PrintsReadyThenMessages_ExitsZeroWhenCancelled()
    {
        await using var peer = ScriptedPeer.Start();
        _cli.ServeInfoFor(peer);
        var stdout = new LineWriter();
        using var stop = new CancellationTokenSource();
        var conversation = Guid.Parse(Conversation);

        var running = CliApp.RunAsync(["--json", "listen"], _cli.Context(string.Empty, stdout, new StringWriter()), stop.Token);
        await using var link = await peer.AcceptAsync();
        await link.HandshakeAsync();
        Assert.Equal("""{"type":"ready"}""", await stdout.NextLineAsync());
        var message = PeerLink.Message(conversation, 3, "live one");
        await link.WriteAsync(new MessageEvent(message));
        var line = JsonDocument.Parse(await stdout.NextLineAsync()).RootElement;
        await stop.CancelAsync();
        var exit = await running.WaitAsync(ScriptedPeer.Patience);

        Assert.Equal(CliApp.ExitOk, exit);
        Assert.Equal("message", line.GetProperty("type").GetString());
        Assert.Equal(message.MessageId.ToString(), line.GetProperty("message_id").GetString());
        Assert.Equal("live one", line.GetProperty("text").GetString());
        Assert.Equal(PeerLink.UserId.ToString(), line.GetProperty("sender").GetString());
        Assert.True(await link.ClientClosedAsync());
    }

    [Fact]
    public async Task Listen_SessionRevoked_PrintsTheErrorAndExitsOne()
    {
        await using var peer = ScriptedPeer.Start();
        _cli.ServeInfoFor(peer);
        var stdout = new LineWriter();

        var running = CliApp.RunAsync(["--json", "listen"], _cli.Context(string.Empty, stdout, new StringWriter()), CancellationToken.None);
        await using var link = await peer.AcceptAsync();
        await link.HandshakeAsync();
        Assert.Equal("""{"type":"ready"}""", await stdout.NextLineAsync());
        await link.WriteAsync(new ErrorFrame(0, ErrorCode.SessionRevoked, "This device's session was revoked."));
        var exit = await running.WaitAsync(ScriptedPeer.Patience);
        var error = JsonDocument.Parse(await stdout.NextLineAsync()).RootElement.GetProperty("error");

        Assert.Equal(CliApp.ExitFailed, exit);
        Assert.Equal(2005, error.GetProperty("code").GetInt32());
        Assert.Equal("SESSION_REVOKED", error.GetProperty("name").GetString());
    }
}
