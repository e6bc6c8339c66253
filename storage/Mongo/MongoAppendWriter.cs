using System.Security.Cryptography;
using ChatWire.Storage.Messages;
using MongoDB.Driver;

namespace ChatWire.Storage.Mongo;

/// <summary>
/// The MongoDB group-commit writer (<see cref="GroupCommitWriter"/>): its thread stores each batch in one
/// multi-document transaction, committed with write concern majority and j: true. After
/// the commit is acknowledged, the commit observers are told of the batch, then the waiters complete.
/// </summary>
/// <remarks>
/// <para>
/// Seqs, with several gateway processes writing to one conversation at once and no other coordination:
/// each conversation has a <c>conversation_heads</c> document holding the last seq handed out. A batch's
/// transaction reads the heads of its conversations at its snapshot, numbers its stored events from there,
/// inserts them, and ends by <c>$inc</c>-ing each head by the number it used. Snapshot isolation makes the
/// first writer of a head win: a writer whose snapshot predates another's committed (or still open) change
/// to that head gets a write conflict (TransientTransactionError) on its <c>$inc</c> or on the unique
/// (conversation, seq) index, the driver's <see cref="IClientSession.WithTransaction{TResult}"/> aborts and
/// runs the whole batch again from a fresh snapshot, and the seqs it allocated are never seen. The change
/// rules run in the same transaction, so their reads are of the same snapshot and any change that is
/// stored conflicts with a concurrent one through the head as well. Nothing is allocated outside the
/// transaction, so no seq can be lost and no SKIP event is ever written.
/// </para>
/// <para>
/// This needs multi-document transactions, so a replica set or a sharded cluster, which every production
/// MongoDB is; the store refuses a standalone server at start-up. A duplicate key (a racing writer stored the
/// same key first and the server reported that rather than a write conflict) also runs the batch again, at
/// most <see cref="MongoMessageStoreOptions.MaxBatchAttempts"/> times. A commit whose outcome stays unknown
/// after the driver's retries fails the batch's waiters; a client resend then answers Duplicate or stores it.
/// </para>
/// <para>
/// The thread blocks in the driver's synchronous calls rather than parking thread-pool threads for every
/// batch's round trips: this thread exists only to write.
/// </para>
/// </remarks>
internal sealed class MongoAppendWriter : GroupCommitWriter
{
    private readonly IMongoClient _client;
    private readonly MongoCollections _collections;
    private readonly int _maxAttempts;

    // Reused for every message: the writer is one thread.
    private readonly IncrementalHash _digest = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    private long _batchAttempts;

    public MongoAppendWriter(IMongoClient client, MongoCollections collections, MongoMessageStoreOptions options)
        : base("ChatWire MongoDB writer", options.MaxBatchSize, options.MaxBatchBytes, options.QueueCapacity, options.QueueByteCapacity)
    {
        _client = client;
        _collections = collections;
        _maxAttempts = options.MaxBatchAttempts;
    }

    /// <summary>Transaction attempts this writer started, retries included.</summary>
    public long BatchAttempts => Interlocked.Read(ref _batchAttempts);

    protected override ValueTask CloseAsync()
    {
        _digest.Dispose();
        return ValueTask.CompletedTask;
    }

    // Throws when the transaction was aborted (or its commit's outcome is unknown): nothing is acknowledged.
    protected override void StoreBatch(List<PendingAppend> batch)
    {
        // One time for the whole batch, kept across its attempts.
        var storedAt = MongoDocuments.Truncate(DateTimeOffset.UtcNow);
        for (var attempt = 1; ; attempt++)
        {
            using var session = _client.StartSession();
            try
            {
                // WithTransaction runs the callback again on TransientTransactionError (write conflicts among
                // them) and retries the commit on UnknownTransactionCommitResult, within its time limit.
                session.WithTransaction(
                    (s, _) =>
                    {
                        Interlocked.Increment(ref _batchAttempts);
                        new MongoEventBatch(s, _collections, _digest, storedAt).Apply(batch);
                        return true;
                    },
                    MongoCommands.BatchTransaction);
                return;
            }
            catch (MongoException exception) when (attempt < _maxAttempts && MongoCommands.IsDuplicateKey(exception))
            {
                // The transaction is aborted; a fresh one sees the racing writer's key and decides again.
            }
        }
    }
}
