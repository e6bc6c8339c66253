using ChatWire.Storage.Keys;
using MySqlConnector;

namespace ChatWire.Storage.MySql;

// The key directory: account and history keys, device keys, device lists, revocation. Every key directory read
// goes to the primary: each decides what a sender must seal to, or is read back right after a write that may
// have been made on another node (a device reads the link payload another device just uploaded).
// A change of a user's keys first locks the user's row, so two nodes changing them at once take turns.
public sealed partial class MySqlDirectoryStore : IKeyDirectoryStore
{
    private const string LockUserSql = "SELECT id FROM users WHERE id = @user_id FOR UPDATE;";

    // Key state that moves with membership: every conversation the user is in.
    private const string NewEpochForUserSql = """
        UPDATE conversations c JOIN conversation_members cm ON cm.conversation_id = c.id
        SET c.key_epoch = c.key_epoch + 1, c.key_roster_version = c.key_roster_version + 1
        WHERE cm.user_id = @user_id;
        """;

    private const string NewRosterForUserSql = """
        UPDATE conversations c JOIN conversation_members cm ON cm.conversation_id = c.id
        SET c.key_roster_version = c.key_roster_version + 1
        WHERE cm.user_id = @user_id;
        """;

    // Every generation the user has had stops being usable; the rows stay, so a new one must still be above them.
    private const string RetireHistoryKeysSql = """
        UPDATE users SET history_keys_usable_from = (SELECT COALESCE(MAX(generation), 0) + 1 FROM history_keys WHERE user_id = @user_id)
        WHERE id = @user_id;
        """;

