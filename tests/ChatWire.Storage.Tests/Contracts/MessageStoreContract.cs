using System.Text;
using ChatWire.Storage.Messages;

namespace ChatWire.Storage.Tests.Contracts;

/// <summary>
/// Every IMessageStore adapter's behaviour (DESIGN §4), written once. An adapter's test class derives
/// from this and supplies a fresh, empty store; nothing here may depend on one adapter.
/// </summary>
public abstract partial class MessageStoreContract : IAsyncLifetime
{
    private readonly Guid _senderUserId = Guid.NewGuid();
    private readonly Guid _senderDeviceId = Guid.NewGuid();
    private IMessageStore? _store;

    protected IMessageStore Store => _store ?? throw new InvalidOperationException("The store is not created yet.");

    /// <summary>A new, empty store for one test.</summary>
    protected abstract Task<IMessageStore> CreateStoreAsync();

    /// <summary>Releases what <see cref="CreateStoreAsync"/> created.</summary>
    protected abstract Task DisposeStoreAsync(IMessageStore store);

    public async Task InitializeAsync() => _store = await CreateStoreAsync();

    public async Task DisposeAsync()
    {
        if (_store is not null)
        {
            await DisposeStoreAsync(_store);
        }
    }

    [Fact]
    public async Task AppendAsync_FirstMessage_StoredWithSeqOne()
    {
        var message = NewMessage(Guid.NewGuid(), "hello");

        var result = await Store.AppendAsync(message);

        Assert.Equal(AppendOutcome.Stored, result.Outcome);
        Assert.NotNull(result.Message);
        Assert.Equal(1UL, result.Message.Seq);
        AssertMatches(message, result.Message);
    }

    [Fact]
    public async Task AppendAsync_SuccessiveMessages_GetSeqsOneTwoThree()
    {
        var conversation = Guid.NewGuid();

        var seqs = new List<ulong>();
        foreach (var text in new[] { "one", "two", "three" })
        {
            seqs.Add((await Store.AppendAsync(NewMessage(conversation, text))).Message!.Seq);
        }

        Assert.Equal([1UL, 2UL, 3UL], seqs);
    }

    [Fact]
    public async Task AppendAsync_TwoConversations_SequencesAreIndependent()
    {
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();

        await Store.AppendAsync(NewMessage(first, "a1"));
        await Store.AppendAsync(NewMessage(first, "a2"));
        var b1 = await Store.AppendAsync(NewMessage(second, "b1"));
        var a3 = await Store.AppendAsync(NewMessage(first, "a3"));

        Assert.Equal(1UL, b1.Message!.Seq);
        Assert.Equal(3UL, a3.Message!.Seq);
    }

    [Fact]
    public async Task AppendAsync_SameIdSameBody_ReturnsDuplicateWithOriginalSeqAndTime()
    {
        var conversation = Guid.NewGuid();
        var message = NewMessage(conversation, "hello");
        var original = await Store.AppendAsync(message);
        await Store.AppendAsync(NewMessage(conversation, "after"));

        var resent = await Store.AppendAsync(message with { Content = Encoding.UTF8.GetBytes("hello") });

        Assert.Equal(AppendOutcome.Duplicate, resent.Outcome);
        Assert.NotNull(resent.Message);
        Assert.Equal(1UL, resent.Message.Seq);
        Assert.Equal(original.Message!.StoredAt, resent.Message.StoredAt);
        AssertMatches(message, resent.Message);
        Assert.Equal(2UL, await Store.GetLatestSeqAsync(conversation));
    }

    [Fact]
    public async Task AppendAsync_SameIdDifferentBody_ReturnsConflictAndStoresNothing()
    {
        var conversation = Guid.NewGuid();
        var message = NewMessage(conversation, "hello");
        await Store.AppendAsync(message);

        var otherBody = await Store.AppendAsync(message with { Content = Encoding.UTF8.GetBytes("changed") });
        var otherType = await Store.AppendAsync(message with { ContentType = "application/octet-stream" });

        Assert.Equal(new AppendResult(AppendOutcome.Conflict, null), otherBody);
        Assert.Equal(new AppendResult(AppendOutcome.Conflict, null), otherType);
        Assert.Equal(1UL, await Store.GetLatestSeqAsync(conversation));
        var stored = Assert.Single(await Store.ReadAsync(conversation, 0, ReadDirection.After, 10));
        AssertMatches(message, stored);
    }

    [Fact]
    public async Task AppendAsync_SameIdFromOtherDevice_StoresASecondMessage()
    {
        var conversation = Guid.NewGuid();
        var message = NewMessage(conversation, "hello");
        await Store.AppendAsync(message);

        var fromOtherDevice = await Store.AppendAsync(message with { SenderDeviceId = Guid.NewGuid() });

        Assert.Equal(AppendOutcome.Stored, fromOtherDevice.Outcome);
        Assert.Equal(2UL, fromOtherDevice.Message!.Seq);
    }

