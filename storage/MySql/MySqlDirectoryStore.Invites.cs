using ChatWire.Storage.Directory;
using MySqlConnector;

namespace ChatWire.Storage.MySql;

public sealed partial class MySqlDirectoryStore
{
    private const string InviteColumns = "id, team_id, code_hash, created_by, created_at, expires_at, revoked_at";

    public Task CreateInviteAsync(InviteRecord invite, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(invite);
        return WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                $"""
                INSERT INTO invites ({InviteColumns})
                VALUES (@id, @team_id, @code_hash, @created_by, @created_at, @expires_at, @revoked_at);
                """,
                connection);
            command.Parameters.AddGuid("@id", invite.Id);
            command.Parameters.AddGuid("@team_id", invite.TeamId);
            command.Parameters.AddBinary("@code_hash", invite.CodeHash);
            command.Parameters.AddGuid("@created_by", invite.CreatedBy);
            command.Parameters.AddTime("@created_at", invite.CreatedAt);
            command.Parameters.AddTime("@expires_at", invite.ExpiresAt);
            command.Parameters.AddNullableTime("@revoked_at", invite.RevokedAt);
            await ExecuteInsertAsync(command, "The invite id or the code hash is taken.", ct);
            return true;
        }, cancellationToken);
    }

    public Task<InviteRecord?> FindInviteByCodeHashAsync(byte[] codeHash, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(codeHash);

        // Joining a team reads it: the primary, so a revoked invite is refused at once.
        return ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand($"SELECT {InviteColumns} FROM invites WHERE code_hash = @code_hash;", connection);
            command.Parameters.AddBinary("@code_hash", codeHash);
            return await ReadSingleAsync(command, ReadInvite, ct);
        }, cancellationToken);
    }

    // The list admins look at: the replica. A range scan of ix_invites_team_id, whose entries end with the primary key.
    public Task<IReadOnlyList<InviteRecord>> ListInvitesAsync(Guid teamId, Guid? afterId, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        return ReadReplicaAsync(async (connection, ct) =>
        {
            var after = afterId is null ? string.Empty : "AND id > @after";
            await using var command = new MySqlCommand(
                $"SELECT {InviteColumns} FROM invites WHERE team_id = @team_id {after} ORDER BY id LIMIT @limit;", connection);
            command.Parameters.AddGuid("@team_id", teamId);
            command.Parameters.AddNullableGuid("@after", afterId);
            command.Parameters.AddInteger("@limit", limit);
            return await ReadListAsync(command, ReadInvite, ct);
        }, cancellationToken);
    }

    public Task<int> DeleteDeadInvitesAsync(Guid teamId, DateTimeOffset before, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                "DELETE FROM invites WHERE team_id = @team_id AND (revoked_at < @before OR expires_at < @before);", connection);
            command.Parameters.AddGuid("@team_id", teamId);
            command.Parameters.AddTime("@before", before);
            return await command.ExecuteNonQueryAsync(ct);
        }, cancellationToken);

    public Task<bool> RevokeInviteAsync(Guid teamId, Guid inviteId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                """
                UPDATE invites SET revoked_at = @revoked_at
                WHERE id = @id AND team_id = @team_id AND revoked_at IS NULL;
                """,
                connection);
            command.Parameters.AddTime("@revoked_at", revokedAt);
            command.Parameters.AddGuid("@id", inviteId);
            command.Parameters.AddGuid("@team_id", teamId);
            return await command.ExecuteNonQueryAsync(ct) == 1;
        }, cancellationToken);

    public Task<int> RevokeInvitesCreatedByAsync(Guid teamId, Guid createdBy, DateTimeOffset revokedAt, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                """
                UPDATE invites SET revoked_at = @revoked_at
                WHERE team_id = @team_id AND created_by = @created_by AND revoked_at IS NULL;
                """,
                connection);
            command.Parameters.AddTime("@revoked_at", revokedAt);
            command.Parameters.AddGuid("@team_id", teamId);
            command.Parameters.AddGuid("@created_by", createdBy);
            return await command.ExecuteNonQueryAsync(ct);
        }, cancellationToken);

    // The cap on live invites is checked before creating one: the primary.
    public Task<int> CountActiveInvitesAsync(Guid teamId, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                "SELECT COUNT(*) FROM invites WHERE team_id = @team_id AND revoked_at IS NULL AND expires_at > @now;",
                connection);
            command.Parameters.AddGuid("@team_id", teamId);
            command.Parameters.AddTime("@now", now);
            return await ReadCountAsync(command, ct);
        }, cancellationToken);

    private static InviteRecord ReadInvite(MySqlDataReader reader) => new(
        reader.ReadGuid(0),
        reader.ReadGuid(1),
        reader.GetFieldValue<byte[]>(2),
        reader.ReadGuid(3),
        reader.ReadTime(4),
        reader.ReadTime(5),
        reader.ReadNullableTime(6));
}
