using ChatWire.Gateway.Conversations;
using ChatWire.Gateway.Hosting;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Tests.Units;

// HISTORY and SYNC reads: one at a time per user, a bounded number on the node (docs/security.md, "Reading").
public sealed class ReadGateTests
{
    [Fact]
    public async Task OneUser_SecondReadWaitsForTheFirst_AnotherUserDoesNot()
    {
        var gate = new ReadGate(Options.Create(new GatewayOptions { MaxStoreReadsInFlight = 8 }));
        var alice = Guid.CreateVersion7();

        var first = await gate.EnterAsync(alice);
        var second = gate.EnterAsync(alice).AsTask();
        var bob = await gate.EnterAsync(Guid.CreateVersion7());
        var waitedWhileHeld = !second.IsCompleted;
        first.Dispose();
        (await second).Dispose();
        bob.Dispose();

        Assert.True(waitedWhileHeld);
        Assert.Equal(0, gate.Users);
    }

    [Fact]
    public async Task TheNode_AtItsBound_TheNextUserWaits_UntilOneIsDone()
    {
        var gate = new ReadGate(Options.Create(new GatewayOptions { MaxStoreReadsInFlight = 2 }));

        var one = await gate.EnterAsync(Guid.CreateVersion7());
        var two = await gate.EnterAsync(Guid.CreateVersion7());
        var three = gate.EnterAsync(Guid.CreateVersion7()).AsTask();
        var waitedWhileFull = !three.IsCompleted;
        two.Dispose();
        (await three).Dispose();
        one.Dispose();

        Assert.True(waitedWhileFull);
        Assert.Equal(0, gate.Users);
    }
}
