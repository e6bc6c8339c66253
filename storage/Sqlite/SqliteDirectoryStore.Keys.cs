using ChatWire.Storage.Keys;
using Microsoft.Data.Sqlite;

namespace ChatWire.Storage.Sqlite;

// The key directory: account and history keys, device keys, device lists, revocation.
public sealed partial class SqliteDirectoryStore : IKeyDirectoryStore
{
    // Key state that moves with membership: every conversation the user is in.
    private const string NewEpochForUserSql = """
        UPDATE conversations SET key_epoch = key_epoch + 1, key_roster_version = key_roster_version + 1
        WHERE id IN (SELECT conversation_id FROM conversation_members WHERE user_id = $user_id);
        """;

    private const string NewRosterForUserSql = """
        UPDATE conversations SET key_roster_version = key_roster_version + 1
        WHERE id IN (SELECT conversation_id FROM conversation_members WHERE user_id = $user_id);
        """;

    // Every generation the user has had stops being usable; the rows stay, so a new one must still be above them.
    private const string RetireHistoryKeysSql = """
        UPDATE users SET history_keys_usable_from = (SELECT coalesce(max(generation), 0) + 1 FROM history_keys WHERE user_id = $user_id)
        WHERE id = $user_id;
        """;

    public async Task<AccountKeyRecord?> GetAccountKeyAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {KeyRows.AccountKeyColumns} FROM account_keys WHERE user_id = $user_id;";
        command.Parameters.AddGuid("$user_id", userId);
        return await ReadSingleAsync(command, KeyRows.ReadAccountKey, cancellationToken);
    }

    public Task<AccountKeyRecord> SetAccountKeyAsync(Guid userId, byte[] signingKey, bool reset, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(signingKey);
        return InTransactionAsync(async (connection, transaction, ct) =>
        {
            await RequireLiveUserAsync(connection, transaction, userId, ct);
            AccountKeyRecord? current;
            await using (var select = Command(connection, transaction, $"SELECT {KeyRows.AccountKeyColumns} FROM account_keys WHERE user_id = $user_id;"))
            {
                select.Parameters.AddGuid("$user_id", userId);
                current = await ReadSingleAsync(select, KeyRows.ReadAccountKey, ct);
            }

            if (current is not null && (!reset || current.SigningKey.AsSpan().SequenceEqual(signingKey)))
            {
                return current;
            }

            var stored = new AccountKeyRecord(userId, signingKey, (current?.Version ?? 0) + 1, at);

            // A reset: what the old key signed goes (history keys, the device list, device certificates) and every
            // conversation of the user gets a new epoch.
            var sql = current is null
                ? "INSERT INTO account_keys (user_id, signing_key, version, updated_at) VALUES ($user_id, $signing_key, $version, $updated_at);"
                : $"""
                  UPDATE account_keys SET signing_key = $signing_key, version = $version, updated_at = $updated_at WHERE user_id = $user_id;
                  {RetireHistoryKeysSql}
                  DELETE FROM device_list_entries WHERE user_id = $user_id;
                  DELETE FROM device_lists WHERE user_id = $user_id;
                  UPDATE device_keys SET account_signature = NULL WHERE user_id = $user_id;
                  {NewEpochForUserSql}
                  """;
            await using var write = Command(connection, transaction, sql);
            write.Parameters.AddGuid("$user_id", userId);
            write.Parameters.AddBlob("$signing_key", signingKey);
            write.Parameters.AddInteger("$version", stored.Version);
            write.Parameters.AddTime("$updated_at", at);
            await write.ExecuteNonQueryAsync(ct);
            return stored;
        }, cancellationToken);
    }

    public async Task<HistoryKeyRecord?> GetHistoryKeyAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT {KeyRows.HistoryKeyColumns} FROM history_keys h JOIN users u ON u.id = h.user_id
            WHERE h.user_id = $user_id AND h.generation >= u.history_keys_usable_from
            ORDER BY h.generation DESC LIMIT 1;
            """;
        command.Parameters.AddGuid("$user_id", userId);
        return await ReadSingleAsync(command, KeyRows.ReadHistoryKey, cancellationToken);
    }

    public async Task<int> GetHighestHistoryKeyGenerationAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT coalesce(max(generation), 0) FROM history_keys WHERE user_id = $user_id;";
        command.Parameters.AddGuid("$user_id", userId);
        return await ReadCountAsync(command, cancellationToken);
    }

    public Task<bool> AddHistoryKeyAsync(HistoryKeyRecord key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return InTransactionAsync(async (connection, transaction, ct) =>
        {
            await RequireLiveUserAsync(connection, transaction, key.UserId, ct);
            await using (var highest = Command(connection, transaction, "SELECT coalesce(max(generation), 0) FROM history_keys WHERE user_id = $user_id;"))
            {
                highest.Parameters.AddGuid("$user_id", key.UserId);
                if (key.Generation <= await ReadCountAsync(highest, ct))
                {
                    return false;
                }
            }

            await using var insert = Command(connection, transaction, $"""
                INSERT INTO history_keys (user_id, generation, public_key, signature, created_at)
                VALUES ($user_id, $generation, $public_key, $signature, $created_at);
                {NewRosterForUserSql}
                """);
            insert.Parameters.AddGuid("$user_id", key.UserId);
            insert.Parameters.AddInteger("$generation", key.Generation);
            insert.Parameters.AddBlob("$public_key", key.PublicKey);
            insert.Parameters.AddBlob("$signature", key.Signature);
            insert.Parameters.AddTime("$created_at", key.CreatedAt);
            await insert.ExecuteNonQueryAsync(ct);
            return true;
        }, cancellationToken);
    }

    public Task<bool> SetDeviceKeysAsync(DeviceKeysRecord keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return InTransactionAsync(async (connection, transaction, ct) =>
        {
            await RequireLiveUserAsync(connection, transaction, keys.UserId, ct);
            await using (var select = Command(connection, transaction, $"SELECT {KeyRows.DeviceKeyColumns} FROM device_keys k WHERE k.device_id = $device_id;"))
            {
                select.Parameters.AddGuid("$device_id", keys.DeviceId);
                if (await ReadSingleAsync(select, KeyRows.ReadDeviceKeys, ct) is { } stored)
                {
                    return stored.UserId == keys.UserId
                        && stored.SigningKey.AsSpan().SequenceEqual(keys.SigningKey)
                        && stored.DhKey.AsSpan().SequenceEqual(keys.DhKey);
                }
            }

            // Not for a revoked session: a registration racing the revocation must not bring the device back.
            await using var insert = Command(connection, transaction, """
                INSERT INTO device_keys (device_id, user_id, signing_key, dh_key, created_at_ms, self_signature, link_code, certificate_version, account_signature)
                SELECT $device_id, $user_id, $signing_key, $dh_key, $created_at_ms, $self_signature, $link_code, $certificate_version, $account_signature
                WHERE NOT EXISTS (SELECT 1 FROM device_sessions WHERE device_id = $device_id AND revoked_at IS NOT NULL);
                """);
            insert.Parameters.AddGuid("$device_id", keys.DeviceId);
            insert.Parameters.AddGuid("$user_id", keys.UserId);
            insert.Parameters.AddBlob("$signing_key", keys.SigningKey);
            insert.Parameters.AddBlob("$dh_key", keys.DhKey);
            insert.Parameters.AddInteger("$created_at_ms", keys.CreatedAtMs);
            insert.Parameters.AddBlob("$self_signature", keys.SelfSignature);
            insert.Parameters.AddText("$link_code", KeyRows.NormalizeLinkCode(keys.LinkCode));
            insert.Parameters.AddInteger("$certificate_version", keys.CertificateVersion);
            insert.Parameters.Add("$account_signature", SqliteType.Blob).Value = keys.AccountSignature is { } signature ? signature : DBNull.Value;
            return await insert.ExecuteNonQueryAsync(ct) == 1;
        }, cancellationToken);
    }

    public async Task<DeviceKeysRecord?> GetDeviceKeysAsync(Guid deviceId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {KeyRows.DeviceKeyColumns} FROM device_keys k WHERE k.device_id = $device_id;";
        command.Parameters.AddGuid("$device_id", deviceId);
        return await ReadSingleAsync(command, KeyRows.ReadDeviceKeys, cancellationToken);
    }

    public async Task<DeviceKeysRecord?> FindDeviceByLinkCodeAsync(Guid userId, string linkCode, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(linkCode);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT {KeyRows.DeviceKeyColumns} FROM device_keys k
            WHERE k.user_id = $user_id AND k.link_code = $link_code
            ORDER BY k.created_at_ms DESC LIMIT 1;
            """;
        command.Parameters.AddGuid("$user_id", userId);
        command.Parameters.AddText("$link_code", KeyRows.NormalizeLinkCode(linkCode));
        return await ReadSingleAsync(command, KeyRows.ReadDeviceKeys, cancellationToken);
    }

    public async Task<IReadOnlyList<DeviceKeysRecord>> ListDeviceKeysAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {KeyRows.DeviceKeyColumns} FROM device_keys k WHERE k.user_id = $user_id ORDER BY k.created_at_ms, k.device_id;";
        command.Parameters.AddGuid("$user_id", userId);
        return await ReadListAsync(command, KeyRows.ReadDeviceKeys, cancellationToken);
    }

    public async Task<IReadOnlyList<FormerDeviceKeysRecord>> ListFormerDeviceKeysAsync(Guid userId, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {KeyRows.FormerDeviceKeyColumns} FROM former_device_keys k WHERE k.user_id = $user_id ORDER BY k.revoked_at DESC, k.device_id LIMIT $limit;";
        command.Parameters.AddGuid("$user_id", userId);
        command.Parameters.AddInteger("$limit", limit);
        return await ReadListAsync(command, KeyRows.ReadFormerDeviceKeys, cancellationToken);
    }

    public async Task<bool> SetDeviceCertificateAsync(Guid deviceId, int certificateVersion, byte[] accountSignature, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(accountSignature);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE device_keys SET certificate_version = $certificate_version, account_signature = $account_signature WHERE device_id = $device_id;";
        command.Parameters.AddInteger("$certificate_version", certificateVersion);
        command.Parameters.AddBlob("$account_signature", accountSignature);
        command.Parameters.AddGuid("$device_id", deviceId);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<DeviceListRecord?> GetDeviceListAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        using var transaction = connection.BeginTransaction(deferred: true);
        return await ReadDeviceListAsync(connection, transaction, userId, cancellationToken);
    }

    public Task<bool> SetDeviceListAsync(DeviceListRecord list, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(list);
        return InTransactionAsync(async (connection, transaction, ct) =>
        {
            await RequireLiveUserAsync(connection, transaction, list.UserId, ct);
            await using (var version = Command(connection, transaction, "SELECT coalesce(max(version), 0) FROM device_lists WHERE user_id = $user_id;"))
            {
                version.Parameters.AddGuid("$user_id", list.UserId);
                if (list.Version <= Convert.ToInt64(await version.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture))
                {
                    return false;
                }
            }

            await using (var replace = Command(connection, transaction, $"""
                INSERT INTO device_lists (user_id, version, signature, updated_at) VALUES ($user_id, $version, $signature, $updated_at)
                ON CONFLICT (user_id) DO UPDATE SET version = excluded.version, signature = excluded.signature, updated_at = excluded.updated_at;
                DELETE FROM device_list_entries WHERE user_id = $user_id;
                {NewRosterForUserSql}
                """))
            {
                replace.Parameters.AddGuid("$user_id", list.UserId);
                replace.Parameters.AddInteger("$version", list.Version);
                replace.Parameters.AddBlob("$signature", list.Signature);
                replace.Parameters.AddTime("$updated_at", list.UpdatedAt);
                await replace.ExecuteNonQueryAsync(ct);
            }

            await using var insert = Command(connection, transaction, """
                INSERT INTO device_list_entries (user_id, ordinal, device_id, certificate_hash) VALUES ($user_id, $ordinal, $device_id, $certificate_hash);
                """);
            insert.Parameters.AddGuid("$user_id", list.UserId);
            var ordinal = insert.Parameters.AddInteger("$ordinal", 0);
            var deviceId = insert.Parameters.AddGuid("$device_id", Guid.Empty);
            var hash = insert.Parameters.AddBlob("$certificate_hash", []);
            for (var i = 0; i < list.Entries.Count; i++)
            {
                ordinal.Value = (long)i;
                deviceId.Value = StoredValues.ToBytes(list.Entries[i].DeviceId);
                hash.Value = list.Entries[i].CertificateHash;
                await insert.ExecuteNonQueryAsync(ct);
            }

            return true;
        }, cancellationToken);
    }

    public Task RevokeDeviceKeysAsync(Guid userId, Guid deviceId, DateTimeOffset at, CancellationToken cancellationToken = default) =>
        InTransactionAsync(async (connection, transaction, ct) =>
        {
            await RevokeKeysAsync(connection, transaction, userId, [deviceId], onlyWithKeys: false, at, ct);
            return true;
        }, cancellationToken);

    /// <summary>
    /// Deletes the devices' keys (an approved device's are kept in former_device_keys, revoked at <paramref name="at"/>),
    /// prekeys and link payloads, retires the user's history keys and gives each of the
    /// user's conversations a new epoch. <paramref name="onlyWithKeys"/>: only when one of the devices had keys
    /// or a link payload (a device that never registered keys never held one, and a revoked session that did not
    /// take part in encryption costs its user nothing).
    /// </summary>
    private static async Task RevokeKeysAsync(
        SqliteConnection connection, SqliteTransaction transaction, Guid userId, IReadOnlyList<Guid> deviceIds, bool onlyWithKeys, DateTimeOffset at, CancellationToken cancellationToken)
    {
        if (deviceIds.Count == 0)
        {
            return;
        }

        await using var command = Command(connection, transaction, string.Empty);
        var list = command.BindIds(deviceIds);
        command.Parameters.AddGuid("$user_id", userId);
        command.Parameters.AddTime("$revoked_at", at);

        // The user's devices among them: by their keys or their sessions.
        var owned = $"""
            device_id IN (SELECT device_id FROM device_keys WHERE user_id = $user_id AND device_id IN ({list})
                          UNION SELECT device_id FROM device_sessions WHERE user_id = $user_id AND device_id IN ({list}))
            """;
        command.CommandText = $"""
            SELECT EXISTS (SELECT 1 FROM device_keys WHERE user_id = $user_id AND device_id IN ({list}))
                OR EXISTS (SELECT 1 FROM link_payloads WHERE {owned});
            """;
        var hadKeys = await ReadBooleanAsync(command, cancellationToken);
        command.CommandText = $"""
            DELETE FROM one_time_prekeys WHERE {owned};
            DELETE FROM signed_prekeys WHERE {owned};
            DELETE FROM link_payloads WHERE {owned};
            INSERT OR REPLACE INTO former_device_keys ({KeyRows.KeptDeviceColumns}, revoked_at)
                SELECT {KeyRows.KeptDeviceColumns}, $revoked_at FROM device_keys
                WHERE user_id = $user_id AND device_id IN ({list}) AND account_signature IS NOT NULL;
            DELETE FROM device_keys WHERE user_id = $user_id AND device_id IN ({list});
            """;
        if (hadKeys || !onlyWithKeys)
        {
            command.CommandText += RetireHistoryKeysSql + NewEpochForUserSql;
        }

        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<DeviceListRecord?> ReadDeviceListAsync(SqliteConnection connection, SqliteTransaction transaction, Guid userId, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, "SELECT version, signature, updated_at FROM device_lists WHERE user_id = $user_id;");
        command.Parameters.AddGuid("$user_id", userId);
        long version;
        byte[] signature;
        DateTimeOffset updatedAt;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return null;
            }

            (version, signature, updatedAt) = (reader.GetInt64(0), reader.GetFieldValue<byte[]>(1), reader.ReadTime(2));
        }

        command.CommandText = "SELECT device_id, certificate_hash FROM device_list_entries WHERE user_id = $user_id ORDER BY ordinal;";
        var entries = await ReadListAsync(command, static reader => new DeviceListEntry(reader.ReadGuid(0), reader.GetFieldValue<byte[]>(1)), cancellationToken);
        return new DeviceListRecord(userId, version, entries, signature, updatedAt);
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }

    // Inside a write transaction (SQLite has one writer at a time), so an account's deletion either came before,
    // and this refuses, or comes after and clears what this writes.
    private static async Task RequireLiveUserAsync(SqliteConnection connection, SqliteTransaction transaction, Guid userId, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, "SELECT deleted_at IS NOT NULL FROM users WHERE id = $user_id;");
        command.Parameters.AddGuid("$user_id", userId);
        if (await command.ExecuteScalarAsync(cancellationToken) is long and not 0)
        {
            throw new AccountDeletedException(userId);
        }
    }

    /// <summary>Runs <paramref name="work"/> in one BEGIN IMMEDIATE transaction, committed when it returns.</summary>
    private async Task<T> InTransactionAsync<T>(Func<SqliteConnection, SqliteTransaction, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        using var transaction = connection.BeginTransaction(deferred: false);
        var result = await work(connection, transaction, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return result;
    }
}
