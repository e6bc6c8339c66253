namespace ChatWire.Storage.Sqlite;

/// <summary>Tuning for <see cref="SqliteMessageStore"/>'s group-commit writer.</summary>
public sealed record SqliteMessageStoreOptions
{
    /// <summary>The most appends committed in one transaction (one fsync).</summary>
    public int MaxBatchSize { get; init; } = 256;

    /// <summary>Appends waiting for the writer; past it <see cref="SqliteMessageStore.EnqueueAsync"/> waits for room.</summary>
    public int QueueCapacity { get; init; } = 10_000;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxBatchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(QueueCapacity);
    }
}
