using System.Text;
using ChatWire.Storage.Messages;

namespace ChatWire.Storage.Tests.Contracts;

public abstract partial class MessageStoreContract
{
    [Fact]
    public async Task ReadAsync_BeforeFromZero_ReturnsNewestAscending()
    {
        var conversation = await AppendManyAsync(10);

        var page = await Store.ReadAsync(conversation, 0, ReadDirection.Before, 3);

        Assert.Equal([8UL, 9UL, 10UL], page.Select(m => m.Seq));
    }

    [Fact]
    public async Task ReadAsync_BeforeSeq_ReturnsTheLimitBelowItAscending()
    {
        var conversation = await AppendManyAsync(10);

        Assert.Equal([3UL, 4UL, 5UL], (await Store.ReadAsync(conversation, 6, ReadDirection.Before, 3)).Select(m => m.Seq));
        Assert.Equal([1UL, 2UL], (await Store.ReadAsync(conversation, 3, ReadDirection.Before, 10)).Select(m => m.Seq));
        Assert.Empty(await Store.ReadAsync(conversation, 1, ReadDirection.Before, 10));
    }

    [Fact]
    public async Task ReadAsync_After_ReturnsTheLimitAboveItAscending()
    {
        var conversation = await AppendManyAsync(10);

        Assert.Equal([1UL, 2UL, 3UL, 4UL], (await Store.ReadAsync(conversation, 0, ReadDirection.After, 4)).Select(m => m.Seq));
        Assert.Equal([8UL, 9UL, 10UL], (await Store.ReadAsync(conversation, 7, ReadDirection.After, 10)).Select(m => m.Seq));
        Assert.Empty(await Store.ReadAsync(conversation, 10, ReadDirection.After, 10));
    }

    [Fact]
    public async Task ReadAsync_EmptyConversation_ReturnsNothing()
    {
        await AppendManyAsync(2);

        Assert.Empty(await Store.ReadAsync(Guid.NewGuid(), 0, ReadDirection.Before, 10));
        Assert.Empty(await Store.ReadAsync(Guid.NewGuid(), 0, ReadDirection.After, 10));
    }

    [Fact]
    public async Task ReadAsync_TwoConversations_NeverMixesThem()
    {
        var first = await AppendManyAsync(3);
        var second = await AppendManyAsync(2);

        var page = await Store.ReadAsync(second, 0, ReadDirection.After, 10);

        Assert.Equal([1UL, 2UL], page.Select(m => m.Seq));
        Assert.All(page, m => Assert.Equal(second, m.ConversationId));
        Assert.NotEqual(first, second);
    }

    [Fact]
    public async Task ReadAsync_StoredMessage_RoundTripsEveryField()
    {
        var conversation = Guid.NewGuid();
        var message = NewEvent.Message(conversation, Guid.CreateVersion7(), Guid.NewGuid(), Guid.NewGuid(), "application/vnd.chatwire.e2e", new byte[] { 0, 1, 2, 250, 255 });
        var appended = await Store.AppendAsync(message);

        var stored = Assert.Single(await Store.ReadAsync(conversation, 0, ReadDirection.Before, 10));

        AssertMatches(message, stored);
        Assert.Equal(appended.Event!.Seq, stored.Seq);
        Assert.Equal(appended.Event.StoredAt, stored.StoredAt);
    }

    [Fact]
    public async Task ReadAsync_ContentPastTheStartOfItsBuffer_StoresOnlyTheSlice()
    {
        var conversation = Guid.NewGuid();
        var buffer = Encoding.UTF8.GetBytes("xxhelloyy");
        var message = NewMessage(conversation, "unused") with { Content = buffer.AsMemory(2, 5) };
        await Store.AppendAsync(message);

        var stored = Assert.Single(await Store.ReadAsync(conversation, 0, ReadDirection.After, 10));

        Assert.Equal("hello", Encoding.UTF8.GetString(stored.Content.Span));
    }

    [Fact]
    public async Task ReadAsync_ByteBudget_StopsAfterTheEventThatReachesIt()
    {
        var conversation = Guid.NewGuid();
        for (var i = 0; i < 10; i++)
        {
            await Store.AppendAsync(NewMessage(conversation, new string('x', 100)));
        }

        var after = await Store.ReadAsync(conversation, 0, ReadDirection.After, 10, maxContentBytes: 250);
        var before = await Store.ReadAsync(conversation, 0, ReadDirection.Before, 10, maxContentBytes: 250);
        var one = await Store.ReadAsync(conversation, 0, ReadDirection.After, 10, maxContentBytes: 1);

        Assert.Equal([1UL, 2UL, 3UL], after.Select(e => e.Seq));
        Assert.Equal([8UL, 9UL, 10UL], before.Select(e => e.Seq));
        Assert.Equal([1UL], one.Select(e => e.Seq));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public async Task ReadAsync_LimitNotPositive_ThrowsArgumentOutOfRange(int limit)
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.ReadAsync(Guid.NewGuid(), 0, ReadDirection.After, limit));
    }
}
