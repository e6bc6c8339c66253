namespace ChatWire.Storage.MySql;

/// <summary>Where <see cref="MySqlMessageStore"/> keeps the messages, and tuning for its group-commit writer.</summary>
/// <param name="ConnectionString">
/// A MySqlConnector connection string naming the database (Database=…), created on open when missing.
/// </param>
public sealed record MySqlMessageStoreOptions(string ConnectionString)
{
    /// <summary>
    /// The most appends committed in one transaction (one redo-log flush).
    /// The gateway's publisher holds one whole batch of this default before the writer waits for it
    /// (<c>EventPublisher.MaxEventsPending</c>): raise both together.
    /// </summary>
    public int MaxBatchSize { get; init; } = 256;

    /// <summary>
    /// Content bytes committed in one transaction, at most (a single larger append is a batch of its own):
    /// keeps one user's large messages from making everyone's commit long.
    /// </summary>
    public long MaxBatchBytes { get; init; } = 4L << 20;

    /// <summary>Appends waiting for the writer; past it <see cref="MySqlMessageStore.EnqueueAsync"/> waits for room.</summary>
    public int QueueCapacity { get; init; } = 10_000;

    /// <summary>Content bytes waiting for the writer; past it <see cref="MySqlMessageStore.EnqueueAsync"/> waits for room.</summary>
    public long QueueByteCapacity { get; init; } = 64L << 20;

    /// <summary>
    /// How many times one batch is tried when it meets a deadlock or a lock wait timeout (another node's
    /// transaction in the way) before its appends fail.
    /// </summary>
    public int MaxBatchAttempts { get; init; } = 10;

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(ConnectionString);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxBatchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(QueueCapacity);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxBatchBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(QueueByteCapacity);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxBatchAttempts);
    }
}
