using ChatWire.Storage.Push;
using Microsoft.Data.Sqlite;

namespace ChatWire.Storage.Sqlite;

// Push registrations, preferences, the embedded notification queue and the sent record, in the directory
// database (migration 20261202120000_directory_push).
public sealed partial class SqliteDirectoryStore : IPushStore
{
    // The IN lists of a batch read stay far below SQLite's 32,766 bound parameters.
    private const int IdsPerQuery = 500;

    public async Task SetPushTokenAsync(PushTokenRecord token, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(token);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            INSERT INTO push_tokens ({PushRows.TokenColumns}) VALUES ($device_id, $user_id, $provider, $token, $registered_at)
            ON CONFLICT (device_id) DO UPDATE SET
                user_id = excluded.user_id, provider = excluded.provider, token = excluded.token, registered_at = excluded.registered_at;
            """;
        command.Parameters.AddGuid("$device_id", token.DeviceId);
        command.Parameters.AddGuid("$user_id", token.UserId);
        command.Parameters.AddInteger("$provider", (long)token.Provider);
        command.Parameters.AddText("$token", token.Token);
        command.Parameters.AddTime("$registered_at", token.RegisteredAt);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<bool> DeletePushTokenAsync(Guid deviceId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM push_tokens WHERE device_id = $device_id;";
        command.Parameters.AddGuid("$device_id", deviceId);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<bool> DeletePushTokenIfAsync(Guid deviceId, string token, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(token);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM push_tokens WHERE device_id = $device_id AND token = $token;";
        command.Parameters.AddGuid("$device_id", deviceId);
        command.Parameters.AddText("$token", token);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<PushTokenRecord?> GetPushTokenAsync(Guid deviceId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {PushRows.TokenColumns} FROM push_tokens WHERE device_id = $device_id;";
        command.Parameters.AddGuid("$device_id", deviceId);
        return await ReadSingleAsync(command, PushRows.ReadPushToken, cancellationToken);
    }

    public async Task<IReadOnlyList<PushTokenRecord>> ListPushTokensAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT t.device_id, t.user_id, t.provider, t.token, t.registered_at
            FROM push_tokens t JOIN device_sessions s ON s.device_id = t.device_id
            WHERE t.user_id = $user_id AND s.revoked_at IS NULL
            ORDER BY t.registered_at, t.device_id;
            """;
        command.Parameters.AddGuid("$user_id", userId);
        return await ReadListAsync(command, PushRows.ReadPushToken, cancellationToken);
    }