    public Task<AccountKeyRecord?> GetAccountKeyAsync(Guid userId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand($"SELECT {KeyRows.AccountKeyColumns} FROM account_keys WHERE user_id = @user_id;", connection);
            command.Parameters.AddGuid("@user_id", userId);
            return await ReadSingleAsync(command, KeyRows.ReadAccountKey, ct);
        }, cancellationToken);

    public Task<AccountKeyRecord> SetAccountKeyAsync(Guid userId, byte[] signingKey, bool reset, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(signingKey);
        return InTransactionAsync(async (connection, transaction, ct) =>
        {
            await LockLiveUserAsync(connection, transaction, userId, ct);
            AccountKeyRecord? current;
            await using (var select = new MySqlCommand($"SELECT {KeyRows.AccountKeyColumns} FROM account_keys WHERE user_id = @user_id;", connection, transaction))
            {
                select.Parameters.AddGuid("@user_id", userId);
                await using var reader = await select.ExecuteReaderAsync(ct);
                current = await reader.ReadAsync(ct) ? KeyRows.ReadAccountKey(reader) : null;
            }

            if (current is not null && (!reset || current.SigningKey.AsSpan().SequenceEqual(signingKey)))
            {
                return current;
            }

            var stored = new AccountKeyRecord(userId, signingKey, (current?.Version ?? 0) + 1, at);

            // A reset: what the old key signed goes (history keys, the device list, device certificates) and every
            // conversation of the user gets a new epoch.
            var sql = current is null
                ? "INSERT INTO account_keys (user_id, signing_key, version, updated_at) VALUES (@user_id, @signing_key, @version, @updated_at);"
                : $"""
                  UPDATE account_keys SET signing_key = @signing_key, version = @version, updated_at = @updated_at WHERE user_id = @user_id;
                  {RetireHistoryKeysSql}
                  DELETE FROM device_list_entries WHERE user_id = @user_id;
                  DELETE FROM device_lists WHERE user_id = @user_id;
                  UPDATE device_keys SET account_signature = NULL WHERE user_id = @user_id;
                  {NewEpochForUserSql}
                  """;
            await using var write = new MySqlCommand(sql, connection, transaction);
            write.Parameters.AddGuid("@user_id", userId);
            write.Parameters.AddBinary("@signing_key", signingKey);
            write.Parameters.AddInteger("@version", stored.Version);
            write.Parameters.AddTime("@updated_at", at);
            await write.ExecuteNonQueryAsync(ct);
            return stored;
        }, cancellationToken);
    }

    public Task<HistoryKeyRecord?> GetHistoryKeyAsync(Guid userId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                $"""
                SELECT {KeyRows.HistoryKeyColumns} FROM history_keys h JOIN users u ON u.id = h.user_id
                WHERE h.user_id = @user_id AND h.generation >= u.history_keys_usable_from
                ORDER BY h.generation DESC LIMIT 1;
                """,
                connection);
            command.Parameters.AddGuid("@user_id", userId);
            return await ReadSingleAsync(command, KeyRows.ReadHistoryKey, ct);
        }, cancellationToken);

    public Task<int> GetHighestHistoryKeyGenerationAsync(Guid userId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand("SELECT COALESCE(MAX(generation), 0) FROM history_keys WHERE user_id = @user_id;", connection);
            command.Parameters.AddGuid("@user_id", userId);
            return await ReadCountAsync(command, ct);
        }, cancellationToken);

    public Task<bool> AddHistoryKeyAsync(HistoryKeyRecord key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return InTransactionAsync(async (connection, transaction, ct) =>
        {
            await LockLiveUserAsync(connection, transaction, key.UserId, ct);
            await using (var highest = new MySqlCommand("SELECT COALESCE(MAX(generation), 0) FROM history_keys WHERE user_id = @user_id;", connection, transaction))
            {
                highest.Parameters.AddGuid("@user_id", key.UserId);
                if (key.Generation <= await ReadLastScalarAsync(highest, ct))
                {
                    return false;
                }
            }

            await using var insert = new MySqlCommand(
                $"""
                INSERT INTO history_keys (user_id, generation, public_key, signature, created_at)
                VALUES (@user_id, @generation, @public_key, @signature, @created_at);
                {NewRosterForUserSql}
                """,
                connection,
                transaction);
            insert.Parameters.AddGuid("@user_id", key.UserId);
            insert.Parameters.AddInteger("@generation", key.Generation);
            insert.Parameters.AddBinary("@public_key", key.PublicKey);
            insert.Parameters.AddBinary("@signature", key.Signature);
            insert.Parameters.AddTime("@created_at", key.CreatedAt);
            await insert.ExecuteNonQueryAsync(ct);
            return true;
        }, cancellationToken);
    }

    public Task<bool> SetDeviceKeysAsync(DeviceKeysRecord keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return InTransactionAsync(async (connection, transaction, ct) =>
        {
            await LockLiveUserAsync(connection, transaction, keys.UserId, ct);
            await using (var select = new MySqlCommand($"SELECT {KeyRows.DeviceKeyColumns} FROM device_keys k WHERE k.device_id = @device_id FOR UPDATE;", connection, transaction))
            {
                select.Parameters.AddGuid("@device_id", keys.DeviceId);
                await using var reader = await select.ExecuteReaderAsync(ct);
                if (await reader.ReadAsync(ct))
                {
                    var stored = KeyRows.ReadDeviceKeys(reader);
                    return stored.UserId == keys.UserId
                        && stored.SigningKey.AsSpan().SequenceEqual(keys.SigningKey)
                        && stored.DhKey.AsSpan().SequenceEqual(keys.DhKey);
                }
            }

            // Not for a revoked session: a registration racing the revocation must not bring the device back.
            await using var insert = new MySqlCommand(
                """
                INSERT INTO device_keys (device_id, user_id, signing_key, dh_key, created_at_ms, self_signature, link_code, certificate_version, account_signature)
                SELECT @device_id, @user_id, @signing_key, @dh_key, @created_at_ms, @self_signature, @link_code, @certificate_version, @account_signature
                FROM DUAL
                WHERE NOT EXISTS (SELECT 1 FROM device_sessions WHERE device_id = @device_id AND revoked_at IS NOT NULL);
                """,
                connection,
                transaction);
            insert.Parameters.AddGuid("@device_id", keys.DeviceId);
            insert.Parameters.AddGuid("@user_id", keys.UserId);
            insert.Parameters.AddBinary("@signing_key", keys.SigningKey);
            insert.Parameters.AddBinary("@dh_key", keys.DhKey);
            insert.Parameters.AddInteger("@created_at_ms", keys.CreatedAtMs);
            insert.Parameters.AddBinary("@self_signature", keys.SelfSignature);
            insert.Parameters.AddText("@link_code", KeyRows.NormalizeLinkCode(keys.LinkCode));
            insert.Parameters.AddInteger("@certificate_version", keys.CertificateVersion);
            insert.Parameters.AddNullable("@account_signature", keys.AccountSignature);
            return await insert.ExecuteNonQueryAsync(ct) == 1;
        }, cancellationToken);
    }

    public Task<DeviceKeysRecord?> GetDeviceKeysAsync(Guid deviceId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand($"SELECT {KeyRows.DeviceKeyColumns} FROM device_keys k WHERE k.device_id = @device_id;", connection);
            command.Parameters.AddGuid("@device_id", deviceId);
            return await ReadSingleAsync(command, KeyRows.ReadDeviceKeys, ct);
        }, cancellationToken);

    public Task<DeviceKeysRecord?> FindDeviceByLinkCodeAsync(Guid userId, string linkCode, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(linkCode);
        return ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                $"""
                SELECT {KeyRows.DeviceKeyColumns} FROM device_keys k
                WHERE k.user_id = @user_id AND k.link_code = @link_code
                ORDER BY k.created_at_ms DESC LIMIT 1;
                """,
                connection);
            command.Parameters.AddGuid("@user_id", userId);
            command.Parameters.AddText("@link_code", KeyRows.NormalizeLinkCode(linkCode));
            return await ReadSingleAsync(command, KeyRows.ReadDeviceKeys, ct);
        }, cancellationToken);
    }

    public Task<IReadOnlyList<DeviceKeysRecord>> ListDeviceKeysAsync(Guid userId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand($"SELECT {KeyRows.DeviceKeyColumns} FROM device_keys k WHERE k.user_id = @user_id ORDER BY k.created_at_ms, k.device_id;", connection);
            command.Parameters.AddGuid("@user_id", userId);
            return await ReadListAsync(command, KeyRows.ReadDeviceKeys, ct);
        }, cancellationToken);

    public Task<IReadOnlyList<FormerDeviceKeysRecord>> ListFormerDeviceKeysAsync(Guid userId, int limit, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                $"SELECT {KeyRows.FormerDeviceKeyColumns} FROM former_device_keys k WHERE k.user_id = @user_id ORDER BY k.revoked_at DESC, k.device_id LIMIT @limit;",
                connection);
            command.Parameters.AddGuid("@user_id", userId);
            command.Parameters.AddInteger("@limit", limit);
            return await ReadListAsync(command, KeyRows.ReadFormerDeviceKeys, ct);
        }, cancellationToken);

    public Task<bool> SetDeviceCertificateAsync(Guid deviceId, int certificateVersion, byte[] accountSignature, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(accountSignature);
        return WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                "UPDATE device_keys SET certificate_version = @certificate_version, account_signature = @account_signature WHERE device_id = @device_id;",
                connection);
            command.Parameters.AddInteger("@certificate_version", certificateVersion);
            command.Parameters.AddBinary("@account_signature", accountSignature);
            command.Parameters.AddGuid("@device_id", deviceId);
            return await command.ExecuteNonQueryAsync(ct) == 1;
        }, cancellationToken);
    }

    public Task<DeviceListRecord?> GetDeviceListAsync(Guid userId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            // One transaction: the list and its entries from the same snapshot.
            await using var transaction = await connection.BeginTransactionAsync(ct);
            await using var command = new MySqlCommand("SELECT version, signature, updated_at FROM device_lists WHERE user_id = @user_id;", connection, transaction);
            command.Parameters.AddGuid("@user_id", userId);
            long version;
            byte[] signature;
            DateTimeOffset updatedAt;
            await using (var reader = await command.ExecuteReaderAsync(ct))
            {
                if (!await reader.ReadAsync(ct))
                {
                    return null;
                }

                (version, signature, updatedAt) = (reader.GetInt64(0), reader.GetFieldValue<byte[]>(1), reader.ReadTime(2));
            }

            command.CommandText = "SELECT device_id, certificate_hash FROM device_list_entries WHERE user_id = @user_id ORDER BY ordinal;";
            var entries = await ReadListAsync(command, static reader => new DeviceListEntry(reader.ReadGuid(0), reader.GetFieldValue<byte[]>(1)), ct);
            await transaction.CommitAsync(ct);
            return new DeviceListRecord(userId, version, entries, signature, updatedAt);
        }, cancellationToken);

    public Task<bool> SetDeviceListAsync(DeviceListRecord list, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(list);
        return InTransactionAsync(async (connection, transaction, ct) =>
        {
            await LockLiveUserAsync(connection, transaction, list.UserId, ct);
            await using (var version = new MySqlCommand("SELECT COALESCE(MAX(version), 0) FROM device_lists WHERE user_id = @user_id;", connection, transaction))
            {
                version.Parameters.AddGuid("@user_id", list.UserId);
                if (list.Version <= await ReadLastScalarAsync(version, ct))
                {
                    return false;
                }
            }

            await using var replace = new MySqlCommand(
                $"""
                INSERT INTO device_lists (user_id, version, signature, updated_at) VALUES (@user_id, @version, @signature, @updated_at)
                ON DUPLICATE KEY UPDATE version = VALUES(version), signature = VALUES(signature), updated_at = VALUES(updated_at);
                DELETE FROM device_list_entries WHERE user_id = @user_id;
                {NewRosterForUserSql}
                """,
                connection,
                transaction);
            replace.Parameters.AddGuid("@user_id", list.UserId);
            replace.Parameters.AddInteger("@version", list.Version);
            replace.Parameters.AddBinary("@signature", list.Signature);
            replace.Parameters.AddTime("@updated_at", list.UpdatedAt);
            if (list.Entries.Count > 0)
            {
                var rows = new string[list.Entries.Count];
                for (var i = 0; i < rows.Length; i++)
                {
                    var n = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    replace.Parameters.AddGuid("@device" + n, list.Entries[i].DeviceId);
                    replace.Parameters.AddBinary("@hash" + n, list.Entries[i].CertificateHash);
                    rows[i] = $"(@user_id, {n}, @device{n}, @hash{n})";
                }

                replace.CommandText += $"INSERT INTO device_list_entries (user_id, ordinal, device_id, certificate_hash) VALUES {string.Join(", ", rows)};";
            }

            await replace.ExecuteNonQueryAsync(ct);
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
        MySqlConnection connection, MySqlTransaction transaction, Guid userId, IReadOnlyList<Guid> deviceIds, bool onlyWithKeys, DateTimeOffset at, CancellationToken cancellationToken)
    {
        if (deviceIds.Count == 0)
        {
            return;
        }

        await using var command = new MySqlCommand { Connection = connection, Transaction = transaction };
        var list = command.BindIds(deviceIds);
        command.Parameters.AddGuid("@user_id", userId);
        command.Parameters.AddTime("@revoked_at", at);

        // The user's devices among them: by their keys or their sessions.
        var owned = $"""
            device_id IN (SELECT device_id FROM device_keys WHERE user_id = @user_id AND device_id IN ({list})
                          UNION SELECT device_id FROM device_sessions WHERE user_id = @user_id AND device_id IN ({list}))
            """;
        command.CommandText = $"""
            {LockUserSql}
            SELECT EXISTS (SELECT 1 FROM device_keys WHERE user_id = @user_id AND device_id IN ({list}))
                OR EXISTS (SELECT 1 FROM link_payloads WHERE {owned});
            """;
        var hadKeys = await ReadLastScalarAsync(command, cancellationToken) != 0;
        command.CommandText = $"""
            DELETE FROM one_time_prekeys WHERE {owned};
            DELETE FROM signed_prekeys WHERE {owned};
            DELETE FROM link_payloads WHERE {owned};
            REPLACE INTO former_device_keys ({KeyRows.KeptDeviceColumns}, revoked_at)
                SELECT {KeyRows.KeptDeviceColumns}, @revoked_at FROM device_keys
                WHERE user_id = @user_id AND device_id IN ({list}) AND account_signature IS NOT NULL;
            DELETE FROM device_keys WHERE user_id = @user_id AND device_id IN ({list});
            """;
        if (hadKeys || !onlyWithKeys)
        {
            command.CommandText += RetireHistoryKeysSql + NewEpochForUserSql;
        }

        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    // Takes the user's row lock (as LockUserSql does) and refuses a deleted account: the deletion holds the same lock
    // while it makes the tombstone and clears the account's keys, so a write waiting on it reads the tombstone after.
    private static async Task LockLiveUserAsync(MySqlConnection connection, MySqlTransaction transaction, Guid userId, CancellationToken cancellationToken)
    {
        await using var command = new MySqlCommand("SELECT deleted_at IS NOT NULL FROM users WHERE id = @user_id FOR UPDATE;", connection, transaction);
        command.Parameters.AddGuid("@user_id", userId);
        if (Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken) ?? 0L, System.Globalization.CultureInfo.InvariantCulture) != 0)
        {
            throw new AccountDeletedException(userId);
        }
    }

    /// <summary>Runs <paramref name="work"/> in one transaction on the primary, committed when it returns (again after a deadlock).</summary>
    private Task<T> InTransactionAsync<T>(Func<MySqlConnection, MySqlTransaction, CancellationToken, Task<T>> work, CancellationToken cancellationToken) =>
        WriteAsync(async (connection, ct) =>
        {
            await using var transaction = await connection.BeginTransactionAsync(ct);
            var result = await work(connection, transaction, ct);
            await transaction.CommitAsync(ct);
            return result;
        }, cancellationToken);

    /// <summary>The first column of the last result set's first row (after statements such as a row lock); 0 when none.</summary>
    private static async Task<long> ReadLastScalarAsync(MySqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        object? value = null;
        do
        {
            value = await reader.ReadAsync(cancellationToken) ? reader.GetValue(0) : null;
        }
        while (await reader.NextResultAsync(cancellationToken));

        return value is null or DBNull ? 0 : Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
    }
}
