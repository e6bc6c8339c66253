using ChatWire.Storage.Directory;
using MySqlConnector;

namespace ChatWire.Storage.MySql;

// Every conversation read goes to the primary: they decide who may read and write a conversation, or
// precede a write (opening a DM finds the existing one first).
public sealed partial class MySqlDirectoryStore
{
    private const string ConversationColumns = "c.id, c.kind, c.team_id, c.name, c.direct_key, c.created_by, c.created_at, c.archived_at, c.slow_mode_seconds, c.topic";

    // Members are inserted in batches of this many rows, one statement each.
    private const int MemberBatch = 500;

    public Task CreateConversationAsync(ConversationRecord conversation, IReadOnlyCollection<Guid> memberIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(conversation);
        ArgumentNullException.ThrowIfNull(memberIds);
        return WriteAsync(async (connection, ct) =>
        {
            await using var transaction = await connection.BeginTransactionAsync(ct);
            await using (var insertConversation = new MySqlCommand(
                """
                INSERT INTO conversations (id, kind, team_id, name, name_key, direct_key, created_by, created_at)
                VALUES (@id, @kind, @team_id, @name, @name_key, @direct_key, @created_by, @created_at);
                """,
                connection,
                transaction))
            {
                insertConversation.Parameters.AddGuid("@id", conversation.Id);
                insertConversation.Parameters.AddInteger("@kind", (long)conversation.Kind);
                insertConversation.Parameters.AddNullableGuid("@team_id", conversation.TeamId);
                insertConversation.Parameters.AddText("@name", conversation.Name);
                insertConversation.Parameters.AddText("@name_key", conversation.Name is null ? null : MySqlValues.FoldCase(conversation.Name));
                insertConversation.Parameters.AddText("@direct_key", conversation.DirectKey);
                insertConversation.Parameters.AddGuid("@created_by", conversation.CreatedBy);
                insertConversation.Parameters.AddTime("@created_at", conversation.CreatedAt);
                await ExecuteInsertAsync(insertConversation, "The channel name is taken in this team, or the direct conversation exists.", ct);
            }

            // Distinct: a member named twice is added once, as SQLite's ON CONFLICT DO NOTHING does. An unknown
            // user fails the foreign key and with it the whole conversation.
            foreach (var batch in memberIds.Distinct().Chunk(MemberBatch))
            {
                await using var insertMembers = new MySqlCommand { Connection = connection, Transaction = transaction };
                insertMembers.Parameters.AddGuid("@conversation_id", conversation.Id);
                insertMembers.Parameters.AddTime("@joined_at", conversation.CreatedAt);
                var rows = new string[batch.Length];
                for (var i = 0; i < batch.Length; i++)
                {
                    var name = "@user" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    insertMembers.Parameters.AddGuid(name, batch[i]);
                    rows[i] = $"(@conversation_id, {name}, @joined_at)";
                }

                insertMembers.CommandText = $"INSERT INTO conversation_members (conversation_id, user_id, joined_at) VALUES {string.Join(", ", rows)};";
                await insertMembers.ExecuteNonQueryAsync(ct);
            }

            await transaction.CommitAsync(ct);
            return true;
        }, cancellationToken);
    }

