using ChatWire.Gateway.Conversations;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace ChatWire.Gateway.Tests;

// docs/security.md, "Reading": HISTORY and SYNC read the store in turn with the user's other reads on the node, so
// one account pipelining reads on many connections cannot hold every thread. Shown from outside: while the user's
// turn is held, neither is answered; once it is given back, both are.
public sealed class ReadTurnTests
{
    [Fact]
    public async Task HistoryAndSync_WaitForTheUsersReadTurn_ThenAnswer()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, _, dm) = await DeliveryTests.DmPairAsync(server);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);
        var hello = await client.SendTextAsync(dm, "hello");
        var gate = server.Server.App.Services.GetRequiredService<ReadGate>();

        foreach (var read in new Func<Task>[]
        {
            async () =>
            {
                await client.SendAsync(new History(client.NextRequestId(), dm, 0, HistoryDirection.Before, 10));
                Assert.Contains((await client.ExpectAsync<HistoryPage>(TimeSpan.FromSeconds(30))).Events, e => e.Seq == hello.Seq);
            },
            async () =>
            {
                await client.SendAsync(new Sync(client.NextRequestId(), Guid.Empty, 100));
                Assert.Contains((await client.ExpectAsync<SyncPage>(TimeSpan.FromSeconds(30))).Conversations, c => c.ConversationId == dm);
            },
        })
        {
            var turn = await gate.EnterAsync(alice.UserId);
            var answered = read();
            await Task.Delay(TimeSpan.FromMilliseconds(500));
            var answeredWhileHeld = answered.IsCompleted;
            turn.Dispose();
            await answered;

            Assert.False(answeredWhileHeld);
        }
    }
}
