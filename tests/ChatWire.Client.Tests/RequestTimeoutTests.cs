using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Storage.Messages;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// ChatWireConnectionOptions.RequestTimeout: a node whose store stalls keeps the link alive (heartbeats answer) but
// does not answer the request; the app's call fails after the timeout instead of hanging, and the connection goes on.
public sealed class RequestTimeoutTests
{
    [Fact]
    public async Task AnswerHeldPastTheTimeout_CallThrowsTimeout_ConnectionStaysUp_TheLateAnswerIsDropped()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holdNext = 0;
        // Once armed, the next read mark's store call waits for the test; every other call goes straight to the store
        // (joining a conversation marks the newcomer's read position too, so it is armed after the crew is set up).
        await using var server = await TestServer.StartAsync(replaceServices: services => MessageStoreProxy.Replace(services, (store, method, args) =>
            method.Name == nameof(IMessageStore.MarkReadAsync) && Interlocked.Exchange(ref holdNext, 0) == 1
                ? HeldAsync(() => store.MarkReadAsync((Guid)args[0]!, (Guid)args[1]!, (ulong)args[2]!, (CancellationToken)args[3]!))
                : null));
        var crew = await Crew.CreateAsync(server);
        Volatile.Write(ref holdNext, 1);
        // Every request of this connection gets the timeout, the SENDs' durable commits too: long enough for those on a
        // busy machine; the held READ waits for the test, however long it is.
        await using var alice = await ChatWireConnection.ConnectAsync(Sdk.Options(crew.Alice) with { RequestTimeout = TimeSpan.FromSeconds(5) })
            .WaitAsync(Patience.Default);
        var sent = await alice.SendTextAsync(crew.GeneralId, "read me");

        var timedOut = await Assert.ThrowsAsync<TimeoutException>(() => alice.MarkReadAsync(crew.GeneralId, sent.Seq).WaitAsync(Patience.Default));
        await reached.Task.WaitAsync(Patience.Default);

        Assert.Contains("did not answer READ within 5 s", timedOut.Message, StringComparison.Ordinal);
        Assert.Equal(ConnectionState.Connected, alice.State);
        release.SetResult();
        await alice.PingAsync().WaitAsync(Patience.Default);
        var again = await alice.MarkReadAsync(crew.GeneralId, sent.Seq).WaitAsync(Patience.Default);
        var next = await alice.SendTextAsync(crew.GeneralId, "still connected").WaitAsync(Patience.Default);
        Assert.Equal(sent.Seq + 1, next.Seq);
        Assert.Equal(ConnectionState.Connected, alice.State);
        Assert.True(again.ServerTime > DateTimeOffset.UnixEpoch);

        async Task<ConversationStats> HeldAsync(Func<Task<ConversationStats>> call)
        {
            reached.TrySetResult();
            await release.Task;
            return await call();
        }
    }
}
