using System.Net;
using System.Security.Cryptography;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;
using static ChatWire.Gateway.Tests.Infrastructure.E2eKeys;
using static ChatWire.Gateway.Tests.KeyBundleApiTests;

namespace ChatWire.Gateway.Tests;

// SEND and EDIT of end-to-end content (docs/protocol.md §4.8, §4.16): the current epoch, and a distribution
// complete for the current roster, or the server refuses before anything is stored.
public sealed class E2eSendTests
{
    [Fact]
    public async Task Send_CompleteDistributionOfCurrentEpoch_SendAck_PlaintextNeedsNothing()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, bob, _, general) = await ChannelAsync(server);
        await PublishAsync(alice, bob);
        var epoch = await EpochAsync(alice, general);
        var chain = await DistributeAsync(alice, general, epoch, alice, bob);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);

        var ack = await SendE2eAsync(client, general, epoch, chain);
        var plain = await client.SendTextAsync(general, "hello");

        Assert.True(ack.Seq > 0);
        Assert.True(plain.Seq > ack.Seq);
    }

    [Fact]
    public async Task Send_WithoutSixteenByteDistributionId_InvalidField()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, _, _, general) = await ChannelAsync(server);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);

        await client.SendAsync(new Send(client.NextRequestId(), general, Guid.CreateVersion7(), ContentType, Envelope()) { MembershipEpoch = 1 });
        var missing = await client.ExpectErrorAsync();
        await client.SendAsync(new Send(client.NextRequestId(), general, Guid.CreateVersion7(), ContentType, Envelope()) { MembershipEpoch = 1, DistributionId = new byte[32] });
        var tooLong = await client.ExpectErrorAsync();

        Assert.Equal(ErrorCode.InvalidField, missing.Code);
        Assert.Equal(ErrorCode.InvalidField, tooLong.Code);
    }

    [Fact]
    public async Task Send_IncompleteUnknownOrOtherDevicesDistribution_DistributionMismatch()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, bob, _, general) = await ChannelAsync(server);
        await PublishAsync(alice, bob);
        var epoch = await EpochAsync(alice, general);
        var incomplete = Guid.CreateVersion7();
        Assert.Equal(HttpStatusCode.OK, (await UploadAsync(alice, general, incomplete, epoch, false, (alice.UserId, 1))).StatusCode);
        var bobsChain = await DistributeAsync(bob, general, epoch, alice, bob);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);

        var notFinal = await SendE2eRefusedAsync(client, general, epoch, incomplete);
        var unknown = await SendE2eRefusedAsync(client, general, epoch, Guid.CreateVersion7());
        var othersChain = await SendE2eRefusedAsync(client, general, epoch, bobsChain);

        Assert.Equal(ErrorCode.DistributionMismatch, notFinal.Code);
        Assert.Contains($"/v1/conversations/{general}/e2e", notFinal.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCode.DistributionMismatch, unknown.Code);
        Assert.Equal(ErrorCode.DistributionMismatch, othersChain.Code);
    }

    [Fact]
    public async Task Send_AfterMemberRemoval_OldEpochStaleEpoch_NewChainForNewEpochAccepted()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var carol = await server.SignupAsync();
        var (team, general) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(team));
        await carol.JoinAsync(await alice.InviteAsync(team));
        await PublishAsync(alice, bob, carol);
        var epoch = await EpochAsync(alice, general);
        var chain = await DistributeAsync(alice, general, epoch, alice, bob, carol);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);
        await SendE2eAsync(client, general, epoch, chain);

        await alice.CallAsync(HttpMethod.Delete, $"v1/teams/{team}/members/{carol.UserId}");
        var newEpoch = await EpochAsync(alice, general);
        var stale = await SendE2eRefusedAsync(client, general, epoch, chain);
        var oldChainNewEpoch = await SendE2eRefusedAsync(client, general, newEpoch, chain);
        var carolsStaleUpload = await UploadAsync(alice, general, Guid.CreateVersion7(), epoch, false, (bob.UserId, 1));
        var next = await DistributeAsync(alice, general, newEpoch, alice, bob);
        var ack = await SendE2eAsync(client, general, newEpoch, next);

        Assert.True(newEpoch > epoch, $"epoch {epoch} → {newEpoch}");
        Assert.Equal(ErrorCode.StaleEpoch, stale.Code);
        Assert.Equal(ErrorCode.DistributionMismatch, oldChainNewEpoch.Code);
        Assert.Equal(HttpStatusCode.Conflict, carolsStaleUpload.StatusCode);
        Assert.True(ack.Seq > 0);
    }

    [Fact]
    public async Task Send_AfterMemberJoins_MismatchUntilTheNewcomerIsSealedTo()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var carol = await server.SignupAsync();
        var (team, general) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(team));
        await PublishAsync(alice, bob, carol);
        var epoch = await EpochAsync(alice, general);
        var chain = await DistributeAsync(alice, general, epoch, alice, bob);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);

        await carol.JoinAsync(await alice.InviteAsync(team));
        var joinedEpoch = await EpochAsync(alice, general);
        var refused = await SendE2eRefusedAsync(client, general, joinedEpoch, chain);
        var topUp = await UploadAsync(alice, general, chain, joinedEpoch, true, (carol.UserId, 1));
        var ack = await SendE2eAsync(client, general, joinedEpoch, chain);

        Assert.Equal(epoch, joinedEpoch);
        Assert.Equal(ErrorCode.DistributionMismatch, refused.Code);
        Assert.Equal(HttpStatusCode.OK, topUp.StatusCode);
        Assert.True(ack.Seq > 0);
    }

    // docs/http-api.md, "Sealed seeds": a distribution is complete for one roster version. A recipient publishing a
    // new device list moves the roster although, in history mode, whom to seal to is the same: the chain is refused
    // until the sender finalizes it again, with an empty chunk, since nobody is missing.
    [Fact]
    public async Task Send_AfterARecipientsNewDeviceList_MismatchUntilFinalizedAgain_WithNoNewSeed()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var (team, general) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(team));
        await PublishAsync(alice);
        using var bobKeys = new E2eKeys(bob);
        await bobKeys.PublishAsync();
        var epoch = await EpochAsync(alice, general);
        var chain = await DistributeAsync(alice, general, epoch, alice, bob);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);
        var before = await SendE2eAsync(client, general, epoch, chain);

        await bob.CallAsync(HttpMethod.Put, "v1/keys/device-list", bobKeys.DeviceListBody(2, bobKeys));
        var refused = await SendE2eRefusedAsync(client, general, epoch, chain);
        var finalized = await UploadAsync(alice, general, chain, epoch, true);
        var after = await SendE2eAsync(client, general, epoch, chain);

        Assert.Equal(epoch, await EpochAsync(alice, general));
        Assert.Equal(ErrorCode.DistributionMismatch, refused.Code);
        Assert.Equal(HttpStatusCode.OK, finalized.StatusCode);
        Assert.True(after.Seq > before.Seq);
    }

    [Fact]
    public async Task Resend_OfAStoredMessage_AfterTheRosterChanged_AnsweredWithItsSeq_ANewMessageRefused()
    {
        // The SEND_ACK was lost; meanwhile Carol joined and Dave was removed, so the old chain and epoch no longer
        // let a new message through. The resend, the same message as sent, still learns its seq.
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var carol = await server.SignupAsync();
        var dave = await server.SignupAsync();
        var (team, general) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(team));
        await dave.JoinAsync(await alice.InviteAsync(team));
        await PublishAsync(alice, bob, carol, dave);
        var epoch = await EpochAsync(alice, general);
        var chain = await DistributeAsync(alice, general, epoch, alice, bob, dave);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);
        var sent = E2eSend(client.NextRequestId(), general, epoch, chain, null);
        await client.SendAsync(sent);
        var ack = await client.ExpectAsync<SendAck>();

        await carol.JoinAsync(await alice.InviteAsync(team));
        var mismatch = sent with { RequestId = client.NextRequestId() };
        await client.SendAsync(mismatch);
        var afterJoin = await client.ExpectAsync<SendAck>();
        await alice.CallAsync(HttpMethod.Delete, $"v1/teams/{team}/members/{dave.UserId}");
        var stale = sent with { RequestId = client.NextRequestId() };
        await client.SendAsync(stale);
        var afterRemoval = await client.ExpectAsync<SendAck>();
        var otherBody = await SendE2eRefusedAsync(client, general, epoch, chain);

        Assert.Equal((mismatch.RequestId, ack.Seq), (afterJoin.RequestId, afterJoin.Seq));
        Assert.Equal((stale.RequestId, ack.Seq, ack.ServerTimeUnixMs), (afterRemoval.RequestId, afterRemoval.Seq, afterRemoval.ServerTimeUnixMs));
        Assert.Equal(ErrorCode.StaleEpoch, otherBody.Code);
    }

    [Fact]
    public async Task Resend_OfAMessageDeletedSince_AfterTheRosterChanged_StillAnsweredWithItsSeq()
    {
        // The store compares a resend with the message as first sent, so a deletion in between does not make the
        // resend of a lost SEND_ACK a new message that the changed roster refuses.
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var carol = await server.SignupAsync();
        var (team, general) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(team));
        await PublishAsync(alice, bob, carol);
        var epoch = await EpochAsync(alice, general);
        var chain = await DistributeAsync(alice, general, epoch, alice, bob);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);
        var sent = E2eSend(client.NextRequestId(), general, epoch, chain, null);
        await client.SendAsync(sent);
        var ack = await client.ExpectAsync<SendAck>();
        await client.SendAsync(new Delete(client.NextRequestId(), general, sent.MessageId));
        await client.ExpectAsync<Ok>();

        await carol.JoinAsync(await alice.InviteAsync(team));
        var resent = sent with { RequestId = client.NextRequestId() };
        await client.SendAsync(resent);
        var answer = await client.ExpectAsync<SendAck>();

        Assert.Equal((resent.RequestId, ack.Seq, ack.ServerTimeUnixMs), (answer.RequestId, answer.Seq, answer.ServerTimeUnixMs));
    }

    [Fact]
    public async Task Send_AboveMaxSenderChainMembers_AnyMembersEpochSecretDistributionAccepted()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Limits:MaxSenderChainMembers"] = "2" });
        var (alice, bob, carol, general) = await ChannelAsync(server);
        await PublishAsync(alice, bob, carol);
        var state = await StateAsync(bob, general);
        var epoch = state.GetProperty("epoch").GetInt64();
        var epochSecret = await DistributeAsync(alice, general, epoch, alice, bob, carol);
        await using var client = await RawClient.ConnectAuthenticatedAsync(bob);

        var ack = await SendE2eAsync(client, general, epoch, epochSecret);

        Assert.Equal((2, true), (state.GetProperty("max_sender_chain_members").GetInt32(), state.GetProperty("epoch_secret").GetBoolean()));
        Assert.True(ack.Seq > 0);
    }

    [Fact]
    public async Task Edit_EncryptionMustMatch_E2eOfE2eAndPlainOfPlainAccepted_AnyMixInvalidField()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, bob, _, general) = await ChannelAsync(server);
        await PublishAsync(alice, bob);
        var epoch = await EpochAsync(alice, general);
        var chain = await DistributeAsync(alice, general, epoch, alice, bob);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);
        var encrypted = Guid.CreateVersion7();
        var plain = Guid.CreateVersion7();
        await SendE2eAsync(client, general, epoch, chain, encrypted);
        await client.SendTextAsync(general, "plain", plain);

        await client.SendAsync(new Edit(client.NextRequestId(), general, encrypted, ContentType, Envelope()));
        var edited = await client.ExpectAsync<Ok>();
        await client.SendAsync(new Edit(client.NextRequestId(), general, plain, "text/plain", "plain, edited"u8.ToArray()));
        var plainEdited = await client.ExpectAsync<Ok>();
        await client.SendAsync(new Edit(client.NextRequestId(), general, plain, ContentType, Envelope()));
        var e2eOfPlain = await client.ExpectErrorAsync();

        // Regression: a plaintext edit of an encrypted message was stored, readable by the server.
        await client.SendAsync(new Edit(client.NextRequestId(), general, encrypted, "text/plain", "readable"u8.ToArray()));
        var plainOfE2e = await client.ExpectErrorAsync();

        Assert.True(edited.Seq > 0);
        Assert.True(plainEdited.Seq > edited.Seq);
        Assert.Equal(ErrorCode.InvalidField, e2eOfPlain.Code);
        Assert.Equal(ErrorCode.InvalidField, plainOfE2e.Code);
    }

    private static async Task PublishAsync(params TestUser[] users)
    {
        foreach (var user in users)
        {
            using var keys = new E2eKeys(user);
            await keys.PublishAsync();
        }
    }

    private static async Task<long> EpochAsync(TestUser user, Guid conversation) =>
        (await StateAsync(user, conversation)).GetProperty("epoch").GetInt64();

    // A history-mode distribution of a new chain to each user's generation 1, uploaded in one final request.
    private static async Task<Guid> DistributeAsync(TestUser sender, Guid conversation, long epoch, params TestUser[] recipients)
    {
        var chain = Guid.CreateVersion7();
        var response = await UploadAsync(sender, conversation, chain, epoch, true, recipients.Select(r => (r.UserId, 1)).ToArray());
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return chain;
    }

    private static async Task<SendAck> SendE2eAsync(RawClient client, Guid conversation, long epoch, Guid chain, Guid? messageId = null)
    {
        var id = client.NextRequestId();
        await client.SendAsync(E2eSend(id, conversation, epoch, chain, messageId));
        var ack = await client.ExpectAsync<SendAck>();
        Assert.Equal(id, ack.RequestId);
        return ack;
    }

    private static async Task<ErrorFrame> SendE2eRefusedAsync(RawClient client, Guid conversation, long epoch, Guid chain)
    {
        var id = client.NextRequestId();
        await client.SendAsync(E2eSend(id, conversation, epoch, chain, null));
        var error = await client.ExpectErrorAsync();
        Assert.Equal(id, error.RequestId);
        return error;
    }

    private static Send E2eSend(uint requestId, Guid conversation, long epoch, Guid chain, Guid? messageId) =>
        new(requestId, conversation, messageId ?? Guid.CreateVersion7(), ContentType, Envelope())
        {
            MembershipEpoch = (ulong)epoch,
            DistributionId = Id(chain),
        };

    // The server never parses an envelope: random bytes of an envelope's size stand in for one.
    private static byte[] Envelope() => RandomNumberGenerator.GetBytes(300);
}
