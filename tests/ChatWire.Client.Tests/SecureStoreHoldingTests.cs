using ChatWire.Client.Secure;
using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// Whether a SecureClient holds its key store open decides how often it starts a sender chain: the store never
// resumes an outbound chain loaded from disk. Counted through the real gateway by the seeds sealed to the reader.
public sealed class SecureStoreHoldingTests(ServerFixture fixture) : IClassFixture<ServerFixture>, IDisposable
{
    private readonly string _keyDirectory = Path.Combine(Path.GetTempPath(), "chatwire-hold-" + Guid.NewGuid().ToString("N"));
    private readonly List<IDisposable> _owned = [];

    private TestServer Server => fixture.Server;

    [Fact]
    public async Task SendText_HeldStore_FiveSendsShareOneChainAndAllDecrypt()
    {
        var (sender, reader, conversation) = await TwoMembersAsync(new SecureClientOptions());

        var sent = new Dictionary<Guid, string>();
        await using (var connection = await Sdk.ConnectAsync(sender.User))
        {
            for (var i = 0; i < 5; i++)
            {
                var text = "held message " + i;
                sent[(await sender.Secure.SendTextAsync(connection, conversation, text)).Sent.MessageId] = text;
            }
        }

        Assert.Single(await ChainsFromAsync(reader, conversation, sender.User.UserId));
        var messages = await MessagesAsync(reader, conversation);
        Assert.Equal(5, messages.Count);
        foreach (var message in messages)
        {
            var content = await reader.Secure.DecryptAsync(message);
            Assert.True(content.Text == sent[message.EventId], content.FailureReason);
        }
    }

    [Fact]
    public async Task SendText_StoreOpenedPerCall_EverySendStartsAChain()
    {
        // The CLI's mode: each call reopens the store, so each send distributes a new chain.
        var (sender, reader, conversation) = await TwoMembersAsync(new SecureClientOptions { HoldStore = false });

        await using (var connection = await Sdk.ConnectAsync(sender.User))
        {
            await sender.Secure.SendTextAsync(connection, conversation, "first");
            await sender.Secure.SendTextAsync(connection, conversation, "second");
        }

        Assert.Equal(2, (await ChainsFromAsync(reader, conversation, sender.User.UserId)).Count);
        foreach (var message in await MessagesAsync(reader, conversation))
        {
            Assert.True((await reader.Secure.DecryptAsync(message)).Encrypted);
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

    private async Task<(Member Sender, Member Reader, Guid Conversation)> TwoMembersAsync(SecureClientOptions senderOptions)
    {
        var sender = await NewMemberAsync(senderOptions);
        var reader = await NewMemberAsync(new SecureClientOptions());
        var (teamId, general) = await sender.User.CreateTeamAsync();
        await reader.User.JoinAsync(await sender.User.InviteAsync(teamId));
        return (sender, reader, general);
    }

    // The distinct chains whose seeds the sender sealed to the reader.
    private static async Task<HashSet<Guid>> ChainsFromAsync(Member reader, Guid conversationId, Guid senderUserId)
    {
        var chains = new HashSet<Guid>();
        long? after = 0;
        while (after is { } position)
        {
            var page = await reader.Api.GetKeyBundlesAsync(conversationId, position);
            chains.UnionWith(page.Entries.Where(entry => entry.SenderUserId == senderUserId).Select(entry => entry.ChainId));
            after = page.NextAfter;
        }

        return chains;
    }

    private static async Task<IReadOnlyList<ConversationEvent>> MessagesAsync(Member member, Guid conversationId)
    {
        await using var connection = await Sdk.ConnectAsync(member.User);
        return Sdk.Messages(await connection.GetHistoryAsync(conversationId, 0, HistoryDirection.Before, 200));
    }

    private async Task<Member> NewMemberAsync(SecureClientOptions options)
    {
        var user = await Server.SignupAsync();
        var api = new ChatWireApiClient(Server.ApiBaseAddress) { SessionToken = user.Token };
        var secure = new SecureClient(api, Path.Combine(_keyDirectory, user.DeviceId.ToString("N")), options: options);
        _owned.Add(secure);
        _owned.Add(api);
        await secure.SetUpDeviceAsync(user.UserId, user.DeviceId);
        return new Member(user, api, secure);
    }

    private sealed record Member(TestUser User, ChatWireApiClient Api, SecureClient Secure);
}
