using ChatWire.Storage.Attachments;
using MySqlConnector;

namespace ChatWire.Storage.MySql;

// Attachment metadata, in the directory database (migration 20261202110000_directory_attachments). Reads go to
// the primary: a client completes or downloads right after creating, and a replica may not have the row yet.
public sealed partial class MySqlDirectoryStore : IAttachmentStore
{
    private const string AttachmentColumns = "id, conversation_id, owner_user_id, size, sha256, state, created_at";

    public Task<bool> CreateAttachmentAsync(AttachmentRecord attachment, long quotaBytes, int maxPending = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(attachment);
        return WriteAsync(async (connection, ct) =>
        {
            // Creates for one owner take turns under a named lock on the primary (every node writes there), taken
            // before the transaction so its snapshot sees the previous holder's insert. A FOR UPDATE over the
            // owner's rows locked the gap after them too, and concurrent creates deadlocked on it more often than
            // a retry could absorb.
            var lockName = "chatwire-attachments-" + attachment.OwnerUserId.ToString("N");
            await AcquireNamedLockAsync(connection, lockName, ct);
            try
            {
                return await InsertAttachmentAsync(connection, attachment, quotaBytes, maxPending, ct);
            }
            finally
            {
                await using var release = new MySqlCommand("SELECT RELEASE_LOCK(@name);", connection);
                release.Parameters.AddWithValue("@name", lockName);
                await release.ExecuteScalarAsync(CancellationToken.None);
            }
        }, cancellationToken);
    }

    private static async Task AcquireNamedLockAsync(MySqlConnection connection, string name, CancellationToken cancellationToken)
    {
        await using var acquire = new MySqlCommand("SELECT GET_LOCK(@name, 10);", connection);
        acquire.Parameters.AddWithValue("@name", name);
        if (Convert.ToInt64(await acquire.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture) != 1)
        {
            throw new TimeoutException($"The lock {name} was not granted within 10 s.");
        }
    }

    private static async Task<bool> InsertAttachmentAsync(MySqlConnection connection, AttachmentRecord attachment, long quotaBytes, int maxPending, CancellationToken ct)
    {
        await using var transaction = await connection.BeginTransactionAsync(ct);
        if (quotaBytes > 0 || maxPending > 0)
        {
            await using var sum = new MySqlCommand(
                "SELECT COALESCE(SUM(size), 0), COALESCE(SUM(state = @pending), 0) FROM attachments WHERE owner_user_id = @owner;", connection, transaction);
            sum.Parameters.AddGuid("@owner", attachment.OwnerUserId);
            sum.Parameters.AddInteger("@pending", (long)AttachmentState.Pending);
            long used, pending;
            await using (var reader = await sum.ExecuteReaderAsync(ct))
            {
                await reader.ReadAsync(ct);
                used = Convert.ToInt64(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture);
                pending = Convert.ToInt64(reader.GetValue(1), System.Globalization.CultureInfo.InvariantCulture);
            }

            if ((quotaBytes > 0 && used + attachment.Size > quotaBytes) || (maxPending > 0 && pending >= maxPending))
            {
                return false;
            }
        }

        await using (var insert = new MySqlCommand(
            $"""
            INSERT INTO attachments ({AttachmentColumns})
            VALUES (@id, @conversation_id, @owner_user_id, @size, @sha256, @state, @created_at);
            """,
            connection,
            transaction))
        {
            insert.Parameters.AddGuid("@id", attachment.Id);
            insert.Parameters.AddGuid("@conversation_id", attachment.ConversationId);
            insert.Parameters.AddGuid("@owner_user_id", attachment.OwnerUserId);
            insert.Parameters.AddInteger("@size", attachment.Size);
            insert.Parameters.AddBinary("@sha256", attachment.Sha256);
            insert.Parameters.AddInteger("@state", (long)attachment.State);
            insert.Parameters.AddTime("@created_at", attachment.CreatedAt);
            await ExecuteInsertAsync(insert, "The attachment id is taken.", ct);
        }

        await transaction.CommitAsync(ct);
        return true;
    }

    public Task<AttachmentRecord?> GetAttachmentAsync(Guid attachmentId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand($"SELECT {AttachmentColumns} FROM attachments WHERE id = @id;", connection);
            command.Parameters.AddGuid("@id", attachmentId);
            return await ReadSingleAsync(command, ReadAttachment, ct);
        }, cancellationToken);

    public Task<bool> MarkAttachmentReadyAsync(Guid attachmentId, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand("UPDATE attachments SET state = @ready WHERE id = @id AND state = @pending;", connection);
            command.Parameters.AddGuid("@id", attachmentId);
            command.Parameters.AddInteger("@ready", (long)AttachmentState.Ready);
            command.Parameters.AddInteger("@pending", (long)AttachmentState.Pending);
            return await command.ExecuteNonQueryAsync(ct) == 1;
        }, cancellationToken);

    public Task<bool> MarkAttachmentOrphanedAsync(Guid attachmentId, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand("UPDATE attachments SET state = @orphaned WHERE id = @id;", connection);
            command.Parameters.AddGuid("@id", attachmentId);
            command.Parameters.AddInteger("@orphaned", (long)AttachmentState.Orphaned);
            return await command.ExecuteNonQueryAsync(ct) == 1;
        }, cancellationToken);

    public Task<bool> DeleteAttachmentAsync(Guid attachmentId, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand("DELETE FROM attachments WHERE id = @id;", connection);
            command.Parameters.AddGuid("@id", attachmentId);
            return await command.ExecuteNonQueryAsync(ct) == 1;
        }, cancellationToken);

    public Task<long> GetAttachmentBytesAsync(Guid userId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand("SELECT COALESCE(SUM(size), 0) FROM attachments WHERE owner_user_id = @owner;", connection);
            command.Parameters.AddGuid("@owner", userId);
            return Convert.ToInt64(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
        }, cancellationToken);

    public Task<IReadOnlyList<AttachmentRecord>> ListPendingAttachmentsAsync(DateTimeOffset createdBefore, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        return ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                $"""
                SELECT {AttachmentColumns} FROM attachments
                WHERE state = @pending AND created_at < @before
                ORDER BY created_at, id LIMIT @limit;
                """,
                connection);
            command.Parameters.AddInteger("@pending", (long)AttachmentState.Pending);
            command.Parameters.AddTime("@before", createdBefore);
            command.Parameters.AddInteger("@limit", limit);
            return await ReadListAsync(command, ReadAttachment, ct);
        }, cancellationToken);
    }

    public Task<IReadOnlyList<AttachmentRecord>> ListOrphanedAttachmentsAsync(DateTimeOffset createdBefore, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        return ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                $"SELECT {AttachmentColumns} FROM attachments WHERE state = @orphaned AND created_at < @before ORDER BY created_at, id LIMIT @limit;", connection);
            command.Parameters.AddInteger("@orphaned", (long)AttachmentState.Orphaned);
            command.Parameters.AddTime("@before", createdBefore);
            command.Parameters.AddInteger("@limit", limit);
            return await ReadListAsync(command, ReadAttachment, ct);
        }, cancellationToken);
    }

    private static AttachmentRecord ReadAttachment(MySqlDataReader reader) => new(
        reader.ReadGuid(0),
        reader.ReadGuid(1),
        reader.ReadGuid(2),
        reader.GetInt64(3),
        reader.GetFieldValue<byte[]>(4),
        (AttachmentState)reader.GetInt32(5),
        reader.ReadTime(6));
}
