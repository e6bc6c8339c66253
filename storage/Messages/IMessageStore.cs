namespace ChatWire.Storage.Messages;

/// <summary>A message to store. <see cref="MessageId"/> is the sender's idempotency key.</summary>
public sealed record NewMessage(
    Guid ConversationId,
    Guid MessageId,
    Guid SenderUserId,
    Guid SenderDeviceId,
    string ContentType,
    ReadOnlyMemory<byte> Content);

/// <summary>A stored message with its server-assigned seq and time.</summary>
public sealed record StoredMessage(
    Guid ConversationId,
    Guid MessageId,
    ulong Seq,
    Guid SenderUserId,
    Guid SenderDeviceId,
    DateTimeOffset StoredAt,
    string ContentType,
    ReadOnlyMemory<byte> Content);

public enum AppendOutcome
{
    /// <summary>Stored now, with a new seq.</summary>
    Stored = 0,

    /// <summary>The same (conversation, sender device, message id) and the same body were stored before: the original seq.</summary>
    Duplicate = 1,

    /// <summary>The same key was stored before with another body: nothing stored.</summary>
    Conflict = 2,
}

/// <summary>The result of an append: for Stored and Duplicate, the message as stored.</summary>
public sealed record AppendResult(AppendOutcome Outcome, StoredMessage? Message);

public enum ReadDirection
{
    /// <summary>Seq below the starting seq (0 = from the newest).</summary>
    Before = 0,

    /// <summary>Seq above the starting seq.</summary>
    After = 1,
}

/// <summary>
/// The message port. Appends assign a gap-free seq per conversation inside the write that stores the
/// message; a completed <see cref="AppendAsync"/> means durable. Adapters: SQLite (embedded), MongoDB
/// (distributed). Every adapter passes MessageStoreContract.
/// </summary>
public interface IMessageStore
{
    Task<AppendResult> AppendAsync(NewMessage message, CancellationToken cancellationToken = default);

    /// <summary>Up to <paramref name="limit"/> messages next to <paramref name="fromSeq"/> (exclusive), ascending by seq.</summary>
    Task<IReadOnlyList<StoredMessage>> ReadAsync(Guid conversationId, ulong fromSeq, ReadDirection direction, int limit, CancellationToken cancellationToken = default);

    Task<StoredMessage?> FindByIdAsync(Guid conversationId, Guid messageId, CancellationToken cancellationToken = default);

    /// <summary>The highest seq stored in the conversation; 0 when empty.</summary>
    Task<ulong> GetLatestSeqAsync(Guid conversationId, CancellationToken cancellationToken = default);
}
