using ChatWire.Storage.Directory;
using MySqlConnector;

namespace ChatWire.Storage.MySql;

/// <summary>
/// The directory port over MySQL (MariaDB), with the schema and behaviour of the SQLite adapter (see the
/// migrations for how values and case-insensitive names are stored). Each call takes a pooled connection;
/// multi-statement changes run in one transaction, again from the start after a deadlock.
/// </summary>
/// <remarks>
/// Which server answers. Every write goes to the primary, and so does every read that decides what someone
/// may do, that precedes a write, or that a caller reads back right after another node's write:
/// users, sessions (the token lookup authenticates), teams, memberships and their counts, ShareTeam and
/// FilterTeammates, invite lookup and count, conversations, their members and the user's list of them,
/// channel listing (it shows private channels to their members only, and joining a team reads it to find
/// #general), and the member list without a prefix (deleting a team reads it to remove everyone).
/// The replica (when configured, see <see cref="MySqlReplicaSet"/> for read-your-writes and fallback)
/// answers only what is shown to people and harmless when a moment old:
/// <list type="bullet">
/// <item><see cref="ListTeamMembersAsync"/> with a prefix: mention candidates as someone types.</item>
/// <item><see cref="ListTeamMembersByIdAsync"/>: the presence roster.</item>
/// <item><see cref="GetLastSeenAsync"/>: "last seen at" of offline users.</item>
/// <item><see cref="ListInvitesAsync"/>: the invite list admins look at (codes are not stored).</item>
/// </list>
/// The store is also the key directory port (<see cref="Keys.IKeyDirectoryStore"/>), read from the primary only:
/// a membership change or a session revocation moves the conversations' key state in its own transaction.
/// </remarks>
public sealed partial class MySqlDirectoryStore : IDirectoryStore, IAsyncDisposable
{
    private const string UserColumns = "id, username, display_name, password_hash, created_at";
    private const string SessionColumns = "device_id, user_id, device_name, token_hash, created_at, last_used_at, revoked_at";

    private readonly MySqlReplicaSet _servers;
    private int _disposed;

    private MySqlDirectoryStore(MySqlReplicaSet servers)
    {
        _servers = servers;
    }

    /// <summary>Creates the database when missing, migrates it on the primary, and returns the store.</summary>
    public static async Task<MySqlDirectoryStore> OpenAsync(MySqlDirectoryOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var servers = new MySqlReplicaSet(options.ConnectionString, options.ReplicaConnectionString);
        await MySqlCommands.EnsureDatabaseAsync(servers.Primary, ct);
        await using (var connection = await servers.OpenPrimaryAsync(ct))
        {
            await new MySqlMigrator(MySqlMigrator.DirectoryScope).MigrateAsync(connection, ct);

            // The first replica reads then wait for the tables too.
            await servers.NoteWriteAsync(connection, ct);
        }

        return new MySqlDirectoryStore(servers);
    }

