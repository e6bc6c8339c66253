using ChatWire.Client.Secure;
using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// Conversations above max_sender_chain_members use one epoch secret per epoch (docs/e2e.md "Large conversations"):
// through the real gateway with the limit at 2, so three or four members put a conversation in that mode.
public sealed class EpochSecretMessagingTests : IAsyncLifetime, IDisposable
{
    private readonly string _keyDirectory = Path.Combine(Path.GetTempPath(), "chatwire-es-" + Guid.NewGuid().ToString("N"));
    private readonly List<IDisposable> _owned = [];
    private TestServer? _server;

    private TestServer Server => _server!;

    public async Task InitializeAsync() =>
        _server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Limits:MaxSenderChainMembers"] = "2" });

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    [Fact]
    public async Task ThreeMembersTwoSenders_OneEpochSecret_EveryMemberReadsBoth()
    {
        var alice = await NewDeviceAsync();
        var bob = await NewDeviceAsync();
        var carol = await NewDeviceAsync();
        var (teamId, general) = await alice.User.CreateTeamAsync();
        foreach (var member in new[] { bob, carol })
        {
            await member.User.JoinAsync(await alice.User.InviteAsync(teamId));
        }

        Assert.True((await alice.Api.GetConversationE2eAsync(general)).EpochSecret);
        var sent = new Dictionary<Guid, string>
        {
            [await SendAsync(alice, general, "alice makes the epoch secret")] = "alice makes the epoch secret",
            [await SendAsync(bob, general, "bob sends under alice's secret")] = "bob sends under alice's secret",
            [await SendAsync(alice, general, "alice again")] = "alice again",
        };

        foreach (var device in new[] { alice, bob, carol })
        {
            var messages = await MessagesAsync(device, general);
            Assert.Equal(3, messages.Count);
            foreach (var message in messages)
            {
                var content = await device.Secure.DecryptAsync(message);
                Assert.True(content.Text == sent[message.EventId], $"{device.User.Username}: {content.FailureReason}");
            }
        }

        // One distribution for both senders: the secret, not a chain per sender.
        var bundles = await carol.Api.GetKeyBundlesAsync(general);
        var distribution = Assert.Single(bundles.Entries.Select(entry => entry.ChainId).Distinct());
        Assert.All(bundles.Entries, entry => Assert.Equal(alice.User.DeviceId, entry.SenderDeviceId));
        Assert.NotEqual(Guid.Empty, distribution);
    }

    [Fact]
    public async Task MemberJoinsSameEpoch_UploaderResealsOthersMakeTheirOwn_NewMemberReadsBoth()
    {
        var alice = await NewDeviceAsync();
        var bob = await NewDeviceAsync();
        var carol = await NewDeviceAsync();
        var dave = await NewDeviceAsync();
        var (teamId, general) = await alice.User.CreateTeamAsync();
        foreach (var member in new[] { bob, carol })
        {
            await member.User.JoinAsync(await alice.User.InviteAsync(teamId));
        }

        await SendAsync(alice, general, "before dave");
        await SendAsync(bob, general, "also before dave");
        var epoch = (await alice.Api.GetConversationE2eAsync(general)).Epoch;

        // Joining moves the roster, not the epoch: alice's distribution lacks dave, and only alice may add to it.
        await dave.User.JoinAsync(await alice.User.InviteAsync(teamId));
        Assert.Equal(epoch, (await alice.Api.GetConversationE2eAsync(general)).Epoch);
        var fromBob = await SendAsync(bob, general, "bob after dave joined");
        var fromAlice = await SendAsync(alice, general, "alice after dave joined");

        Assert.Equal("bob after dave joined", (await dave.Secure.DecryptAsync(await EventAsync(dave, general, fromBob))).Text);
        Assert.Equal("alice after dave joined", (await dave.Secure.DecryptAsync(await EventAsync(dave, general, fromAlice))).Text);
        Assert.Equal("bob after dave joined", (await carol.Secure.DecryptAsync(await EventAsync(carol, general, fromBob))).Text);
        var distributions = (await dave.Api.GetKeyBundlesAsync(general)).Entries.Select(entry => (entry.ChainId, entry.SenderDeviceId)).Distinct().ToList();

        // Alice's secret, resealed to dave, and the one bob made when he could not complete hers.
        Assert.Equal(new[] { alice.User.DeviceId, bob.User.DeviceId }.Order(), distributions.Select(d => d.SenderDeviceId).Order());
    }

