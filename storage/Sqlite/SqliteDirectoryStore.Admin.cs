using ChatWire.Storage.Directory;

namespace ChatWire.Storage.Sqlite;

// The operator's view of accounts and teams (migration 20261202150000_directory_account_state).
public sealed partial class SqliteDirectoryStore : IAccountAdminStore
{
    public async Task<IReadOnlyList<UserAdminRecord>> ListUsersAsync(string? afterUsername, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = AdminRows.ListUsers('$');
        command.Parameters.AddText("$after", afterUsername ?? string.Empty);
        command.Parameters.AddInteger("$limit", limit);
        return await ReadListAsync(command, AdminRows.ReadUser, cancellationToken);
    }

    public async Task<UserAdminRecord?> GetUserAdminAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = AdminRows.GetUser('$');
        command.Parameters.AddGuid("$id", userId);
        return await ReadSingleAsync(command, AdminRows.ReadUser, cancellationToken);
    }

    public async Task<bool> SetUserDisabledAsync(Guid userId, DateTimeOffset? disabledAt, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = AdminRows.SetDisabled('$');
        command.Parameters.AddGuid("$id", userId);
        command.Parameters.AddNullableTime("$at", disabledAt);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public Task<bool> MarkUserDeletedAsync(Guid userId, DateTimeOffset at, CancellationToken cancellationToken = default) =>
        InTransactionAsync(async (connection, transaction, ct) =>
        {
            await using var command = Command(connection, transaction, AdminRows.MarkDeleted('$'));
            command.Parameters.AddGuid("$id", userId);
            command.Parameters.AddText("$tombstone", IAccountAdminStore.TombstoneName(userId));
            command.Parameters.AddText("$display_name", IAccountAdminStore.DeletedDisplayName);
            command.Parameters.AddTime("$at", at);
            if (await command.ExecuteNonQueryAsync(ct) != 1)
            {
                return false;
            }

            command.CommandText = AdminRows.DeleteKeyMaterial('$');
            await command.ExecuteNonQueryAsync(ct);
            return true;
        }, cancellationToken);

    public async Task<IReadOnlyList<TeamAdminRecord>> ListTeamsAsync(Guid? afterTeamId, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = AdminRows.ListTeams('$');
        command.Parameters.AddGuid("$after", afterTeamId ?? Guid.Empty);
        command.Parameters.AddInteger("$limit", limit);
        return await ReadListAsync(command, AdminRows.ReadTeam, cancellationToken);
    }
}
