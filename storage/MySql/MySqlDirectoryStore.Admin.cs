using ChatWire.Storage.Directory;
using MySqlConnector;

namespace ChatWire.Storage.MySql;

// The operator's view of accounts and teams (migration 20261202150000_directory_account_state). Reads go to the
// primary: an operator acting on what they just listed must see their own last change.
public sealed partial class MySqlDirectoryStore : IAccountAdminStore
{
    // The user's row locked as every key change locks it, then the rename; the tombstone is lower case already,
    // so it is its own case-folded key.
    private static readonly string MarkDeletedSql =
        LockUserSql + "\n" + AdminRows.MarkDeleted('@', ", username_key = @tombstone, display_name_key = @display_name_key");

    public Task<IReadOnlyList<UserAdminRecord>> ListUsersAsync(string? afterUsername, int limit, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(AdminRows.ListUsers('@'), connection);
            command.Parameters.AddText("@after", afterUsername ?? string.Empty);
            command.Parameters.AddInteger("@limit", limit);
            return await ReadListAsync(command, AdminRows.ReadUser, ct);
        }, cancellationToken);

    public Task<UserAdminRecord?> GetUserAdminAsync(Guid userId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(AdminRows.GetUser('@'), connection);
            command.Parameters.AddGuid("@id", userId);
            return await ReadSingleAsync(command, AdminRows.ReadUser, ct);
        }, cancellationToken);

    public Task<bool> SetUserDisabledAsync(Guid userId, DateTimeOffset? disabledAt, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(AdminRows.SetDisabled('@'), connection);
            command.Parameters.AddGuid("@id", userId);
            command.Parameters.AddNullableTime("@at", disabledAt);
            return await command.ExecuteNonQueryAsync(ct) == 1;
        }, cancellationToken);

    public Task<bool> MarkUserDeletedAsync(Guid userId, DateTimeOffset at, CancellationToken cancellationToken = default) =>
        InTransactionAsync(async (connection, transaction, ct) =>
        {
            await using var command = new MySqlCommand(MarkDeletedSql, connection, transaction);
            command.Parameters.AddGuid("@user_id", userId);
            command.Parameters.AddGuid("@id", userId);
            command.Parameters.AddText("@tombstone", IAccountAdminStore.TombstoneName(userId));
            command.Parameters.AddText("@display_name", IAccountAdminStore.DeletedDisplayName);
            command.Parameters.AddText("@display_name_key", MySqlValues.FoldCase(IAccountAdminStore.DeletedDisplayName));
            command.Parameters.AddTime("@at", at);
            if (await command.ExecuteNonQueryAsync(ct) != 1)
            {
                return false;
            }

            command.CommandText = AdminRows.DeleteKeyMaterial('@');
            await command.ExecuteNonQueryAsync(ct);
            return true;
        }, cancellationToken);

    public Task<IReadOnlyList<TeamAdminRecord>> ListTeamsAsync(Guid? afterTeamId, int limit, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(AdminRows.ListTeams('@'), connection);
            command.Parameters.AddGuid("@after", afterTeamId ?? Guid.Empty);
            command.Parameters.AddInteger("@limit", limit);
            return await ReadListAsync(command, AdminRows.ReadTeam, ct);
        }, cancellationToken);
}
