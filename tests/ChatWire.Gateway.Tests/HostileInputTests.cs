using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Protocol.Tests;

namespace ChatWire.Gateway.Tests;

// The seeded hostile corpus of the protocol suite, sent to the running gateway. Every
// case is answered with its documented code, the server stays up, other clients notice nothing, and
// nothing acknowledged is lost.
public sealed class HostileInputTests
{
    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task HostileCorpus_AfterAuth_EachAnsweredWithItsCode_OthersUnaffected_NothingLost(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        await using var sender = await RawClient.ConnectAuthenticatedAsync(alice);
        await using var bystander = await RawClient.ConnectAuthenticatedAsync(bob);
        var before = await sender.SendTextAsync(dm, "acknowledged before the attack");

        // Past the DM's MEMBER_JOINED events, which may still reach a connection made right after them.
        await bystander.ExpectMessageAsync();
        var mallory = await server.SignupAsync();
        await using var attacker = await RawClient.ConnectAuthenticatedAsync(mallory);

        var mismatches = new List<string>();
        var marker = 1_000_000u;
        foreach (var (name, frame, expected) in HostileCorpus.Cases)
        {
            await attacker.SendRawAsync(frame);
            var error = await attacker.ExpectErrorAsync();
            if (error.Code != expected)
            {
                mismatches.Add($"{name}: expected {ErrorCodes.Name(expected)}, got {error.Name} ({error.Message})");
            }

            // A PING after each case proves the connection is still open and nothing else is pending.
            await attacker.SendAsync(new Ping(++marker));
            Assert.Equal(marker, (await attacker.ExpectAsync<Pong>()).RequestId);
        }

        Assert.Empty(mismatches);
        Assert.True(HostileCorpus.Cases.Count > 200);
        var after = await sender.SendTextAsync(dm, "and after it");
        Assert.Equal(before.Seq + 1, after.Seq);
        Assert.Equal(after.MessageId, (await bystander.ExpectMessageAsync()).EventId);
        await using var fresh = await RawClient.ConnectAuthenticatedAsync(bob);
        await fresh.SendAsync(new History(1, dm, 0, HistoryDirection.After, 10));
        var page = await fresh.ExpectAsync<HistoryPage>();
        Assert.Equal([before.MessageId, after.MessageId], page.Events.Where(e => e.Kind == EventKind.Message).Select(m => m.EventId));
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task HostileCorpus_BeforeAuth_EachClosesItsConnectionWithAnError(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var alice = await server.SignupAsync();

        foreach (var (name, frame, _) in HostileCorpus.Cases.Take(40))
        {
            await using var client = await RawClient.ConnectAsync(server);
            await client.HelloAsync();
            await client.SendRawAsync(frame);
            var error = await client.ExpectErrorAsync();
            Assert.True(error.Code is ErrorCode.NotAuthenticated or ErrorCode.MalformedFrame or ErrorCode.FrameTooLarge or ErrorCode.InvalidField or ErrorCode.ContentTooLarge, $"{name}: {error.Name}");
            await client.ExpectClosedAsync();
        }

        await using var healthy = await RawClient.ConnectAuthenticatedAsync(alice);
        await healthy.SendAsync(new Ping(9));
        Assert.Equal(9u, (await healthy.ExpectAsync<Pong>()).RequestId);
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task ByteByByte_ValidFrames_AreReassembled(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var (alice, _, dm) = await DeliveryTests.DmPairAsync(server);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        FrameCodec.Write(buffer, new Send(70, dm, Guid.CreateVersion7(), "text/plain", "one byte at a time"u8.ToArray()));

        foreach (var b in buffer.WrittenSpan.ToArray())
        {
            await client.SendRawAsync(new[] { b });
        }

        var ack = await client.ExpectAsync<SendAck>();
        Assert.Equal((70u, 3ul), (ack.RequestId, ack.Seq));
    }
}