    public Task<ConversationRecord?> GetConversationAsync(Guid conversationId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand($"SELECT {ConversationColumns} FROM conversations c WHERE c.id = @id;", connection);
            command.Parameters.AddGuid("@id", conversationId);
            return await ReadSingleAsync(command, ReadConversation, ct);
        }, cancellationToken);

    public Task<ConversationRecord?> FindDirectConversationAsync(string directKey, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(directKey);
        return ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand($"SELECT {ConversationColumns} FROM conversations c WHERE c.direct_key = @direct_key;", connection);
            command.Parameters.AddText("@direct_key", directKey);
            return await ReadSingleAsync(command, ReadConversation, ct);
        }, cancellationToken);
    }

    public Task<int> CountChannelsAsync(Guid teamId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand("SELECT COUNT(*) FROM conversations WHERE team_id = @team_id;", connection);
            command.Parameters.AddGuid("@team_id", teamId);
            return await ReadCountAsync(command, ct);
        }, cancellationToken);

    public Task<IReadOnlyList<ConversationRecord>> ListChannelsAsync(Guid teamId, Guid userId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                $"""
                SELECT {ConversationColumns} FROM conversations c
                WHERE c.team_id = @team_id
                  AND (c.kind = @public_kind
                       OR (c.kind = @private_kind
                           AND EXISTS (SELECT 1 FROM conversation_members cm
                                       WHERE cm.conversation_id = c.id AND cm.user_id = @user_id)))
                ORDER BY c.name_key, c.id;
                """,
                connection);
            command.Parameters.AddGuid("@team_id", teamId);
            command.Parameters.AddInteger("@public_kind", (long)ConversationKind.PublicChannel);
            command.Parameters.AddInteger("@private_kind", (long)ConversationKind.PrivateChannel);
            command.Parameters.AddGuid("@user_id", userId);
            return await ReadListAsync(command, ReadConversation, ct);
        }, cancellationToken);

    public Task<IReadOnlyList<ConversationRecord>> ListConversationsForUserAsync(Guid userId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                $"""
                SELECT {ConversationColumns}
                FROM conversation_members cm JOIN conversations c ON c.id = cm.conversation_id
                WHERE cm.user_id = @user_id
                ORDER BY c.created_at, c.id;
                """,
                connection);
            command.Parameters.AddGuid("@user_id", userId);
            return await ReadListAsync(command, ReadConversation, ct);
        }, cancellationToken);

    public Task<bool> IsConversationMemberAsync(Guid conversationId, Guid userId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                """
                SELECT EXISTS (SELECT 1 FROM conversation_members
                               WHERE conversation_id = @conversation_id AND user_id = @user_id);
                """,
                connection);
            command.Parameters.AddGuid("@conversation_id", conversationId);
            command.Parameters.AddGuid("@user_id", userId);
            return await ReadBooleanAsync(command, ct);
        }, cancellationToken);

    public Task<bool> AddConversationMemberAsync(Guid conversationId, Guid userId, DateTimeOffset joinedAt, CancellationToken cancellationToken = default) =>
        InTransactionAsync(async (connection, transaction, ct) =>
        {
            await using var command = new MySqlCommand(
                """
                INSERT INTO conversation_members (conversation_id, user_id, joined_at)
                VALUES (@conversation_id, @user_id, @joined_at);
                """,
                connection,
                transaction);
            command.Parameters.AddGuid("@conversation_id", conversationId);
            command.Parameters.AddGuid("@user_id", userId);
            command.Parameters.AddTime("@joined_at", joinedAt);
            try
            {
                await command.ExecuteNonQueryAsync(ct);
            }
            catch (MySqlException exception) when (MySqlCommands.IsDuplicateKey(exception))
            {
                // Already a member (INSERT IGNORE would also swallow a missing conversation or user).
                return false;
            }

            // A member joined: a distribution must now cover them too.
            command.CommandText = NewRosterSql;
            await command.ExecuteNonQueryAsync(ct);
            return true;
        }, cancellationToken);

    public Task<bool> UpdateChannelAsync(Guid conversationId, string? name, DateTimeOffset? archivedAt, int? slowModeSeconds = null, string? topic = null, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            // public_name_key follows name_key by itself (a generated column), and with it the uniqueness.
            await using var command = new MySqlCommand(
                """
                UPDATE conversations SET
                    name = COALESCE(@name, name),
                    name_key = COALESCE(@name_key, name_key),
                    archived_at = CASE WHEN @change_archive = 0 THEN archived_at WHEN @archived_at = 0 THEN NULL ELSE @archived_at END,
                    slow_mode_seconds = COALESCE(@slow_mode_seconds, slow_mode_seconds),
                    topic = COALESCE(@topic, topic)
                WHERE id = @id AND team_id IS NOT NULL;
                """,
                connection);
            command.Parameters.AddText("@name", name);
            command.Parameters.AddText("@name_key", name is null ? null : MySqlValues.FoldCase(name));
            command.Parameters.AddInteger("@change_archive", archivedAt is null ? 0 : 1);
            command.Parameters.AddInteger("@archived_at", archivedAt is not { } at || at == DateTimeOffset.MinValue ? 0 : StoredValues.ToUnixMilliseconds(at));
            command.Parameters.AddNullableInteger("@slow_mode_seconds", slowModeSeconds);
            command.Parameters.AddText("@topic", topic);
            command.Parameters.AddGuid("@id", conversationId);
            try
            {
                return await command.ExecuteNonQueryAsync(ct) == 1;
            }
            catch (MySqlException exception) when (MySqlCommands.IsDuplicateKey(exception))
            {
                throw new DuplicateKeyException("A public channel of the team already has this name.", exception);
            }
        }, cancellationToken);

    public Task<bool> RemoveConversationMemberAsync(Guid conversationId, Guid userId, CancellationToken cancellationToken = default) =>
        InTransactionAsync(async (connection, transaction, ct) =>
        {
            await using var command = new MySqlCommand(
                "DELETE FROM conversation_members WHERE conversation_id = @conversation_id AND user_id = @user_id;",
                connection,
                transaction);
            command.Parameters.AddGuid("@conversation_id", conversationId);
            command.Parameters.AddGuid("@user_id", userId);
            if (await command.ExecuteNonQueryAsync(ct) != 1)
            {
                return false;
            }

            // A member left: what is sent from now on must be keyed so that they cannot read it.
            command.CommandText = NewEpochSql;
            await command.ExecuteNonQueryAsync(ct);
            return true;
        }, cancellationToken);

    public Task<IReadOnlyList<Guid>> ListConversationMembersAsync(Guid conversationId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                """
                SELECT user_id FROM conversation_members
                WHERE conversation_id = @conversation_id
                ORDER BY joined_at, user_id;
                """,
                connection);
            command.Parameters.AddGuid("@conversation_id", conversationId);
            return await ReadListAsync(command, static reader => reader.ReadGuid(0), ct);
        }, cancellationToken);

    private static ConversationRecord ReadConversation(MySqlDataReader reader) => new(
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
