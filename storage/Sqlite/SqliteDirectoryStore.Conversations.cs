using ChatWire.Storage.Directory;
using Microsoft.Data.Sqlite;

namespace ChatWire.Storage.Sqlite;

public sealed partial class SqliteDirectoryStore
{
    private const string ConversationColumns = "c.id, c.kind, c.team_id, c.name, c.direct_key, c.created_by, c.created_at, c.archived_at, c.slow_mode_seconds, c.topic";

    public async Task CreateConversationAsync(ConversationRecord conversation, IReadOnlyCollection<Guid> memberIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(conversation);
        ArgumentNullException.ThrowIfNull(memberIds);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        using var transaction = connection.BeginTransaction(deferred: false);

        await using (var insertConversation = connection.CreateCommand())
        {
            insertConversation.Transaction = transaction;
            insertConversation.CommandText = """
                INSERT INTO conversations (id, kind, team_id, name, direct_key, created_by, created_at)
                VALUES ($id, $kind, $team_id, $name, $direct_key, $created_by, $created_at);
                """;
            insertConversation.Parameters.AddGuid("$id", conversation.Id);
            insertConversation.Parameters.AddInteger("$kind", (long)conversation.Kind);
            insertConversation.Parameters.AddNullableGuid("$team_id", conversation.TeamId);
            insertConversation.Parameters.AddText("$name", conversation.Name);
            insertConversation.Parameters.AddText("$direct_key", conversation.DirectKey);
            insertConversation.Parameters.AddGuid("$created_by", conversation.CreatedBy);
            insertConversation.Parameters.AddTime("$created_at", conversation.CreatedAt);
            await ExecuteInsertAsync(insertConversation, "The channel name is taken in this team, or the direct conversation exists.", cancellationToken);
        }

        await using (var insertMember = connection.CreateCommand())
        {
            insertMember.Transaction = transaction;
            insertMember.CommandText = """
                INSERT INTO conversation_members (conversation_id, user_id, joined_at)
                VALUES ($conversation_id, $user_id, $joined_at)
                ON CONFLICT (conversation_id, user_id) DO NOTHING;
                """;
            insertMember.Parameters.AddGuid("$conversation_id", conversation.Id);
            var userId = insertMember.Parameters.AddGuid("$user_id", Guid.Empty);
            insertMember.Parameters.AddTime("$joined_at", conversation.CreatedAt);
            foreach (var memberId in memberIds)
            {
                userId.Value = StoredValues.ToBytes(memberId);
                await insertMember.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<ConversationRecord?> GetConversationAsync(Guid conversationId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {ConversationColumns} FROM conversations c WHERE c.id = $id;";
        command.Parameters.AddGuid("$id", conversationId);
        return await ReadSingleAsync(command, ReadConversation, cancellationToken);
    }

    public async Task<ConversationRecord?> FindDirectConversationAsync(string directKey, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(directKey);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {ConversationColumns} FROM conversations c WHERE c.direct_key = $direct_key;";
        command.Parameters.AddText("$direct_key", directKey);
        return await ReadSingleAsync(command, ReadConversation, cancellationToken);
    }

    public async Task<int> CountChannelsAsync(Guid teamId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM conversations WHERE team_id = $team_id;";
        command.Parameters.AddGuid("$team_id", teamId);
        return await ReadCountAsync(command, cancellationToken);
    }

    public async Task<IReadOnlyList<ConversationRecord>> ListChannelsAsync(Guid teamId, Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT {ConversationColumns} FROM conversations c
            WHERE c.team_id = $team_id
              AND (c.kind = $public_kind
                   OR (c.kind = $private_kind
                       AND EXISTS (SELECT 1 FROM conversation_members cm
                                   WHERE cm.conversation_id = c.id AND cm.user_id = $user_id)))
            ORDER BY c.name, c.id;
            """;
        command.Parameters.AddGuid("$team_id", teamId);
        command.Parameters.AddInteger("$public_kind", (long)ConversationKind.PublicChannel);
        command.Parameters.AddInteger("$private_kind", (long)ConversationKind.PrivateChannel);
        command.Parameters.AddGuid("$user_id", userId);
        return await ReadListAsync(command, ReadConversation, cancellationToken);
    }

    public async Task<IReadOnlyList<ConversationRecord>> ListConversationsForUserAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT {ConversationColumns}
            FROM conversation_members cm JOIN conversations c ON c.id = cm.conversation_id
            WHERE cm.user_id = $user_id
            ORDER BY c.created_at, c.id;
            """;
        command.Parameters.AddGuid("$user_id", userId);
        return await ReadListAsync(command, ReadConversation, cancellationToken);
    }

    public async Task<bool> IsConversationMemberAsync(Guid conversationId, Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT EXISTS (SELECT 1 FROM conversation_members
                           WHERE conversation_id = $conversation_id AND user_id = $user_id);
            """;
        command.Parameters.AddGuid("$conversation_id", conversationId);
        command.Parameters.AddGuid("$user_id", userId);
        return await ReadBooleanAsync(command, cancellationToken);
    }

    public Task<bool> AddConversationMemberAsync(Guid conversationId, Guid userId, DateTimeOffset joinedAt, CancellationToken cancellationToken = default) =>
        InTransactionAsync(async (connection, transaction, ct) =>
        {
            await using var command = Command(connection, transaction, """
                INSERT INTO conversation_members (conversation_id, user_id, joined_at)
                VALUES ($conversation_id, $user_id, $joined_at)
                ON CONFLICT (conversation_id, user_id) DO NOTHING;
                """);
            command.Parameters.AddGuid("$conversation_id", conversationId);
            command.Parameters.AddGuid("$user_id", userId);
            command.Parameters.AddTime("$joined_at", joinedAt);
            if (await command.ExecuteNonQueryAsync(ct) != 1)
            {
                return false;
            }

            // A member joined: a distribution must now cover them too.
            command.CommandText = NewRosterSql;
            await command.ExecuteNonQueryAsync(ct);
            return true;
        }, cancellationToken);

    public async Task<bool> UpdateChannelAsync(Guid conversationId, string? name, DateTimeOffset? archivedAt, int? slowModeSeconds = null, string? topic = null, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            UPDATE conversations SET
                name = coalesce($name, name),
                archived_at = CASE WHEN $change_archive = 0 THEN archived_at WHEN $archived_at = 0 THEN NULL ELSE $archived_at END,
                slow_mode_seconds = coalesce($slow_mode_seconds, slow_mode_seconds),
                topic = coalesce($topic, topic)
            WHERE id = $id AND team_id IS NOT NULL;
            """;
        command.Parameters.AddText("$name", name);
        command.Parameters.AddInteger("$change_archive", archivedAt is null ? 0 : 1);
        command.Parameters.AddInteger("$archived_at", archivedAt is not { } at || at == DateTimeOffset.MinValue ? 0 : StoredValues.ToUnixMilliseconds(at));
        command.Parameters.AddNullableInteger("$slow_mode_seconds", slowModeSeconds);
        command.Parameters.AddText("$topic", topic);
        command.Parameters.AddGuid("$id", conversationId);
        try
        {
            return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        }
        catch (SqliteException ex) when (SqliteConnections.IsUniqueViolation(ex))
        {
            throw new DuplicateKeyException("A public channel of the team already has this name.", ex);
        }
    }

    public Task<bool> RemoveConversationMemberAsync(Guid conversationId, Guid userId, CancellationToken cancellationToken = default) =>
        InTransactionAsync(async (connection, transaction, ct) =>
        {
            await using var command = Command(connection, transaction, "DELETE FROM conversation_members WHERE conversation_id = $conversation_id AND user_id = $user_id;");
            command.Parameters.AddGuid("$conversation_id", conversationId);
            command.Parameters.AddGuid("$user_id", userId);
            if (await command.ExecuteNonQueryAsync(ct) != 1)
            {
                return false;
            }

            // A member left: what is sent from now on must be keyed so that they cannot read it.
            command.CommandText = NewEpochSql;
            await command.ExecuteNonQueryAsync(ct);
            return true;
        }, cancellationToken);

    public async Task<IReadOnlyList<Guid>> ListConversationMembersAsync(Guid conversationId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT user_id FROM conversation_members
            WHERE conversation_id = $conversation_id
            ORDER BY joined_at, user_id;
            """;
        command.Parameters.AddGuid("$conversation_id", conversationId);
        return await ReadListAsync(command, static reader => reader.ReadGuid(0), cancellationToken);
    }

    private static ConversationRecord ReadConversation(SqliteDataReader reader) => new(
        reader.ReadGuid(0),
        (ConversationKind)reader.GetInt32(1),
        reader.ReadNullableGuid(2),
        reader.ReadNullableString(3),
        reader.ReadNullableString(4),
        reader.ReadGuid(5),
        reader.ReadTime(6))
    {
        ArchivedAt = reader.ReadNullableTime(7),
        SlowModeSeconds = reader.GetInt32(8),
        Topic = reader.GetString(9),
    };
}
