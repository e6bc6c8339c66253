using ChatWire.Storage.Keys;

namespace ChatWire.Storage.Sqlite;

// The key directory: prekeys, link payloads, recovery backups.
public sealed partial class SqliteDirectoryStore
{
    public async Task SetSignedPrekeyAsync(SignedPrekeyRecord prekey, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prekey);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();

        // Only for a device with keys: a revoked one has none and must not get prekeys back.
        command.CommandText = $"""
            INSERT INTO signed_prekeys ({KeyRows.SignedPrekeyColumns})
            SELECT $device_id, $prekey_id, $public_key, $signature, $created_at
            WHERE EXISTS (SELECT 1 FROM device_keys WHERE device_id = $device_id)
            ON CONFLICT (device_id) DO UPDATE SET
                prekey_id = excluded.prekey_id, public_key = excluded.public_key, signature = excluded.signature, created_at = excluded.created_at;
            """;
        command.Parameters.AddGuid("$device_id", prekey.DeviceId);
        command.Parameters.AddInteger("$prekey_id", prekey.PrekeyId);
        command.Parameters.AddBlob("$public_key", prekey.PublicKey);
        command.Parameters.AddBlob("$signature", prekey.Signature);
        command.Parameters.AddTime("$created_at", prekey.CreatedAt);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<SignedPrekeyRecord?> GetSignedPrekeyAsync(Guid deviceId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {KeyRows.SignedPrekeyColumns} FROM signed_prekeys WHERE device_id = $device_id;";
        command.Parameters.AddGuid("$device_id", deviceId);
        return await ReadSingleAsync(command, KeyRows.ReadSignedPrekey, cancellationToken);
    }

    public Task<int?> AddOneTimePrekeysAsync(Guid deviceId, IReadOnlyList<OneTimePrekeyRecord> prekeys, int maxHeld = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prekeys);
        return InTransactionAsync<int?>(async (connection, transaction, ct) =>
        {
            // BEGIN IMMEDIATE: no other writer between this count and the insert.
            if (maxHeld > 0)
            {
                // Ids the device already holds are ignored by the insert, so a retried upload counts only what is new.
                var ids = string.Join(", ", prekeys.Select((_, i) => "$id" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                await using var held = Command(connection, transaction, $"""
                    SELECT count(*), count(*) FILTER (WHERE prekey_id IN ({(ids.Length == 0 ? "NULL" : ids)}))
                    FROM one_time_prekeys WHERE device_id = $device_id;
                    """);
                held.Parameters.AddGuid("$device_id", deviceId);
                for (var i = 0; i < prekeys.Count; i++)
                {
                    held.Parameters.AddInteger("$id" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), prekeys[i].PrekeyId);
                }

                long heldCount, heldAgain;
                await using (var reader = await held.ExecuteReaderAsync(ct))
                {
                    await reader.ReadAsync(ct);
                    (heldCount, heldAgain) = (reader.GetInt64(0), reader.GetInt64(1));
                }

                if (heldCount + prekeys.Count - heldAgain > maxHeld)
                {
                    return null;
                }
            }

            await using (var insert = Command(connection, transaction, """
                INSERT INTO one_time_prekeys (device_id, prekey_id, public_key)
                SELECT $device_id, $prekey_id, $public_key
                WHERE EXISTS (SELECT 1 FROM device_keys WHERE device_id = $device_id)
                ON CONFLICT (device_id, prekey_id) DO NOTHING;
                """))
            {
                insert.Parameters.AddGuid("$device_id", deviceId);
                var prekeyId = insert.Parameters.AddInteger("$prekey_id", 0);
                var publicKey = insert.Parameters.AddBlob("$public_key", []);
                foreach (var prekey in prekeys)
                {
                    prekeyId.Value = (long)prekey.PrekeyId;
                    publicKey.Value = prekey.PublicKey;
                    await insert.ExecuteNonQueryAsync(ct);
                }
            }

            await using var count = Command(connection, transaction, "SELECT count(*) FROM one_time_prekeys WHERE device_id = $device_id;");
            count.Parameters.AddGuid("$device_id", deviceId);
            return await ReadCountAsync(count, ct);
        }, cancellationToken);
    }