    [Fact]
    public async Task RemovedMember_NewEpochSecret_CannotReadWhatFollows()
    {
        var alice = await NewDeviceAsync();
        var others = new[] { await NewDeviceAsync(), await NewDeviceAsync(), await NewDeviceAsync() };
        var (teamId, _) = await alice.User.CreateTeamAsync();
        var channel = await alice.Api.CreateChannelAsync(teamId, "c" + Guid.NewGuid().ToString("N")[..10], isPrivate: true);
        foreach (var member in others)
        {
            await member.User.JoinAsync(await alice.User.InviteAsync(teamId));
            await alice.Api.AddChannelMemberAsync(channel.ConversationId, member.User.UserId);
        }

        var (bob, carol, dave) = (others[0], others[1], others[2]);
        var before = await SendAsync(bob, channel.ConversationId, "dave may read this");
        Assert.Equal("dave may read this", (await dave.Secure.DecryptAsync(await EventAsync(dave, channel.ConversationId, before))).Text);

        await dave.Api.LeaveChannelAsync(channel.ConversationId);
        var state = await alice.Api.GetConversationE2eAsync(channel.ConversationId);
        Assert.True(state.EpochSecret);
        var after = await SendAsync(alice, channel.ConversationId, "after dave left");
        var afterEvent = await EventAsync(alice, channel.ConversationId, after);
        var seenByDave = await dave.Secure.DecryptAsync(afterEvent);

        Assert.Null(seenByDave.Plaintext);
        Assert.StartsWith("no key for this chain", seenByDave.FailureReason, StringComparison.Ordinal);
        foreach (var member in new[] { alice, bob, carol })
        {
            Assert.Equal("after dave left", (await member.Secure.DecryptAsync(afterEvent)).Text);
        }
    }

    public void Dispose()
    {
        foreach (var owned in _owned)
        {
            owned.Dispose();
        }

        if (Directory.Exists(_keyDirectory))
        {
            Directory.Delete(_keyDirectory, recursive: true);
        }
    }

    private static async Task<Guid> SendAsync(Device device, Guid conversationId, string text)
    {
        await using var connection = await Sdk.ConnectAsync(device.User);
        var result = await device.Secure.SendTextAsync(connection, conversationId, text);
        return result.Sent.MessageId;
    }

    private static async Task<IReadOnlyList<ConversationEvent>> MessagesAsync(Device device, Guid conversationId)
    {
        await using var connection = await Sdk.ConnectAsync(device.User);
        return Sdk.Messages(await connection.GetHistoryAsync(conversationId, 0, HistoryDirection.Before, 200));
    }

    private static async Task<ConversationEvent> EventAsync(Device device, Guid conversationId, Guid eventId) =>
        (await MessagesAsync(device, conversationId)).Single(e => e.EventId == eventId);

    private async Task<Device> NewDeviceAsync()
    {
        var user = await Server.SignupAsync();
        var api = new ChatWireApiClient(Server.ApiBaseAddress) { SessionToken = user.Token };
        var secure = new SecureClient(api, Path.Combine(_keyDirectory, user.DeviceId.ToString("N")));
        _owned.Add(secure);
        _owned.Add(api);
        await secure.SetUpDeviceAsync(user.UserId, user.DeviceId);
        return new Device(user, api, secure);
    }

    private sealed record Device(TestUser User, ChatWireApiClient Api, SecureClient Secure);
}
