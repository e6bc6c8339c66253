using ChatWire.Storage.Attachments;
using Microsoft.Data.Sqlite;

namespace ChatWire.Storage.Sqlite;

// Attachment metadata, in the directory database (migration 20261202110000_directory_attachments).
public sealed partial class SqliteDirectoryStore : IAttachmentStore
{
    private const string AttachmentColumns = "id, conversation_id, owner_user_id, size, sha256, state, created_at";

    public async Task<bool> CreateAttachmentAsync(AttachmentRecord attachment, long quotaBytes, int maxPending = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(attachment);
        await using var connection = await OpenConnectionAsync(cancellationToken);

        // BEGIN IMMEDIATE: the sums and the insert see no other writer between them.
        using var transaction = connection.BeginTransaction(deferred: false);
        if (quotaBytes > 0 || maxPending > 0)
        {
            await using var sum = connection.CreateCommand();
            sum.Transaction = transaction;
            sum.CommandText = "SELECT COALESCE(SUM(size), 0), COALESCE(SUM(state = $pending), 0) FROM attachments WHERE owner_user_id = $owner;";
            sum.Parameters.AddGuid("$owner", attachment.OwnerUserId);
            sum.Parameters.AddInteger("$pending", (long)AttachmentState.Pending);
            long used, pending;
            await using (var reader = await sum.ExecuteReaderAsync(cancellationToken))
            {
                await reader.ReadAsync(cancellationToken);
                (used, pending) = (reader.GetInt64(0), reader.GetInt64(1));
            }

            if ((quotaBytes > 0 && used + attachment.Size > quotaBytes) || (maxPending > 0 && pending >= maxPending))
            {
                return false;
            }
        }

        await using (var insert = connection.CreateCommand())
        {
            insert.Transaction = transaction;
            insert.CommandText = $"""
                INSERT INTO attachments ({AttachmentColumns})
                VALUES ($id, $conversation_id, $owner_user_id, $size, $sha256, $state, $created_at);
                """;
            insert.Parameters.AddGuid("$id", attachment.Id);
            insert.Parameters.AddGuid("$conversation_id", attachment.ConversationId);
            insert.Parameters.AddGuid("$owner_user_id", attachment.OwnerUserId);
            insert.Parameters.AddInteger("$size", attachment.Size);
            insert.Parameters.AddBlob("$sha256", attachment.Sha256);
            insert.Parameters.AddInteger("$state", (long)attachment.State);
            insert.Parameters.AddTime("$created_at", attachment.CreatedAt);
            await ExecuteInsertAsync(insert, "The attachment id is taken.", cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<AttachmentRecord?> GetAttachmentAsync(Guid attachmentId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {AttachmentColumns} FROM attachments WHERE id = $id;";
        command.Parameters.AddGuid("$id", attachmentId);
        return await ReadSingleAsync(command, ReadAttachment, cancellationToken);
    }

    public async Task<bool> MarkAttachmentReadyAsync(Guid attachmentId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE attachments SET state = $ready WHERE id = $id AND state = $pending;";
        command.Parameters.AddGuid("$id", attachmentId);
        command.Parameters.AddInteger("$ready", (long)AttachmentState.Ready);
        command.Parameters.AddInteger("$pending", (long)AttachmentState.Pending);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<bool> MarkAttachmentOrphanedAsync(Guid attachmentId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE attachments SET state = $orphaned WHERE id = $id;";
        command.Parameters.AddGuid("$id", attachmentId);
        command.Parameters.AddInteger("$orphaned", (long)AttachmentState.Orphaned);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<bool> DeleteAttachmentAsync(Guid attachmentId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM attachments WHERE id = $id;";
        command.Parameters.AddGuid("$id", attachmentId);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<long> GetAttachmentBytesAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COALESCE(SUM(size), 0) FROM attachments WHERE owner_user_id = $owner;";
        command.Parameters.AddGuid("$owner", userId);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<IReadOnlyList<AttachmentRecord>> ListPendingAttachmentsAsync(DateTimeOffset createdBefore, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT {AttachmentColumns} FROM attachments
            WHERE state = $pending AND created_at < $before
            ORDER BY created_at, id LIMIT $limit;
            """;
        command.Parameters.AddInteger("$pending", (long)AttachmentState.Pending);
        command.Parameters.AddTime("$before", createdBefore);
        command.Parameters.AddInteger("$limit", limit);
        return await ReadListAsync(command, ReadAttachment, cancellationToken);
    }

    public async Task<IReadOnlyList<AttachmentRecord>> ListOrphanedAttachmentsAsync(DateTimeOffset createdBefore, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {AttachmentColumns} FROM attachments WHERE state = $orphaned AND created_at < $before ORDER BY created_at, id LIMIT $limit;";
        command.Parameters.AddInteger("$orphaned", (long)AttachmentState.Orphaned);
        command.Parameters.AddTime("$before", createdBefore);
        command.Parameters.AddInteger("$limit", limit);
        return await ReadListAsync(command, ReadAttachment, cancellationToken);
    }

    private static AttachmentRecord ReadAttachment(SqliteDataReader reader) => new(
        reader.ReadGuid(0),
        reader.ReadGuid(1),
        reader.ReadGuid(2),
        reader.GetInt64(3),
        reader.GetFieldValue<byte[]>(4),
        (AttachmentState)reader.GetInt64(5),
        reader.ReadTime(6));
}
