namespace ChatWire.Storage.Sqlite;

/// <summary>Tuning for <see cref="SqliteMessageStore"/>'s group-commit writer.</summary>
public sealed record SqliteMessageStoreOptions
{
    /// <summary>
    /// The most appends committed in one transaction (one fsync).
    /// The gateway's publisher holds one whole batch of this default before the writer waits for it
    /// (<c>EventPublisher.MaxEventsPending</c>): raise both together.
    /// </summary>
    public int MaxBatchSize { get; init; } = 256;

    /// <summary>
    /// Content bytes committed in one transaction, at most (a single larger append is a batch of its own):
    /// keeps one user's large messages from making everyone's commit long.
    /// </summary>
    public long MaxBatchBytes { get; init; } = 4L << 20;

    /// <summary>Appends waiting for the writer; past it <see cref="SqliteMessageStore.EnqueueAsync"/> waits for room.</summary>
    public int QueueCapacity { get; init; } = 10_000;

    /// <summary>Content bytes waiting for the writer; past it <see cref="SqliteMessageStore.EnqueueAsync"/> waits for room.</summary>
    public long QueueByteCapacity { get; init; } = 64L << 20;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxBatchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(QueueCapacity);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxBatchBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(QueueByteCapacity);
    }
}