    [Fact]
    public async Task AppendAsync_ConcurrentSendersAcrossConversations_EveryConversationGapFree()
    {
        const int Conversations = 5;
        const int Senders = 20;
        const int PerSender = 10;
        var conversations = Enumerable.Range(0, Conversations).Select(_ => Guid.NewGuid()).ToArray();

        var senders = Enumerable.Range(0, Senders).Select(sender => Task.Run(async () =>
        {
            var results = new List<AppendResult>();
            for (var i = 0; i < PerSender; i++)
            {
                var conversation = conversations[(sender + i) % Conversations];
                results.Add(await Store.AppendAsync(NewMessage(conversation, $"{sender}-{i}")));
            }

            return results;
        }));
        var all = (await Task.WhenAll(senders)).SelectMany(r => r).ToList();

        Assert.Equal(Senders * PerSender, all.Count);
        Assert.All(all, r => Assert.Equal(AppendOutcome.Stored, r.Outcome));
        foreach (var conversation in conversations)
        {
            var acknowledged = all.Select(r => r.Message!).Where(m => m.ConversationId == conversation).Select(m => m.Seq).Order().ToList();
            var expected = Enumerable.Range(1, acknowledged.Count).Select(n => (ulong)n).ToList();
            Assert.Equal(expected, acknowledged);

            var stored = await Store.ReadAsync(conversation, 0, ReadDirection.After, 1000);
            Assert.Equal(expected, stored.Select(m => m.Seq));
            Assert.Equal((ulong)expected.Count, await Store.GetLatestSeqAsync(conversation));
        }
    }

    [Fact]
    public async Task AppendAsync_ConcurrentResendsOfOneMessage_StoresItOnce()
    {
        var conversation = Guid.NewGuid();
        var message = NewMessage(conversation, "hello");

        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Task.Run(() => Store.AppendAsync(message))));

        Assert.Single(results, r => r.Outcome == AppendOutcome.Stored);
        Assert.Equal(9, results.Count(r => r.Outcome == AppendOutcome.Duplicate));
        Assert.All(results, r => Assert.Equal(1UL, r.Message!.Seq));
        Assert.Equal(1UL, await Store.GetLatestSeqAsync(conversation));
    }

    [Fact]
    public async Task GetLatestSeqAsync_EmptyConversation_ReturnsZero()
    {
        await Store.AppendAsync(NewMessage(Guid.NewGuid(), "elsewhere"));

        Assert.Equal(0UL, await Store.GetLatestSeqAsync(Guid.NewGuid()));
    }

    [Fact]
    public async Task GetLatestSeqAsync_AfterAppends_ReturnsHighestSeq()
    {
        var conversation = await AppendManyAsync(4);

        Assert.Equal(4UL, await Store.GetLatestSeqAsync(conversation));
    }

    [Fact]
    public async Task FindByIdAsync_StoredMessage_ReturnsIt()
    {
        var conversation = Guid.NewGuid();
        await Store.AppendAsync(NewMessage(conversation, "first"));
        var message = NewMessage(conversation, "second");
        var stored = await Store.AppendAsync(message);

        var found = await Store.FindByIdAsync(conversation, message.MessageId);

        Assert.NotNull(found);
        Assert.Equal(2UL, found.Seq);
        Assert.Equal(stored.Message!.StoredAt, found.StoredAt);
        AssertMatches(message, found);
    }

    [Fact]
    public async Task FindByIdAsync_UnknownIdOrOtherConversation_ReturnsNull()
    {
        var conversation = Guid.NewGuid();
        var message = NewMessage(conversation, "hello");
        await Store.AppendAsync(message);

        Assert.Null(await Store.FindByIdAsync(conversation, Guid.NewGuid()));
        Assert.Null(await Store.FindByIdAsync(Guid.NewGuid(), message.MessageId));
    }

    protected NewMessage NewMessage(Guid conversationId, string text) =>
        new(conversationId, Guid.NewGuid(), _senderUserId, _senderDeviceId, "text/plain", Encoding.UTF8.GetBytes(text));

    /// <summary>Appends <paramref name="count"/> messages "m1".."mN" to a new conversation, one after another.</summary>
    protected async Task<Guid> AppendManyAsync(int count)
    {
        var conversation = Guid.NewGuid();
        for (var i = 1; i <= count; i++)
        {
            var result = await Store.AppendAsync(NewMessage(conversation, $"m{i}"));
            Assert.Equal((ulong)i, result.Message!.Seq);
        }

        return conversation;
    }

    protected static void AssertMatches(NewMessage expected, StoredMessage actual)
    {
        Assert.Equal(expected.ConversationId, actual.ConversationId);
        Assert.Equal(expected.MessageId, actual.MessageId);
        Assert.Equal(expected.SenderUserId, actual.SenderUserId);
        Assert.Equal(expected.SenderDeviceId, actual.SenderDeviceId);
        Assert.Equal(expected.ContentType, actual.ContentType);
        Assert.Equal(expected.Content.ToArray(), actual.Content.ToArray());
    }
}