    /// <summary>Closes the idle pooled connections.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _servers.ClearPoolsAsync();
        }
    }

    // Users

    public Task CreateUserAsync(UserRecord user, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(user);
        return WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                """
                INSERT INTO users (id, username, username_key, display_name, display_name_key, password_hash, created_at)
                VALUES (@id, @username, @username_key, @display_name, @display_name_key, @password_hash, @created_at);
                """,
                connection);
            command.Parameters.AddGuid("@id", user.Id);
            command.Parameters.AddText("@username", user.Username);
            command.Parameters.AddText("@username_key", MySqlValues.FoldCase(user.Username));
            command.Parameters.AddText("@display_name", user.DisplayName);
            command.Parameters.AddText("@display_name_key", MySqlValues.FoldCase(user.DisplayName));
            command.Parameters.AddText("@password_hash", user.PasswordHash);
            command.Parameters.AddTime("@created_at", user.CreatedAt);
            await ExecuteInsertAsync(command, $"The username '{user.Username}' or the user id is taken.", ct);
            return true;
        }, cancellationToken);
    }

    public Task<UserRecord?> FindUserByNameAsync(string username, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(username);
        return ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand($"SELECT {UserColumns} FROM users WHERE username_key = @username_key;", connection);
            command.Parameters.AddText("@username_key", MySqlValues.FoldCase(username));
            return await ReadSingleAsync(command, ReadUser, ct);
        }, cancellationToken);
    }

    public Task<UserRecord?> GetUserAsync(Guid userId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand($"SELECT {UserColumns} FROM users WHERE id = @id;", connection);
            command.Parameters.AddGuid("@id", userId);
            return await ReadSingleAsync(command, ReadUser, ct);
        }, cancellationToken);

    public Task UpdatePasswordHashAsync(Guid userId, string passwordHash, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(passwordHash);
        return WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand("UPDATE users SET password_hash = @password_hash WHERE id = @id AND deleted_at IS NULL;", connection);
            command.Parameters.AddText("@password_hash", passwordHash);
            command.Parameters.AddGuid("@id", userId);
            return await command.ExecuteNonQueryAsync(ct);
        }, cancellationToken);
    }

    // Device sessions

    public Task CreateDeviceSessionAsync(DeviceSessionRecord session, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        return WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                $"""
                INSERT INTO device_sessions ({SessionColumns})
                VALUES (@device_id, @user_id, @device_name, @token_hash, @created_at, @last_used_at, @revoked_at);
                """,
                connection);
            command.Parameters.AddGuid("@device_id", session.DeviceId);
            command.Parameters.AddGuid("@user_id", session.UserId);
            command.Parameters.AddText("@device_name", session.DeviceName);
            command.Parameters.AddBinary("@token_hash", session.TokenHash);
            command.Parameters.AddTime("@created_at", session.CreatedAt);
            command.Parameters.AddTime("@last_used_at", session.LastUsedAt);
            command.Parameters.AddNullableTime("@revoked_at", session.RevokedAt);
            await ExecuteInsertAsync(command, "The device id or the token hash is taken.", ct);
            return true;
        }, cancellationToken);
    }

    public Task<DeviceSessionRecord?> FindSessionByTokenHashAsync(byte[] tokenHash, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenHash);
        return ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand($"SELECT {SessionColumns} FROM device_sessions WHERE token_hash = @token_hash;", connection);
            command.Parameters.AddBinary("@token_hash", tokenHash);
            return await ReadSingleAsync(command, ReadSession, ct);
        }, cancellationToken);
    }

    public Task<DeviceSessionRecord?> GetDeviceSessionAsync(Guid deviceId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand($"SELECT {SessionColumns} FROM device_sessions WHERE device_id = @device_id;", connection);
            command.Parameters.AddGuid("@device_id", deviceId);
            return await ReadSingleAsync(command, ReadSession, ct);
        }, cancellationToken);

    public Task TouchDeviceSessionAsync(Guid deviceId, DateTimeOffset lastUsedAt, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            // GREATEST: two connections of one device touching out of order must not move the time backwards.
            await using var command = new MySqlCommand(
                "UPDATE device_sessions SET last_used_at = GREATEST(last_used_at, @last_used_at) WHERE device_id = @device_id;",
                connection);
            command.Parameters.AddTime("@last_used_at", lastUsedAt);
            command.Parameters.AddGuid("@device_id", deviceId);
            return await command.ExecuteNonQueryAsync(ct);
        }, cancellationToken);

    public Task<IReadOnlyList<DeviceSessionRecord>> ListDeviceSessionsAsync(Guid userId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                $"""
                SELECT {SessionColumns} FROM device_sessions
                WHERE user_id = @user_id AND revoked_at IS NULL
                ORDER BY created_at, device_id;
                """,
                connection);
            command.Parameters.AddGuid("@user_id", userId);
            return await ReadListAsync(command, ReadSession, ct);
        }, cancellationToken);

    public Task<bool> RevokeDeviceSessionAsync(Guid userId, Guid deviceId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default) =>
        InTransactionAsync(async (connection, transaction, ct) =>
        {
            await using var command = new MySqlCommand(
                """
                UPDATE device_sessions SET revoked_at = @revoked_at
                WHERE device_id = @device_id AND user_id = @user_id AND revoked_at IS NULL;
                """,
                connection,
                transaction);
            command.Parameters.AddTime("@revoked_at", revokedAt);
            command.Parameters.AddGuid("@device_id", deviceId);
            command.Parameters.AddGuid("@user_id", userId);
            if (await command.ExecuteNonQueryAsync(ct) != 1)
            {
                return false;
            }

            // The device's keys go with its session, in the same transaction (IKeyDirectoryStore.RevokeDeviceKeysAsync).
            await RevokeKeysAsync(connection, transaction, userId, [deviceId], onlyWithKeys: true, revokedAt, ct);
            await DeletePushTokensAsync(connection, transaction, [deviceId], ct);
            return true;
        }, cancellationToken);

    public Task<IReadOnlyList<Guid>> RevokeAllDeviceSessionsAsync(Guid userId, Guid? exceptDeviceId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            // MariaDB has no UPDATE … RETURNING: the sessions are read and locked, then revoked, in one transaction.
            const string Live = "user_id = @user_id AND revoked_at IS NULL AND (@except_device_id IS NULL OR device_id <> @except_device_id)";
            await using var transaction = await connection.BeginTransactionAsync(ct);
            IReadOnlyList<Guid> revoked;
            await using (var select = new MySqlCommand($"SELECT device_id FROM device_sessions WHERE {Live} FOR UPDATE;", connection, transaction))
            {
                select.Parameters.AddGuid("@user_id", userId);
                select.Parameters.AddNullableGuid("@except_device_id", exceptDeviceId);
                revoked = await ReadListAsync(select, static reader => reader.ReadGuid(0), ct);
            }

            await using (var update = new MySqlCommand($"UPDATE device_sessions SET revoked_at = @revoked_at WHERE {Live};", connection, transaction))
            {
                update.Parameters.AddTime("@revoked_at", revokedAt);
                update.Parameters.AddGuid("@user_id", userId);
                update.Parameters.AddNullableGuid("@except_device_id", exceptDeviceId);
                await update.ExecuteNonQueryAsync(ct);
            }

            // The devices' keys go with their sessions, in the same transaction.
            await RevokeKeysAsync(connection, transaction, userId, revoked, onlyWithKeys: true, revokedAt, ct);
            await DeletePushTokensAsync(connection, transaction, revoked, ct);
            await transaction.CommitAsync(ct);
            return revoked;
        }, cancellationToken);

    private static UserRecord ReadUser(MySqlDataReader reader) => new(
        reader.ReadGuid(0),
        reader.GetString(1),
        reader.GetString(2),
        reader.GetString(3),
        reader.ReadTime(4));

    private static DeviceSessionRecord ReadSession(MySqlDataReader reader) => new(
        reader.ReadGuid(0),
        reader.ReadGuid(1),
        reader.GetString(2),
        reader.GetFieldValue<byte[]>(3),
        reader.ReadTime(4),
        reader.ReadTime(5),
        reader.ReadNullableTime(6));

    private Task<T> WriteAsync<T>(Func<MySqlConnection, CancellationToken, Task<T>> write, CancellationToken cancellationToken) =>
        _servers.WriteAsync(write, Checked(cancellationToken));

    private Task<T> ReadReplicaAsync<T>(Func<MySqlConnection, CancellationToken, Task<T>> read, CancellationToken cancellationToken) =>
        _servers.ReadReplicaAsync(read, Checked(cancellationToken));

    private Task<T> ReadPrimaryAsync<T>(Func<MySqlConnection, CancellationToken, Task<T>> read, CancellationToken cancellationToken) =>
        _servers.ReadPrimaryAsync(read, Checked(cancellationToken));

    private CancellationToken Checked(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return cancellationToken;
    }

    private static async Task ExecuteInsertAsync(MySqlCommand command, string duplicateMessage, CancellationToken cancellationToken)
    {
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (MySqlException exception) when (MySqlCommands.IsDuplicateKey(exception))
        {
            throw new DuplicateKeyException(duplicateMessage, exception);
        }
    }

    private static async Task<T?> ReadSingleAsync<T>(MySqlCommand command, Func<MySqlDataReader, T> read, CancellationToken cancellationToken)
        where T : class
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? read(reader) : null;
    }

    private static async Task<IReadOnlyList<T>> ReadListAsync<T>(MySqlCommand command, Func<MySqlDataReader, T> read, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var items = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            items.Add(read(reader));
        }

        return items;
    }

    private static async Task<bool> ReadBooleanAsync(MySqlCommand command, CancellationToken cancellationToken) =>
        await ReadCountAsync(command, cancellationToken) != 0;

    private static async Task<int> ReadCountAsync(MySqlCommand command, CancellationToken cancellationToken) =>
        Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
}
