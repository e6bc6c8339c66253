namespace ChatWire.Storage.Mongo;

/// <summary>
/// Where <see cref="MongoMessageStore"/> keeps the messages and how its batched writer is tuned. The
/// deployment must be a replica set or a sharded cluster: every batch is a multi-document transaction.
/// </summary>
public sealed record MongoMessageStoreOptions(string ConnectionString, string Database = "chatwire")
{
    /// <summary>Events older than this many days are removed by the store's TTL index (default ten years, 3653 days).</summary>
    public int RetentionDays { get; init; } = 3653;

    /// <summary>
    /// The most appends committed in one transaction.
    /// The gateway's publisher holds one whole batch of this default before the writer waits for it
    /// (<c>EventPublisher.MaxEventsPending</c>): raise both together.
    /// </summary>
    public int MaxBatchSize { get; init; } = 256;

    /// <summary>
    /// Content bytes committed in one transaction, at most (a single larger append is a batch of its own).
    /// Well below MongoDB's limits on one transaction's oplog entries, and keeps one user's large messages
    /// from making everyone's commit long.
    /// </summary>
    public long MaxBatchBytes { get; init; } = 4L << 20;

    /// <summary>Appends waiting for the writer; past it <see cref="MongoMessageStore.EnqueueAsync"/> waits for room.</summary>
    public int QueueCapacity { get; init; } = 10_000;

    /// <summary>Content bytes waiting for the writer; past it <see cref="MongoMessageStore.EnqueueAsync"/> waits for room.</summary>
    public long QueueByteCapacity { get; init; } = 64L << 20;

    /// <summary>
    /// How often one batch is run again after a duplicate-key error (a racing writer in another process
    /// stored the same key first); transient transaction errors are retried by the driver besides.
    /// </summary>
    public int MaxBatchAttempts { get; init; } = 5;

    /// <summary>The TTL index's expireAfterSeconds: <see cref="RetentionDays"/> in seconds.</summary>
    internal long RetentionSeconds => RetentionDays * 86_400L;

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(ConnectionString);
        ArgumentException.ThrowIfNullOrWhiteSpace(Database);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(RetentionDays);

        // The server keeps expireAfterSeconds as a 32-bit integer.
        ArgumentOutOfRangeException.ThrowIfGreaterThan(RetentionSeconds, int.MaxValue, nameof(RetentionDays));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxBatchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxBatchBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(QueueCapacity);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(QueueByteCapacity);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxBatchAttempts);
    }
}