    public async Task<IReadOnlySet<Guid>> FilterUsersWithPushTokensAsync(IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userIds);
        var found = new HashSet<Guid>();
        await using var connection = await OpenConnectionAsync(cancellationToken);
        foreach (var chunk in userIds.Distinct().Chunk(IdsPerQuery))
        {
            await using var command = connection.CreateCommand();
            command.CommandText = $"""
                SELECT DISTINCT t.user_id FROM push_tokens t JOIN device_sessions s ON s.device_id = t.device_id
                WHERE s.revoked_at IS NULL AND t.user_id IN ({command.BindIds(chunk)});
                """;
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                found.Add(reader.ReadGuid(0));
            }
        }

        return found;
    }

    public async Task<PushPreferences> GetPushPreferencesAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        var level = PushPreferences.Default.Level;
        DateTimeOffset? dndUntil = null;
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT level, dnd_until FROM push_preferences WHERE user_id = $user_id;";
            command.Parameters.AddGuid("$user_id", userId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                level = (PushLevel)reader.GetInt32(0);
                dndUntil = reader.ReadNullableTime(1);
            }
        }

        var conversations = new Dictionary<Guid, PushLevel>();
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT conversation_id, level FROM push_conversation_levels WHERE user_id = $user_id;";
            command.Parameters.AddGuid("$user_id", userId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                conversations[reader.ReadGuid(0)] = (PushLevel)reader.GetInt32(1);
            }
        }

        return new PushPreferences(level, dndUntil, conversations);
    }

    public async Task<IReadOnlyDictionary<Guid, (PushLevel Level, DateTimeOffset? DoNotDisturbUntil)>> GetPushLevelsAsync(
        IReadOnlyCollection<Guid> userIds, Guid conversationId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userIds);
        var result = userIds.Distinct().ToDictionary(u => u, _ => (PushPreferences.Default.Level, (DateTimeOffset?)null));
        await using var connection = await OpenConnectionAsync(cancellationToken);
        foreach (var chunk in result.Keys.Chunk(IdsPerQuery))
        {
            await using (var command = connection.CreateCommand())
            {
                command.CommandText = $"SELECT user_id, level, dnd_until FROM push_preferences WHERE user_id IN ({command.BindIds(chunk)});";
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    result[reader.ReadGuid(0)] = ((PushLevel)reader.GetInt32(1), reader.ReadNullableTime(2));
                }
            }

            await using (var command = connection.CreateCommand())
            {
                command.CommandText = $"""
                    SELECT user_id, level FROM push_conversation_levels
                    WHERE conversation_id = $conversation_id AND user_id IN ({command.BindIds(chunk)});
                    """;
                command.Parameters.AddGuid("$conversation_id", conversationId);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    var user = reader.ReadGuid(0);
                    result[user] = ((PushLevel)reader.GetInt32(1), result[user].Item2);
                }
            }
        }

        return result;
    }

    public async Task SetPushPreferencesAsync(Guid userId, PushLevel level, DateTimeOffset? doNotDisturbUntil, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO push_preferences (user_id, level, dnd_until) VALUES ($user_id, $level, $dnd_until)
            ON CONFLICT (user_id) DO UPDATE SET level = excluded.level, dnd_until = excluded.dnd_until;
            """;
        command.Parameters.AddGuid("$user_id", userId);
        command.Parameters.AddInteger("$level", (long)level);
        command.Parameters.AddNullableTime("$dnd_until", doNotDisturbUntil);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task SetConversationPushLevelAsync(Guid userId, Guid conversationId, PushLevel? level, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = level is null
            ? "DELETE FROM push_conversation_levels WHERE user_id = $user_id AND conversation_id = $conversation_id;"
            : """
              INSERT INTO push_conversation_levels (user_id, conversation_id, level) VALUES ($user_id, $conversation_id, $level)
              ON CONFLICT (user_id, conversation_id) DO UPDATE SET level = excluded.level;
              """;
        command.Parameters.AddGuid("$user_id", userId);
        command.Parameters.AddGuid("$conversation_id", conversationId);
        command.Parameters.AddInteger("$level", (long)(level ?? default));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task EnqueuePushesAsync(IReadOnlyList<PendingPush> pushes, TimeSpan maxDelay, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pushes);
        if (pushes.Count == 0)
        {
            return;
        }

        await InTransactionAsync(async (connection, transaction, ct) =>
        {
            foreach (var push in pushes)
            {
                await using var command = Command(connection, transaction, $"""
                    INSERT INTO push_pending ({PushRows.PendingColumns}, first_at)
                    VALUES ($user_id, $conversation_id, $message_id, $seq, $sender_id, $reason, $count, $due_at, $due_at)
                    ON CONFLICT (user_id, conversation_id) DO UPDATE SET
                        message_id = excluded.message_id, seq = excluded.seq, sender_id = excluded.sender_id,
                        reason = excluded.reason, count = push_pending.count + excluded.count,
                        due_at = MIN(excluded.due_at, push_pending.first_at + $max_delay)
                    WHERE excluded.seq > push_pending.seq;
                    """);
                command.Parameters.AddGuid("$user_id", push.UserId);
                command.Parameters.AddGuid("$conversation_id", push.ConversationId);
                command.Parameters.AddGuid("$message_id", push.MessageId);
                command.Parameters.AddInteger("$seq", (long)push.Seq);
                command.Parameters.AddGuid("$sender_id", push.SenderId);
                command.Parameters.AddInteger("$reason", (long)push.Reason);
                command.Parameters.AddInteger("$count", push.Count);
                command.Parameters.AddTime("$due_at", push.DueAt);
                command.Parameters.AddInteger("$max_delay", (long)maxDelay.TotalMilliseconds);
                await command.ExecuteNonQueryAsync(ct);
            }

            return true;
        }, cancellationToken);
    }

    public async Task<IReadOnlyList<PendingPush>> ListDuePushesAsync(DateTimeOffset now, int limit, IReadOnlyList<Guid>? exceptUsers = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        var except = exceptUsers is { Count: > 0 } ? $" AND user_id NOT IN ({command.BindIds(exceptUsers)})" : string.Empty;
        command.CommandText = $"SELECT {PushRows.PendingColumns} FROM push_pending WHERE due_at <= $now{except} ORDER BY due_at LIMIT $limit;";
        command.Parameters.AddTime("$now", now);
        command.Parameters.AddInteger("$limit", limit);
        return await ReadListAsync(command, PushRows.ReadPending, cancellationToken);
    }

    public async Task<bool> CompletePushAsync(Guid userId, Guid conversationId, Guid messageId, int sentCount, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM push_pending WHERE user_id = $user_id AND conversation_id = $conversation_id AND message_id = $message_id;";
        command.Parameters.AddGuid("$user_id", userId);
        command.Parameters.AddGuid("$conversation_id", conversationId);
        command.Parameters.AddGuid("$message_id", messageId);
        if (await command.ExecuteNonQueryAsync(cancellationToken) == 1)
        {
            return true;
        }

        // Folded over while it was being sent: what stays counts only the messages after the sent ones.
        command.CommandText = "UPDATE push_pending SET count = MAX(count - $sent, 1) WHERE user_id = $user_id AND conversation_id = $conversation_id;";
        command.Parameters.AddInteger("$sent", sentCount);
        await command.ExecuteNonQueryAsync(cancellationToken);
        return false;
    }

    public async Task<bool> RecordPushSentAsync(Guid deviceId, Guid messageId, DateTimeOffset sentAt, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO push_sent (device_id, message_id, sent_at) VALUES ($device_id, $message_id, $sent_at) ON CONFLICT DO NOTHING;";
        command.Parameters.AddGuid("$device_id", deviceId);
        command.Parameters.AddGuid("$message_id", messageId);
        command.Parameters.AddTime("$sent_at", sentAt);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<bool> WasPushSentAsync(Guid deviceId, Guid messageId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM push_sent WHERE device_id = $device_id AND message_id = $message_id;";
        command.Parameters.AddGuid("$device_id", deviceId);
        command.Parameters.AddGuid("$message_id", messageId);
        return await ReadBooleanAsync(command, cancellationToken);
    }

    public async Task<int> PrunePushSentAsync(DateTimeOffset before, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM push_sent WHERE sent_at < $before;";
        command.Parameters.AddTime("$before", before);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    // Within a session revocation's transaction: the devices' registrations go with their sessions.
    private static async Task DeletePushTokensAsync(SqliteConnection connection, SqliteTransaction transaction, IReadOnlyList<Guid> deviceIds, CancellationToken ct)
    {
        foreach (var chunk in deviceIds.Chunk(IdsPerQuery))
        {
            await using var command = Command(connection, transaction, string.Empty);
            command.CommandText = $"DELETE FROM push_tokens WHERE device_id IN ({command.BindIds(chunk)});";
            await command.ExecuteNonQueryAsync(ct);
        }
    }
}
