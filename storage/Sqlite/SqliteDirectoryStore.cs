using ChatWire.Storage.Directory;
using Microsoft.Data.Sqlite;

namespace ChatWire.Storage.Sqlite;

/// <summary>
/// The directory port over one SQLite file (WAL, foreign keys on). Each call takes a pooled connection;
/// multi-statement changes run in one BEGIN IMMEDIATE transaction so they never fail half-way on a lock
/// upgrade. Not for in-memory databases: every pooled connection would see a different one.
/// Also the key directory port (<see cref="Keys.IKeyDirectoryStore"/>): a membership change or a session
/// revocation moves the conversations' key state in its own transaction.
/// </summary>
public sealed partial class SqliteDirectoryStore : IDirectoryStore, IDisposable
{
    private const string UserColumns = "id, username, display_name, password_hash, created_at";
    private const string SessionColumns = "device_id, user_id, device_name, token_hash, created_at, last_used_at, revoked_at";

    private readonly string _connectionString;
    private int _disposed;

    private SqliteDirectoryStore(string connectionString)
    {
        _connectionString = connectionString;
    }

    /// <summary>Opens (creating when missing) the directory database at <paramref name="databasePath"/> and migrates it.</summary>
    public static Task<SqliteDirectoryStore> OpenAsync(string databasePath, CancellationToken cancellationToken = default) =>
        OpenAsync(SqliteConnections.ForFile(databasePath), cancellationToken);

    /// <summary>Opens the directory database <paramref name="connectionString"/> names (pooling is forced on) and migrates it.</summary>
    public static async Task<SqliteDirectoryStore> OpenAsync(SqliteConnectionStringBuilder connectionString, CancellationToken cancellationToken = default)
    {
        var pooled = SqliteConnections.Pooled(connectionString);
        await using (var connection = await SqliteConnections.OpenAsync(pooled, cancellationToken))
        {
            await SqliteConnections.EnableWriteAheadLogAsync(connection, cancellationToken);
            await new SqliteMigrator(SqliteMigrator.DirectoryScope).MigrateAsync(connection, cancellationToken);
        }

        return new SqliteDirectoryStore(pooled);
    }

