using System.Diagnostics;
using System.Text;
using ChatWire.Storage.Messages;
using ChatWire.Storage.MySql;
using ChatWire.Storage.Tests.Contracts;
using ChatWire.Tests.Shared;
using MySqlConnector;

namespace ChatWire.Storage.Tests.MySql;

// The contract on the real MariaDB primary, one fresh database per test; then what only a shared server
// adds: restarts, draining, and several nodes appending to one conversation at once.
public sealed class MySqlMessageStoreTests : MessageStoreContract
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(10);

    private readonly string _database = BackingServices.NewDatabaseName("msg");

    private string ConnectionString => BackingServices.MySqlDatabase(_database);

    private MySqlMessageStore MySql => (MySqlMessageStore)Store;

    protected override async Task<IMessageStore> CreateStoreAsync() => await OpenAsync();

    protected override async Task DisposeStoreAsync(IMessageStore store)
    {
        try
        {
            await ((MySqlMessageStore)store).DisposeAsync();
        }
        finally
        {
            await MySqlTestDatabase.DropAsync(_database);
        }
    }

    [Fact]
    public async Task OpenAsync_ReopenedAfterDispose_FindsEveryAcknowledgedMessageAndContinuesTheSeq()
    {
        var conversations = new[] { Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid() };
        AppendResult[] acknowledged;
        await using (var store = await OpenAsync())
        {
            acknowledged = await Task.WhenAll(Enumerable.Range(0, 90)
                .Select(i => ((IMessageStore)store).AppendAsync(NewMessage(conversations[i % 3], $"m{i}"))));
        }

        await using var reopened = await OpenAsync();
        foreach (var conversation in conversations)
        {
            var stored = await reopened.ReadAsync(conversation, 0, ReadDirection.After, 1000);
            var expected = acknowledged.Select(r => r.Event!).Where(m => m.ConversationId == conversation).OrderBy(m => m.Seq).ToList();
            Assert.Equal(30, stored.Count);
            Assert.Equal(expected.Select(m => (m.Seq, m.EventId, m.StoredAt)), stored.Select(m => (m.Seq, m.EventId, m.StoredAt)));
            Assert.Equal(expected.Select(m => m.Content.ToArray()), stored.Select(m => m.Content.ToArray()));
        }

        var next = await ((IMessageStore)reopened).AppendAsync(NewMessage(conversations[0], "after restart"));
        Assert.Equal(31UL, next.Event!.Seq);
    }

    [Fact]
    public async Task DisposeAsync_AppendsStillQueued_CommitsAndAcknowledgesThem()
    {
        var conversation = Guid.NewGuid();
        var store = await OpenAsync();
        var appends = Enumerable.Range(0, 200).Select(i => ((IMessageStore)store).AppendAsync(NewMessage(conversation, $"m{i}"))).ToList();

        await store.DisposeAsync();

        var results = await Task.WhenAll(appends);
        Assert.All(results, r => Assert.Equal(AppendOutcome.Stored, r.Outcome));
        Assert.Equal(Enumerable.Range(1, 200).Select(n => (ulong)n), results.Select(r => r.Event!.Seq).Order());
        Assert.Equal(200UL, await LatestSeqAsync(conversation));
    }

    [Fact]
    public async Task AppendAsync_AfterDispose_ThrowsObjectDisposed()
    {
        var store = await OpenAsync();
        await store.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => ((IMessageStore)store).AppendAsync(NewMessage(Guid.NewGuid(), "late")));
    }

    [Fact]
    public async Task AppendAsync_AResendAmongNewMessages_GoesAgainWithTheLookup_AnsweredDuplicateAndNoSeqLost()
    {
        // A batch takes its ids for new without looking them up; the INSERT meets the stored one through the
        // unique key, and the batch goes again with the lookup. Only the resend is answered differently.
        var conversation = Guid.NewGuid();
        var first = NewMessage(conversation, "first");
        var original = (await Store.AppendAsync(first)).Event!;
        var before = MySql.BatchesLookedUpAgain;

        var queued = new List<Task<AppendResult>>();
        for (var i = 0; i < 40; i++)
        {
            queued.Add(await Store.EnqueueAsync(i == 20 ? first with { Content = first.Content.ToArray() } : NewMessage(conversation, $"m{i}")));
        }

        var results = await Task.WhenAll(queued);

        Assert.Equal((AppendOutcome.Duplicate, original.Seq, original.StoredAt), (results[20].Outcome, results[20].Event!.Seq, results[20].Event!.StoredAt));
        var fresh = results.Where((_, i) => i != 20).ToList();
        Assert.All(fresh, r => Assert.Equal(AppendOutcome.Stored, r.Outcome));
        Assert.Equal(Enumerable.Range(2, 39).Select(n => (ulong)n), fresh.Select(r => r.Event!.Seq).Order());
        Assert.Equal(40UL, await LatestSeqAsync(conversation));
        Assert.Equal(before + 1, MySql.BatchesLookedUpAgain);

        // The batches after it look up first: another resend is answered without a second attempt.
        var again = await Store.AppendAsync(first);
        Assert.Equal((AppendOutcome.Duplicate, original.Seq), (again.Outcome, again.Event!.Seq));
        Assert.Equal(before + 1, MySql.BatchesLookedUpAgain);
    }

    [Fact]
    public async Task AppendAsync_AnotherNodeStoresWhileTheBatchWaitsForTheHead_TakesTheNextSeqAfterIt()
    {
        // Another node is simulated by hand: it holds the conversation's head, stores seq 2 and commits, while
        // this store's batch waits for the head. A seq remembered from before the wait would collide.
        var conversation = Guid.NewGuid();
        await Store.AppendAsync(NewMessage(conversation, "m1"));
        var otherNodesEvent = Guid.CreateVersion7();
        Task<AppendResult> waiting;

        await using (var otherNode = new MySqlConnection(ConnectionString))
        {
            await otherNode.OpenAsync();
            await using var transaction = await otherNode.BeginTransactionAsync();
            await ExecuteAsync(otherNode, transaction, "SELECT last_seq FROM conversation_heads WHERE conversation_id = @c FOR UPDATE;", conversation);
            var batch = MySql.BatchesStarted + 1;
            waiting = Store.AppendAsync(NewMessage(conversation, "m3"));
            await WaitUntilAsync(() => MySql.BatchesStarted >= batch);
            await ExecuteAsync(
                otherNode,
                transaction,
                """
                UPDATE conversation_heads SET last_seq = 2 WHERE conversation_id = @c;
                INSERT INTO events (conversation_id, seq, kind, event_id, sender_user_id, sender_device_id, stored_at, content_type, content)
                VALUES (@c, 2, 0, @e, @e, @e, 0, 'text/plain', 'm2');
                """,
                conversation,
                otherNodesEvent);
            Assert.False(waiting.IsCompleted);
            await transaction.CommitAsync();
        }

        var result = await waiting;

        Assert.Equal((AppendOutcome.Stored, 3UL), (result.Outcome, result.Event!.Seq));
        var stored = await Store.ReadAsync(conversation, 0, ReadDirection.After, 10);
        Assert.Equal([1UL, 2UL, 3UL], stored.Select(e => e.Seq));
        Assert.Equal(otherNodesEvent, stored[1].EventId);
    }

    [Fact]
    public async Task AppendAsync_ThreeNodesAppendConcurrently_EveryConversationGapFreeAndResendsAnsweredAnywhere()
    {
        const int PerNode = 300;
        var hot = Guid.NewGuid();
        var others = new[] { Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid() };
        await using var second = await OpenAsync();
        await using var third = await OpenAsync();
        IMessageStore[] nodes = [Store, second, third];

        // Each node: four senders, each queueing its messages without waiting for commits, so hundreds are in
        // flight per node; two in three go to the hot conversation, the rest to the others.
        var sent = await Task.WhenAll(nodes.Select((node, n) => Task.Run(async () =>
        {
            var commits = new List<(NewEvent Message, Task<AppendResult> Commit)>();
            var senders = Enumerable.Range(0, 4).Select(_ => (User: Guid.NewGuid(), Device: Guid.NewGuid())).ToArray();
            for (var i = 0; i < PerNode; i++)
            {
                var (user, device) = senders[i % senders.Length];
                var conversation = i % 3 == 2 ? others[(i / 3) % others.Length] : hot;
                var message = NewEvent.Message(conversation, Guid.CreateVersion7(), user, device, "text/plain", Encoding.UTF8.GetBytes($"node {n} message {i}"));
                commits.Add((message, await node.EnqueueAsync(message)));
            }

            var results = await Task.WhenAll(commits.Select(c => c.Commit));
            return commits.Select((c, i) => (c.Message, Result: results[i])).ToList();
        })));
        var all = sent.SelectMany(s => s).ToList();

        Assert.Equal(3 * PerNode, all.Count);
        Assert.All(all, a => Assert.Equal(AppendOutcome.Stored, a.Result.Outcome));
        foreach (var conversation in others.Prepend(hot))
        {
            var acknowledged = all.Where(a => a.Message.ConversationId == conversation).ToList();
            var expected = Enumerable.Range(1, acknowledged.Count).Select(n => (ulong)n).ToList();
            Assert.Equal(expected, acknowledged.Select(a => a.Result.Event!.Seq).Order());

            var stored = await second.ReadAsync(conversation, 0, ReadDirection.After, 1000);
            Assert.Equal(expected, stored.Select(e => e.Seq));
            Assert.Equal(
                acknowledged.OrderBy(a => a.Result.Event!.Seq).Select(a => a.Message.EventId),
                stored.Select(e => e.EventId));
            Assert.Equal((ulong)expected.Count, await LatestSeqAsync(conversation));
        }

        Assert.Equal(2 * PerNode, all.Count(a => a.Message.ConversationId == hot));

        // A resend through another node than the one that stored it finds the original.
        var (original, stored1) = sent[0][0];
        var resent = await nodes[2].AppendAsync(original with { Content = original.Content.ToArray() });
        var conflicting = await nodes[1].AppendAsync(original with { SenderDeviceId = Guid.NewGuid() });
        Assert.Equal((AppendOutcome.Duplicate, stored1.Event!.Seq, stored1.Event.StoredAt), (resent.Outcome, resent.Event!.Seq, resent.Event.StoredAt));
        Assert.Equal(AppendOutcome.Conflict, conflicting.Outcome);

        // One message sent through all three nodes at once is stored once.
        var once = NewMessage(hot, "through every node");
        var racing = await Task.WhenAll(nodes.Select(node => Task.Run(() => node.AppendAsync(once))));
        Assert.Single(racing, r => r.Outcome == AppendOutcome.Stored);
        Assert.Equal(2, racing.Count(r => r.Outcome == AppendOutcome.Duplicate));
        Assert.All(racing, r => Assert.Equal((ulong)(2 * PerNode) + 1, r.Event!.Seq));
    }

    [Fact]
    public async Task OpenAsync_EventsTable_FindsEventIdsThroughOneUniqueIndexOnEventIdAndConversation()
    {
        // Version 8 replaced (conversation_id, event_id) and (event_id) with this one index.
        await Store.AppendAsync(NewMessage(Guid.NewGuid(), "indexed"));

        Assert.Equal(
            ["PRIMARY:0:conversation_id,seq", "ix_events_subject:1:conversation_id,subject_id", "ix_events_thread:1:conversation_id,thread_root_id,seq", "ux_events_event_id:0:event_id,conversation_id"],
            (await MySqlTestDatabase.ListAsync(ConnectionString, """
                SELECT CONCAT(index_name, ':', non_unique, ':', GROUP_CONCAT(column_name ORDER BY seq_in_index))
                FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'events'
                GROUP BY index_name, non_unique;
                """)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task OpenAsync_TwoNodesAtOnce_MigrateOnceAndBothWork()
    {
        var database = BackingServices.NewDatabaseName("msg");
        var options = new MySqlMessageStoreOptions(BackingServices.MySqlDatabase(database));
        try
        {
            var stores = await Task.WhenAll(MySqlMessageStore.OpenAsync(options), MySqlMessageStore.OpenAsync(options));
            var conversation = Guid.NewGuid();
            foreach (var store in stores)
            {
                await ((IMessageStore)store).AppendAsync(NewMessage(conversation, "hello"));
                await store.DisposeAsync();
            }

            await using var connection = new MySqlConnection(options.ConnectionString);
            await connection.OpenAsync();
            await using var versions = new MySqlCommand("SELECT count(*), count(DISTINCT version) FROM schema_migrations WHERE scope = 'messages';", connection);
            await using var reader = await versions.ExecuteReaderAsync();
            await reader.ReadAsync();
            var expected = (long)new MySqlMigrator(MySqlMigrator.MessagesScope).Migrations.Count;
            Assert.Equal(expected, reader.GetInt64(0));
            Assert.Equal(expected, reader.GetInt64(1));
        }
        finally
        {
            await MySqlTestDatabase.DropAsync(database);
        }
    }

    private Task<MySqlMessageStore> OpenAsync() => MySqlMessageStore.OpenAsync(new MySqlMessageStoreOptions(ConnectionString));

    private static async Task ExecuteAsync(MySqlConnection connection, MySqlTransaction transaction, string sql, Guid conversation, Guid? eventId = null)
    {
        await using var command = new MySqlCommand(sql, connection, transaction);
        command.Parameters.AddWithValue("@c", conversation.ToByteArray(bigEndian: true));
        command.Parameters.AddWithValue("@e", (eventId ?? Guid.Empty).ToByteArray(bigEndian: true));
        await command.ExecuteNonQueryAsync();
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < WaitLimit, "The condition did not become true.");
            await Task.Delay(1);
        }
    }
}
