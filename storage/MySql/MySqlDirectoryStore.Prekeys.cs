using ChatWire.Storage.Keys;
using MySqlConnector;

namespace ChatWire.Storage.MySql;

// The key directory: prekeys, link payloads, recovery backups.
public sealed partial class MySqlDirectoryStore
{
    public Task SetSignedPrekeyAsync(SignedPrekeyRecord prekey, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prekey);
        return WriteAsync(async (connection, ct) =>
        {
            // Only for a device with keys: a revoked one has none and must not get prekeys back.
            await using var command = new MySqlCommand(
                $"""
                INSERT INTO signed_prekeys ({KeyRows.SignedPrekeyColumns})
                SELECT @device_id, @prekey_id, @public_key, @signature, @created_at FROM DUAL
                WHERE EXISTS (SELECT 1 FROM device_keys WHERE device_id = @device_id)
                ON DUPLICATE KEY UPDATE
                    prekey_id = VALUES(prekey_id), public_key = VALUES(public_key), signature = VALUES(signature), created_at = VALUES(created_at);
                """,
                connection);
            command.Parameters.AddGuid("@device_id", prekey.DeviceId);
            command.Parameters.AddInteger("@prekey_id", prekey.PrekeyId);
            command.Parameters.AddBinary("@public_key", prekey.PublicKey);
            command.Parameters.AddBinary("@signature", prekey.Signature);
            command.Parameters.AddTime("@created_at", prekey.CreatedAt);
            return await command.ExecuteNonQueryAsync(ct);
        }, cancellationToken);
    }

    public Task<SignedPrekeyRecord?> GetSignedPrekeyAsync(Guid deviceId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand($"SELECT {KeyRows.SignedPrekeyColumns} FROM signed_prekeys WHERE device_id = @device_id;", connection);
            command.Parameters.AddGuid("@device_id", deviceId);
            return await ReadSingleAsync(command, KeyRows.ReadSignedPrekey, ct);
        }, cancellationToken);

    public Task<int?> AddOneTimePrekeysAsync(Guid deviceId, IReadOnlyList<OneTimePrekeyRecord> prekeys, int maxHeld = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prekeys);
        return InTransactionAsync<int?>(async (connection, transaction, ct) =>
        {
            await using var command = new MySqlCommand { Connection = connection, Transaction = transaction };
            command.Parameters.AddGuid("@device_id", deviceId);
            if (maxHeld > 0)
            {
                // A locking read (the device's rows and the gap after them): a concurrent upload for the device waits
                // here (or deadlocks and is retried), so two cannot both pass the limit.
                // Ids the device already holds are kept as they are, so a retried upload counts only what is new.
                var ids = string.Join(", ", prekeys.Select((_, i) => "@held" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                command.CommandText = $"""
                    SELECT COUNT(*) - COALESCE(SUM(prekey_id IN ({(ids.Length == 0 ? "NULL" : ids)})), 0)
                    FROM one_time_prekeys WHERE device_id = @device_id FOR UPDATE;
                    """;
                for (var i = 0; i < prekeys.Count; i++)
                {
                    command.Parameters.AddInteger("@held" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), prekeys[i].PrekeyId);
                }

                // Held and not in this upload, plus everything in it.
                if (await ReadCountAsync(command, ct) + prekeys.Count > maxHeld)
                {
                    return null;
                }
            }

            command.CommandText = "SELECT COUNT(*) FROM one_time_prekeys WHERE device_id = @device_id;";
            if (prekeys.Count > 0)
            {
                // One statement for the batch; an id already stored keeps its key (the no-op update).
                var rows = new string[prekeys.Count];
                for (var i = 0; i < rows.Length; i++)
                {
                    var n = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    command.Parameters.AddInteger("@id" + n, prekeys[i].PrekeyId);
                    command.Parameters.AddBinary("@key" + n, prekeys[i].PublicKey);
                    rows[i] = $"SELECT @device_id AS device_id, @id{n} AS prekey_id, @key{n} AS public_key";
                }

                command.CommandText = $"""
                    INSERT INTO one_time_prekeys (device_id, prekey_id, public_key)
                    SELECT n.device_id, n.prekey_id, n.public_key FROM ({string.Join(" UNION ALL ", rows)}) n
                    WHERE EXISTS (SELECT 1 FROM device_keys WHERE device_id = @device_id)
                    ON DUPLICATE KEY UPDATE prekey_id = one_time_prekeys.prekey_id;
                    """ + command.CommandText;
            }

            return (int)await ReadLastScalarAsync(command, ct);
        }, cancellationToken);
    }

    public Task<int> CountOneTimePrekeysAsync(Guid deviceId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand("SELECT COUNT(*) FROM one_time_prekeys WHERE device_id = @device_id;", connection);
            command.Parameters.AddGuid("@device_id", deviceId);
            return await ReadCountAsync(command, ct);
        }, cancellationToken);

    public Task<OneTimePrekeyRecord?> ClaimOneTimePrekeyAsync(Guid deviceId, CancellationToken cancellationToken = default) =>
        InTransactionAsync(async (connection, transaction, ct) =>
        {
            // The lowest id no other transaction holds, locked, then deleted: concurrent claims on any node each
            // take a different key instead of waiting for (and then missing) the same one.
            OneTimePrekeyRecord? claimed;
            await using (var select = new MySqlCommand(
                "SELECT prekey_id, public_key FROM one_time_prekeys WHERE device_id = @device_id ORDER BY prekey_id LIMIT 1 FOR UPDATE SKIP LOCKED;",
                connection,
                transaction))
            {
                select.Parameters.AddGuid("@device_id", deviceId);
                claimed = await ReadSingleAsync(select, static reader => new OneTimePrekeyRecord(reader.GetInt32(0), reader.GetFieldValue<byte[]>(1)), ct);
            }

            if (claimed is null)
            {
                return null;
            }

            await using var delete = new MySqlCommand("DELETE FROM one_time_prekeys WHERE device_id = @device_id AND prekey_id = @prekey_id;", connection, transaction);
            delete.Parameters.AddGuid("@device_id", deviceId);
            delete.Parameters.AddInteger("@prekey_id", claimed.PrekeyId);
            await delete.ExecuteNonQueryAsync(ct);
            return claimed;
        }, cancellationToken);

    public Task SetLinkPayloadAsync(Guid deviceId, Guid fromDeviceId, byte[] payload, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(payload);
        return InTransactionAsync(async (connection, transaction, ct) =>
        {
            Guid? owner;
            await using (var select = new MySqlCommand("SELECT user_id FROM device_keys WHERE device_id = @device_id;", connection, transaction))
            {
                select.Parameters.AddGuid("@device_id", deviceId);
                await using var reader = await select.ExecuteReaderAsync(ct);
                owner = await reader.ReadAsync(ct) ? reader.ReadGuid(0) : null;
            }

            if (owner is not { } userId)
            {
                return 0;
            }

            // The owner's row lock, then the device's keys again in the insert's own (locking) read: a revocation, which
            // deletes them under the same lock, either came first and nothing is stored, or comes after and deletes this.
            await LockLiveUserAsync(connection, transaction, userId, ct);
            await using var command = new MySqlCommand(
                """
                INSERT INTO link_payloads (device_id, from_device_id, payload, created_at)
                SELECT @device_id, @from_device_id, @payload, @created_at FROM DUAL
                WHERE EXISTS (SELECT 1 FROM device_keys WHERE device_id = @device_id)
                ON DUPLICATE KEY UPDATE from_device_id = VALUES(from_device_id), payload = VALUES(payload), created_at = VALUES(created_at);
                """,
                connection,
                transaction);
            command.Parameters.AddGuid("@device_id", deviceId);
            command.Parameters.AddGuid("@from_device_id", fromDeviceId);
            command.Parameters.AddBinary("@payload", payload);
            command.Parameters.AddTime("@created_at", at);
            return await command.ExecuteNonQueryAsync(ct);
        }, cancellationToken);
    }

    public Task<(Guid FromDeviceId, byte[] Payload)?> GetLinkPayloadAsync(Guid deviceId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync<(Guid FromDeviceId, byte[] Payload)?>(async (connection, ct) =>
        {
            await using var command = new MySqlCommand("SELECT from_device_id, payload FROM link_payloads WHERE device_id = @device_id;", connection);
            command.Parameters.AddGuid("@device_id", deviceId);
            await using var reader = await command.ExecuteReaderAsync(ct);
            return await reader.ReadAsync(ct) ? (reader.ReadGuid(0), reader.GetFieldValue<byte[]>(1)) : null;
        }, cancellationToken);

    public Task<bool> DeleteLinkPayloadAsync(Guid deviceId, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand("DELETE FROM link_payloads WHERE device_id = @device_id;", connection);
            command.Parameters.AddGuid("@device_id", deviceId);
            return await command.ExecuteNonQueryAsync(ct) == 1;
        }, cancellationToken);

    public Task SetRecoveryBackupAsync(Guid userId, byte[] backup, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backup);
        return InTransactionAsync(async (connection, transaction, ct) =>
        {
            await LockLiveUserAsync(connection, transaction, userId, ct);
            await using var command = new MySqlCommand(
                """
                INSERT INTO recovery_backups (user_id, backup, updated_at) VALUES (@user_id, @backup, @updated_at)
                ON DUPLICATE KEY UPDATE backup = VALUES(backup), updated_at = VALUES(updated_at);
                """,
                connection,
                transaction);
            command.Parameters.AddGuid("@user_id", userId);
            command.Parameters.AddBinary("@backup", backup);
            command.Parameters.AddTime("@updated_at", at);
            return await command.ExecuteNonQueryAsync(ct);
        }, cancellationToken);
    }

    public Task<byte[]?> GetRecoveryBackupAsync(Guid userId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand("SELECT backup FROM recovery_backups WHERE user_id = @user_id;", connection);
            command.Parameters.AddGuid("@user_id", userId);
            return await ReadSingleAsync(command, static reader => reader.GetFieldValue<byte[]>(0), ct);
        }, cancellationToken);
}