    /// <summary>Closes the pooled connections so the file is released.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            SqliteConnections.ClearPool(_connectionString);
        }
    }

    // Users

    public async Task CreateUserAsync(UserRecord user, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(user);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            INSERT INTO users ({UserColumns})
            VALUES ($id, $username, $display_name, $password_hash, $created_at);
            """;
        command.Parameters.AddGuid("$id", user.Id);
        command.Parameters.AddText("$username", user.Username);
        command.Parameters.AddText("$display_name", user.DisplayName);
        command.Parameters.AddText("$password_hash", user.PasswordHash);
        command.Parameters.AddTime("$created_at", user.CreatedAt);
        await ExecuteInsertAsync(command, $"The username '{user.Username}' or the user id is taken.", cancellationToken);
    }

    public async Task<UserRecord?> FindUserByNameAsync(string username, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(username);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {UserColumns} FROM users WHERE username = $username;";
        command.Parameters.AddText("$username", username);
        return await ReadSingleAsync(command, ReadUser, cancellationToken);
    }

    public async Task<UserRecord?> GetUserAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {UserColumns} FROM users WHERE id = $id;";
        command.Parameters.AddGuid("$id", userId);
        return await ReadSingleAsync(command, ReadUser, cancellationToken);
    }

    public async Task UpdatePasswordHashAsync(Guid userId, string passwordHash, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(passwordHash);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE users SET password_hash = $password_hash WHERE id = $id AND deleted_at IS NULL;";
        command.Parameters.AddText("$password_hash", passwordHash);
        command.Parameters.AddGuid("$id", userId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    // Device sessions

    public async Task CreateDeviceSessionAsync(DeviceSessionRecord session, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            INSERT INTO device_sessions ({SessionColumns})
            VALUES ($device_id, $user_id, $device_name, $token_hash, $created_at, $last_used_at, $revoked_at);
            """;
        command.Parameters.AddGuid("$device_id", session.DeviceId);
        command.Parameters.AddGuid("$user_id", session.UserId);
        command.Parameters.AddText("$device_name", session.DeviceName);
        command.Parameters.AddBlob("$token_hash", session.TokenHash);
        command.Parameters.AddTime("$created_at", session.CreatedAt);
        command.Parameters.AddTime("$last_used_at", session.LastUsedAt);
        command.Parameters.AddNullableTime("$revoked_at", session.RevokedAt);
        await ExecuteInsertAsync(command, "The device id or the token hash is taken.", cancellationToken);
    }

    public async Task<DeviceSessionRecord?> FindSessionByTokenHashAsync(byte[] tokenHash, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenHash);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {SessionColumns} FROM device_sessions WHERE token_hash = $token_hash;";
        command.Parameters.AddBlob("$token_hash", tokenHash);
        return await ReadSingleAsync(command, ReadSession, cancellationToken);
    }

    public async Task<DeviceSessionRecord?> GetDeviceSessionAsync(Guid deviceId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {SessionColumns} FROM device_sessions WHERE device_id = $device_id;";
        command.Parameters.AddGuid("$device_id", deviceId);
        return await ReadSingleAsync(command, ReadSession, cancellationToken);
    }

    public async Task TouchDeviceSessionAsync(Guid deviceId, DateTimeOffset lastUsedAt, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();

        // max(): two connections of one device touching out of order must not move the time backwards.
        command.CommandText = "UPDATE device_sessions SET last_used_at = max(last_used_at, $last_used_at) WHERE device_id = $device_id;";
        command.Parameters.AddTime("$last_used_at", lastUsedAt);
        command.Parameters.AddGuid("$device_id", deviceId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<DeviceSessionRecord>> ListDeviceSessionsAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT {SessionColumns} FROM device_sessions
            WHERE user_id = $user_id AND revoked_at IS NULL
            ORDER BY created_at, device_id;
            """;
        command.Parameters.AddGuid("$user_id", userId);
        return await ReadListAsync(command, ReadSession, cancellationToken);
    }

    public Task<bool> RevokeDeviceSessionAsync(Guid userId, Guid deviceId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default) =>
        InTransactionAsync(async (connection, transaction, ct) =>
        {
            await using var command = Command(connection, transaction, """
                UPDATE device_sessions SET revoked_at = $revoked_at
                WHERE device_id = $device_id AND user_id = $user_id AND revoked_at IS NULL;
                """);
            command.Parameters.AddTime("$revoked_at", revokedAt);
            command.Parameters.AddGuid("$device_id", deviceId);
            command.Parameters.AddGuid("$user_id", userId);
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
        InTransactionAsync(async (connection, transaction, ct) =>
        {
            IReadOnlyList<Guid> revoked;
            await using (var command = Command(connection, transaction, """
                UPDATE device_sessions SET revoked_at = $revoked_at
                WHERE user_id = $user_id AND revoked_at IS NULL
                  AND ($except_device_id IS NULL OR device_id <> $except_device_id)
                RETURNING device_id;
                """))
            {
                command.Parameters.AddTime("$revoked_at", revokedAt);
                command.Parameters.AddGuid("$user_id", userId);
                command.Parameters.AddNullableGuid("$except_device_id", exceptDeviceId);
                revoked = await ReadListAsync(command, static reader => reader.ReadGuid(0), ct);
            }

            await RevokeKeysAsync(connection, transaction, userId, revoked, onlyWithKeys: true, revokedAt, ct);
            await DeletePushTokensAsync(connection, transaction, revoked, ct);
            return revoked;
        }, cancellationToken);

    private static UserRecord ReadUser(SqliteDataReader reader) => new(
        reader.ReadGuid(0),
        reader.GetString(1),
        reader.GetString(2),
        reader.GetString(3),
        reader.ReadTime(4));

    private static DeviceSessionRecord ReadSession(SqliteDataReader reader) => new(
        reader.ReadGuid(0),
        reader.ReadGuid(1),
        reader.GetString(2),
        reader.GetFieldValue<byte[]>(3),
        reader.ReadTime(4),
        reader.ReadTime(5),
        reader.ReadNullableTime(6));

    private async Task<SqliteConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return await SqliteConnections.OpenAsync(_connectionString, cancellationToken);
    }

    private static async Task ExecuteInsertAsync(SqliteCommand command, string duplicateMessage, CancellationToken cancellationToken)
    {
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (SqliteException exception) when (SqliteConnections.IsUniqueViolation(exception))
        {
            throw new DuplicateKeyException(duplicateMessage, exception);
        }
    }

    private static async Task<T?> ReadSingleAsync<T>(SqliteCommand command, Func<SqliteDataReader, T> read, CancellationToken cancellationToken)
        where T : class
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? read(reader) : null;
    }

    private static async Task<IReadOnlyList<T>> ReadListAsync<T>(SqliteCommand command, Func<SqliteDataReader, T> read, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var items = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            items.Add(read(reader));
        }

        return items;
    }

    private static async Task<bool> ReadBooleanAsync(SqliteCommand command, CancellationToken cancellationToken) =>
        await ReadCountAsync(command, cancellationToken) != 0;

    private static async Task<int> ReadCountAsync(SqliteCommand command, CancellationToken cancellationToken) =>
        Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
}
