using ChatWire.Storage.Push;
using MySqlConnector;

namespace ChatWire.Storage.MySql;

// Push registrations, preferences, the store-backed notification queue and the sent record, in the directory
// database (migration 20261202120000_directory_push). Reads go to the primary: a registration or a queued
// notification is read right after it is written, and a replica may not have it yet.
public sealed partial class MySqlDirectoryStore : IPushStore
{
    private const int IdsPerQuery = 500;

    public Task SetPushTokenAsync(PushTokenRecord token, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(token);
        return WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                $"""
                INSERT INTO push_tokens ({PushRows.TokenColumns}) VALUES (@device_id, @user_id, @provider, @token, @registered_at)
                ON DUPLICATE KEY UPDATE user_id = VALUES(user_id), provider = VALUES(provider), token = VALUES(token), registered_at = VALUES(registered_at);
                """,
                connection);
            command.Parameters.AddGuid("@device_id", token.DeviceId);
            command.Parameters.AddGuid("@user_id", token.UserId);
            command.Parameters.AddInteger("@provider", (long)token.Provider);
            command.Parameters.AddText("@token", token.Token);
            command.Parameters.AddTime("@registered_at", token.RegisteredAt);
            return await command.ExecuteNonQueryAsync(ct);
        }, cancellationToken);
    }

    public Task<bool> DeletePushTokenAsync(Guid deviceId, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand("DELETE FROM push_tokens WHERE device_id = @device_id;", connection);
            command.Parameters.AddGuid("@device_id", deviceId);
            return await command.ExecuteNonQueryAsync(ct) == 1;
        }, cancellationToken);

    public Task<bool> DeletePushTokenIfAsync(Guid deviceId, string token, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(token);
        return WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand("DELETE FROM push_tokens WHERE device_id = @device_id AND token = @token;", connection);
            command.Parameters.AddGuid("@device_id", deviceId);
            command.Parameters.AddText("@token", token);
            return await command.ExecuteNonQueryAsync(ct) == 1;
        }, cancellationToken);
    }

    public Task<PushTokenRecord?> GetPushTokenAsync(Guid deviceId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand($"SELECT {PushRows.TokenColumns} FROM push_tokens WHERE device_id = @device_id;", connection);
            command.Parameters.AddGuid("@device_id", deviceId);
            return await ReadSingleAsync(command, PushRows.ReadPushToken, ct);
        }, cancellationToken);

    public Task<IReadOnlyList<PushTokenRecord>> ListPushTokensAsync(Guid userId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                """
                SELECT t.device_id, t.user_id, t.provider, t.token, t.registered_at
                FROM push_tokens t JOIN device_sessions s ON s.device_id = t.device_id
                WHERE t.user_id = @user_id AND s.revoked_at IS NULL
                ORDER BY t.registered_at, t.device_id;
                """,
                connection);
            command.Parameters.AddGuid("@user_id", userId);
            return await ReadListAsync(command, PushRows.ReadPushToken, ct);
        }, cancellationToken);

    public Task<IReadOnlySet<Guid>> FilterUsersWithPushTokensAsync(IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userIds);
        return ReadPrimaryAsync<IReadOnlySet<Guid>>(async (connection, ct) =>
        {
            var found = new HashSet<Guid>();
            foreach (var chunk in userIds.Distinct().Chunk(IdsPerQuery))
            {
                await using var command = new MySqlCommand { Connection = connection };
                command.CommandText = $"""
                    SELECT DISTINCT t.user_id FROM push_tokens t JOIN device_sessions s ON s.device_id = t.device_id
                    WHERE s.revoked_at IS NULL AND t.user_id IN ({command.BindIds(chunk)});
                    """;
                await using var reader = await command.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    found.Add(reader.ReadGuid(0));
                }
            }

            return found;
        }, cancellationToken);
    }

    public Task<PushPreferences> GetPushPreferencesAsync(Guid userId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            var level = PushPreferences.Default.Level;
            DateTimeOffset? dndUntil = null;
            await using (var command = new MySqlCommand("SELECT level, dnd_until FROM push_preferences WHERE user_id = @user_id;", connection))
            {
                command.Parameters.AddGuid("@user_id", userId);
                await using var reader = await command.ExecuteReaderAsync(ct);
                if (await reader.ReadAsync(ct))
                {
                    level = (PushLevel)reader.GetInt32(0);
                    dndUntil = reader.ReadNullableTime(1);
                }
            }

            var conversations = new Dictionary<Guid, PushLevel>();
            await using (var command = new MySqlCommand("SELECT conversation_id, level FROM push_conversation_levels WHERE user_id = @user_id;", connection))
            {
                command.Parameters.AddGuid("@user_id", userId);
                await using var reader = await command.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    conversations[reader.ReadGuid(0)] = (PushLevel)reader.GetInt32(1);
                }
            }

            return new PushPreferences(level, dndUntil, conversations);
        }, cancellationToken);

    public Task<IReadOnlyDictionary<Guid, (PushLevel Level, DateTimeOffset? DoNotDisturbUntil)>> GetPushLevelsAsync(
        IReadOnlyCollection<Guid> userIds, Guid conversationId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userIds);
        return ReadPrimaryAsync<IReadOnlyDictionary<Guid, (PushLevel, DateTimeOffset?)>>(async (connection, ct) =>
        {
            var result = userIds.Distinct().ToDictionary(u => u, _ => (PushPreferences.Default.Level, (DateTimeOffset?)null));
            foreach (var chunk in result.Keys.Chunk(IdsPerQuery))
            {
                await using (var command = new MySqlCommand { Connection = connection })
                {
                    command.CommandText = $"SELECT user_id, level, dnd_until FROM push_preferences WHERE user_id IN ({command.BindIds(chunk)});";
                    await using var reader = await command.ExecuteReaderAsync(ct);
                    while (await reader.ReadAsync(ct))
                    {
                        result[reader.ReadGuid(0)] = ((PushLevel)reader.GetInt32(1), reader.ReadNullableTime(2));
                    }
                }

                await using (var command = new MySqlCommand { Connection = connection })
                {
                    command.CommandText = $"""
                        SELECT user_id, level FROM push_conversation_levels
                        WHERE conversation_id = @conversation_id AND user_id IN ({command.BindIds(chunk)});
                        """;
                    command.Parameters.AddGuid("@conversation_id", conversationId);
                    await using var reader = await command.ExecuteReaderAsync(ct);
                    while (await reader.ReadAsync(ct))
                    {
                        var user = reader.ReadGuid(0);
                        result[user] = ((PushLevel)reader.GetInt32(1), result[user].Item2);
                    }
                }
            }

            return result;
        }, cancellationToken);
    }

    public Task SetPushPreferencesAsync(Guid userId, PushLevel level, DateTimeOffset? doNotDisturbUntil, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                """
                INSERT INTO push_preferences (user_id, level, dnd_until) VALUES (@user_id, @level, @dnd_until)
                ON DUPLICATE KEY UPDATE level = VALUES(level), dnd_until = VALUES(dnd_until);
                """,
                connection);
            command.Parameters.AddGuid("@user_id", userId);
            command.Parameters.AddInteger("@level", (long)level);
            command.Parameters.AddNullableTime("@dnd_until", doNotDisturbUntil);
            return await command.ExecuteNonQueryAsync(ct);
        }, cancellationToken);

    public Task SetConversationPushLevelAsync(Guid userId, Guid conversationId, PushLevel? level, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                level is null
                    ? "DELETE FROM push_conversation_levels WHERE user_id = @user_id AND conversation_id = @conversation_id;"
                    : """
                      INSERT INTO push_conversation_levels (user_id, conversation_id, level) VALUES (@user_id, @conversation_id, @level)
                      ON DUPLICATE KEY UPDATE level = VALUES(level);
                      """,
                connection);
            command.Parameters.AddGuid("@user_id", userId);
            command.Parameters.AddGuid("@conversation_id", conversationId);
            command.Parameters.AddInteger("@level", (long)(level ?? default));
            return await command.ExecuteNonQueryAsync(ct);
        }, cancellationToken);

    public Task EnqueuePushesAsync(IReadOnlyList<PendingPush> pushes, TimeSpan maxDelay, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pushes);
        if (pushes.Count == 0)
        {
            return Task.CompletedTask;
        }

        return InTransactionAsync(async (connection, transaction, ct) =>
        {
            foreach (var push in pushes)
            {
                // MySQL applies the assignments left to right, each seeing the ones before: seq changes last, so
                // every condition still compares with the stored one. An older message than the one waiting
                // changes nothing.
                await using var command = new MySqlCommand(
                    $"""
                    INSERT INTO push_pending ({PushRows.PendingColumns}, first_at)
                    VALUES (@user_id, @conversation_id, @message_id, @seq, @sender_id, @reason, @count, @due_at, @due_at)
                    ON DUPLICATE KEY UPDATE
                        message_id = IF(VALUES(seq) > seq, VALUES(message_id), message_id),
                        sender_id = IF(VALUES(seq) > seq, VALUES(sender_id), sender_id),
                        reason = IF(VALUES(seq) > seq, VALUES(reason), reason),
                        count = IF(VALUES(seq) > seq, count + VALUES(count), count),
                        due_at = IF(VALUES(seq) > seq, LEAST(VALUES(due_at), first_at + @max_delay), due_at),
                        seq = GREATEST(seq, VALUES(seq));
                    """,
                    connection,
                    transaction);
                command.Parameters.AddGuid("@user_id", push.UserId);
                command.Parameters.AddGuid("@conversation_id", push.ConversationId);
                command.Parameters.AddGuid("@message_id", push.MessageId);
                command.Parameters.AddInteger("@seq", (long)push.Seq);
                command.Parameters.AddGuid("@sender_id", push.SenderId);
                command.Parameters.AddInteger("@reason", (long)push.Reason);
                command.Parameters.AddInteger("@count", push.Count);
                command.Parameters.AddTime("@due_at", push.DueAt);
                command.Parameters.AddInteger("@max_delay", (long)maxDelay.TotalMilliseconds);
                await command.ExecuteNonQueryAsync(ct);
            }

            return true;
        }, cancellationToken);
    }

    public Task<IReadOnlyList<PendingPush>> ListDuePushesAsync(DateTimeOffset now, int limit, IReadOnlyList<Guid>? exceptUsers = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        return ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(string.Empty, connection);
            var except = exceptUsers is { Count: > 0 } ? $" AND user_id NOT IN ({command.BindIds(exceptUsers)})" : string.Empty;
            command.CommandText = $"SELECT {PushRows.PendingColumns} FROM push_pending WHERE due_at <= @now{except} ORDER BY due_at LIMIT @limit;";
            command.Parameters.AddTime("@now", now);
            command.Parameters.AddInteger("@limit", limit);
            return await ReadListAsync(command, PushRows.ReadPending, ct);
        }, cancellationToken);
    }

    public Task<bool> CompletePushAsync(Guid userId, Guid conversationId, Guid messageId, int sentCount, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                "DELETE FROM push_pending WHERE user_id = @user_id AND conversation_id = @conversation_id AND message_id = @message_id;", connection);
            command.Parameters.AddGuid("@user_id", userId);
            command.Parameters.AddGuid("@conversation_id", conversationId);
            command.Parameters.AddGuid("@message_id", messageId);
            if (await command.ExecuteNonQueryAsync(ct) == 1)
            {
                return true;
            }

            // Folded over while it was being sent: what stays counts only the messages after the sent ones.
            command.CommandText = "UPDATE push_pending SET count = GREATEST(count - @sent, 1) WHERE user_id = @user_id AND conversation_id = @conversation_id;";
            command.Parameters.AddInteger("@sent", sentCount);
            await command.ExecuteNonQueryAsync(ct);
            return false;
        }, cancellationToken);

    public Task<bool> RecordPushSentAsync(Guid deviceId, Guid messageId, DateTimeOffset sentAt, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand("INSERT IGNORE INTO push_sent (device_id, message_id, sent_at) VALUES (@device_id, @message_id, @sent_at);", connection);
            command.Parameters.AddGuid("@device_id", deviceId);
            command.Parameters.AddGuid("@message_id", messageId);
            command.Parameters.AddTime("@sent_at", sentAt);
            return await command.ExecuteNonQueryAsync(ct) == 1;
        }, cancellationToken);

    public Task<bool> WasPushSentAsync(Guid deviceId, Guid messageId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand("SELECT COUNT(*) FROM push_sent WHERE device_id = @device_id AND message_id = @message_id;", connection);
            command.Parameters.AddGuid("@device_id", deviceId);
            command.Parameters.AddGuid("@message_id", messageId);
            return Convert.ToInt64(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture) != 0;
        }, cancellationToken);

    public Task<int> PrunePushSentAsync(DateTimeOffset before, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand("DELETE FROM push_sent WHERE sent_at < @before;", connection);
            command.Parameters.AddTime("@before", before);
            return await command.ExecuteNonQueryAsync(ct);
        }, cancellationToken);

    // Within a session revocation's transaction: the devices' registrations go with their sessions.
    private static async Task DeletePushTokensAsync(MySqlConnection connection, MySqlTransaction transaction, IReadOnlyList<Guid> deviceIds, CancellationToken ct)
    {
        foreach (var chunk in deviceIds.Chunk(IdsPerQuery))
        {
            await using var command = new MySqlCommand { Connection = connection, Transaction = transaction };
            command.CommandText = $"DELETE FROM push_tokens WHERE device_id IN ({command.BindIds(chunk)});";
            await command.ExecuteNonQueryAsync(ct);
        }
    }
}
