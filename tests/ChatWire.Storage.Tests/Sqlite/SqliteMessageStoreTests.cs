using System.Diagnostics;
using System.Text;
using ChatWire.Storage.Messages;
using ChatWire.Storage.Sqlite;
using ChatWire.Storage.Tests.Contracts;
using Microsoft.Data.Sqlite;

namespace ChatWire.Storage.Tests.Sqlite;

public sealed class SqliteMessageStoreTests : MessageStoreContract, IDisposable
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(5);

    private readonly TempDirectory _directory = new();

    private string DatabasePath => _directory.File(SqliteStorage.MessagesFileName);

    private SqliteMessageStore Sqlite => (SqliteMessageStore)Store;

    protected override async Task<IMessageStore> CreateStoreAsync() => await SqliteMessageStore.OpenAsync(DatabasePath);

    protected override async Task DisposeStoreAsync(IMessageStore store)
    {
        await ((SqliteMessageStore)store).DisposeAsync();
    }

    // xunit calls this after DisposeAsync, so the store has released the files.
    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task OpenAsync_ReopenedAfterDispose_FindsEveryAcknowledgedMessage()
    {
        var path = _directory.File("restart.db");
        var conversations = new[] { Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid() };
        AppendResult[] acknowledged;
        await using (var store = await SqliteMessageStore.OpenAsync(path))
        {
            acknowledged = await Task.WhenAll(Enumerable.Range(0, 90)
                .Select(i => ((IMessageStore)store).AppendAsync(NewMessage(conversations[i % 3], $"m{i}"))));
        }

        await using var reopened = await SqliteMessageStore.OpenAsync(path);
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
        var path = _directory.File("drain.db");
        var conversation = Guid.NewGuid();
        var store = await SqliteMessageStore.OpenAsync(path);
        var appends = Enumerable.Range(0, 200).Select(i => ((IMessageStore)store).AppendAsync(NewMessage(conversation, $"m{i}"))).ToList();

        await store.DisposeAsync();

        var results = await Task.WhenAll(appends);
        Assert.All(results, r => Assert.Equal(AppendOutcome.Stored, r.Outcome));
        await using var reopened = await SqliteMessageStore.OpenAsync(path);
        Assert.Equal(200UL, (await reopened.GetLatestSeqsAsync([conversation]))[conversation]);
    }

    [Fact]
    public async Task AppendAsync_AfterDispose_ThrowsObjectDisposed()
    {
        var store = await SqliteMessageStore.OpenAsync(_directory.File("closed.db"));
        await store.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => ((IMessageStore)store).AppendAsync(NewMessage(Guid.NewGuid(), "late")));
    }

    [Fact]
    public async Task OpenAsync_WriterConnection_IsWalWithSynchronousFull()
    {
        Assert.Equal("wal", Sqlite.WriterJournalMode);
        Assert.Equal(2, Sqlite.WriterSynchronous);
        Assert.Equal("wal", await SqliteTestDatabase.ScalarAsync(DatabasePath, "PRAGMA journal_mode;"));
    }

    [Fact]
    public async Task AppendAsync_QueuedWhileTheWriteLockIsHeld_CommitsInFullBatchesInArrivalOrder()
    {
        var conversation = Guid.NewGuid();
        var appends = new Task<AppendResult>[500];

        await using (var blocker = SqliteTestDatabase.Open(DatabasePath))
        {
            using var writeLock = blocker.BeginTransaction(deferred: false);
            appends[0] = Store.AppendAsync(NewMessage(conversation, "m0"));
            await WaitUntilBatchStartedAsync(1);
            for (var i = 1; i < appends.Length; i++)
            {
                appends[i] = Store.AppendAsync(NewMessage(conversation, $"m{i}"));
            }

            writeLock.Rollback();
        }

        var results = await Task.WhenAll(appends);

        Assert.Equal(Enumerable.Range(1, 500).Select(n => (ulong)n), results.Select(r => r.Event!.Seq));

        // The first append alone (the writer took it before the rest arrived), then 499 = 256 + 243.
        Assert.Equal(3, Sqlite.BatchesCommitted);
        Assert.Equal(500, Sqlite.MessagesCommitted);
    }

    [Fact]
    public async Task AppendAsync_DuplicateAndConflictInTheSameBatch_SeeTheFirstCopy()
    {
        var conversation = Guid.NewGuid();
        var message = NewMessage(conversation, "hello");
        Task<AppendResult> first, again, conflict, next;

        await using (var blocker = SqliteTestDatabase.Open(DatabasePath))
        {
            using var writeLock = blocker.BeginTransaction(deferred: false);
            var plugBatch = Sqlite.BatchesStarted + 1;
            var plug = Store.AppendAsync(NewMessage(Guid.NewGuid(), "plug"));
            await WaitUntilBatchStartedAsync(plugBatch);
            first = Store.AppendAsync(message);
            again = Store.AppendAsync(message with { Content = Encoding.UTF8.GetBytes("hello") });
            conflict = Store.AppendAsync(message with { Content = Encoding.UTF8.GetBytes("changed") });
            next = Store.AppendAsync(NewMessage(conversation, "next"));
            writeLock.Rollback();
            await plug;
        }

        Assert.Equal(AppendOutcome.Stored, (await first).Outcome);
        Assert.Equal(AppendOutcome.Duplicate, (await again).Outcome);
        Assert.Equal((await first).Event!.Seq, (await again).Event!.Seq);
        Assert.Equal((await first).Event!.StoredAt, (await again).Event!.StoredAt);
        Assert.Equal(AppendOutcome.Conflict, (await conflict).Outcome);
        Assert.Equal(2UL, (await next).Event!.Seq);
        Assert.Equal(2, Sqlite.BatchesCommitted);
    }

    [Fact]
    public async Task AppendAsync_OneMessageFailsItsBatch_FailsEveryWaiterAndConsumesNoSeq()
    {
        var conversation = Guid.NewGuid();
        await Store.AppendAsync(NewMessage(conversation, "m1"));
        Task<AppendResult> before, poisoned, after;

        await using (var blocker = SqliteTestDatabase.Open(DatabasePath))
        {
            await using (var trigger = blocker.CreateCommand())
            {
                trigger.CommandText = """
                    CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.content_type = 'poison'
                    BEGIN SELECT RAISE(ABORT, 'poisoned message'); END;
                    """;
                await trigger.ExecuteNonQueryAsync();
            }

            using var writeLock = blocker.BeginTransaction(deferred: false);
            var plugBatch = Sqlite.BatchesStarted + 1;
            var plug = Store.AppendAsync(NewMessage(Guid.NewGuid(), "plug"));
            await WaitUntilBatchStartedAsync(plugBatch);
            before = Store.AppendAsync(NewMessage(conversation, "m2"));
            poisoned = Store.AppendAsync(NewMessage(conversation, "m3") with { ContentType = "poison" });
            after = Store.AppendAsync(NewMessage(conversation, "m4"));
            writeLock.Rollback();
            await plug;
        }

        await Assert.ThrowsAsync<SqliteException>(() => before);
        await Assert.ThrowsAsync<SqliteException>(() => poisoned);
        await Assert.ThrowsAsync<SqliteException>(() => after);
        Assert.Equal(1UL, await LatestSeqAsync(conversation));
        Assert.Equal(2UL, (await Store.AppendAsync(NewMessage(conversation, "m2 again"))).Event!.Seq);
        Assert.Single(await Store.ReadAsync(conversation, 1, ReadDirection.After, 10));
    }

    [Fact]
    public async Task AppendAsync_EmptyContent_StoredAsEmptyBody()
    {
        var conversation = Guid.NewGuid();

        await Store.AppendAsync(NewMessage(conversation, string.Empty));

        var stored = Assert.Single(await Store.ReadAsync(conversation, 0, ReadDirection.After, 10));
        Assert.True(stored.Content.IsEmpty);
    }

    // Once the batch holding the plug is closed, the writer is committing it (blocked on the write lock
    // the test holds), and every append made from now on waits in the queue for the next batch.
    private async Task WaitUntilBatchStartedAsync(long batch)
    {
        var clock = Stopwatch.StartNew();
        while (Sqlite.BatchesStarted < batch)
        {
            Assert.True(clock.Elapsed < WaitLimit, "The writer did not start the batch.");
            await Task.Delay(1);
        }
    }
}