    public async Task<int> CountOneTimePrekeysAsync(Guid deviceId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM one_time_prekeys WHERE device_id = $device_id;";
        command.Parameters.AddGuid("$device_id", deviceId);
        return await ReadCountAsync(command, cancellationToken);
    }

    public async Task<OneTimePrekeyRecord?> ClaimOneTimePrekeyAsync(Guid deviceId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();

        // One statement: SQLite runs it under the single write lock, so the lowest id is read and deleted atomically.
        command.CommandText = """
            DELETE FROM one_time_prekeys
            WHERE device_id = $device_id AND prekey_id = (SELECT min(prekey_id) FROM one_time_prekeys WHERE device_id = $device_id)
            RETURNING prekey_id, public_key;
            """;
        command.Parameters.AddGuid("$device_id", deviceId);
        return await ReadSingleAsync(command, static reader => new OneTimePrekeyRecord(reader.GetInt32(0), reader.GetFieldValue<byte[]>(1)), cancellationToken);
    }

    public Task SetLinkPayloadAsync(Guid deviceId, Guid fromDeviceId, byte[] payload, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(payload);
        return InTransactionAsync(async (connection, transaction, ct) =>
        {
            Guid? owner;
            await using (var select = Command(connection, transaction, "SELECT user_id FROM device_keys WHERE device_id = $device_id;"))
            {
                select.Parameters.AddGuid("$device_id", deviceId);
                await using var reader = await select.ExecuteReaderAsync(ct);
                owner = await reader.ReadAsync(ct) ? reader.ReadGuid(0) : null;
            }

            // A device revoked meanwhile has no keys any more, and takes no payload.
            if (owner is not { } userId)
            {
                return 0;
            }

            await RequireLiveUserAsync(connection, transaction, userId, ct);
            await using var command = Command(connection, transaction, """
                INSERT INTO link_payloads (device_id, from_device_id, payload, created_at) VALUES ($device_id, $from_device_id, $payload, $created_at)
                ON CONFLICT (device_id) DO UPDATE SET from_device_id = excluded.from_device_id, payload = excluded.payload, created_at = excluded.created_at;
                """);
            command.Parameters.AddGuid("$device_id", deviceId);
            command.Parameters.AddGuid("$from_device_id", fromDeviceId);
            command.Parameters.AddBlob("$payload", payload);
            command.Parameters.AddTime("$created_at", at);
            return await command.ExecuteNonQueryAsync(ct);
        }, cancellationToken);
    }

    public async Task<(Guid FromDeviceId, byte[] Payload)?> GetLinkPayloadAsync(Guid deviceId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT from_device_id, payload FROM link_payloads WHERE device_id = $device_id;";
        command.Parameters.AddGuid("$device_id", deviceId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.ReadGuid(0), reader.GetFieldValue<byte[]>(1)) : null;
    }

    public async Task<bool> DeleteLinkPayloadAsync(Guid deviceId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM link_payloads WHERE device_id = $device_id;";
        command.Parameters.AddGuid("$device_id", deviceId);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public Task SetRecoveryBackupAsync(Guid userId, byte[] backup, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backup);
        return InTransactionAsync(async (connection, transaction, ct) =>
        {
            await RequireLiveUserAsync(connection, transaction, userId, ct);
            await using var command = Command(connection, transaction, """
                INSERT INTO recovery_backups (user_id, backup, updated_at) VALUES ($user_id, $backup, $updated_at)
                ON CONFLICT (user_id) DO UPDATE SET backup = excluded.backup, updated_at = excluded.updated_at;
                """);
            command.Parameters.AddGuid("$user_id", userId);
            command.Parameters.AddBlob("$backup", backup);
            command.Parameters.AddTime("$updated_at", at);
            return await command.ExecuteNonQueryAsync(ct);
        }, cancellationToken);
    }

    public async Task<byte[]?> GetRecoveryBackupAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT backup FROM recovery_backups WHERE user_id = $user_id;";
        command.Parameters.AddGuid("$user_id", userId);
        return await ReadSingleAsync(command, static reader => reader.GetFieldValue<byte[]>(0), cancellationToken);
    }
}
