using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ChatWire.Storage.MySql;
using MySqlConnector;

namespace ChatWire.LoadHarness;

/// <summary>
/// The distributed mode's seed: users and device sessions with their tokens, written straight into the MySQL
/// directory that the nodes will share, the way <see cref="DirectorySeed"/> writes them into SQLite. The
/// schema is the production one: <see cref="MySqlDirectoryStore.OpenAsync"/> creates the database and applies
/// the directory migrations first; then the rows go in as multi-row INSERTs of 1,000, one transaction each
/// (one row per statement would be one semi-synchronous commit per row: 110,000 of them for 100,000 devices).
/// Values are stored as the MySQL store stores them (Guids as big-endian BINARY(16), times as Unix
/// milliseconds, names folded into their *_key columns, which here are already lower case); tokens are 32
/// random bytes in base64url of which only the SHA-256 is kept; the password hash is a marker no password
/// matches.
/// </summary>
internal static class MySqlSeed
{
    private const string NoPassword = "$seeded$no-password-matches";
    private const int RowsPerStatement = 1_000;

    public static async Task<SeedResult> RunAsync(string connectionString, int users, int devicesPerUser)
    {
        var started = Stopwatch.GetTimestamp();
        await using (await MySqlDirectoryStore.OpenAsync(new MySqlDirectoryOptions(connectionString)))
        {
        }

        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var userIds = new Guid[users];
        var devices = new List<SeededDevice>(users * devicesPerUser);
        var hashes = new List<byte[]>(users * devicesPerUser);
        for (var u = 0; u < users; u++)
        {
            userIds[u] = Guid.CreateVersion7();
            for (var d = 0; d < devicesPerUser; d++)
            {
                var raw = RandomNumberGenerator.GetBytes(32);
                devices.Add(new SeededDevice(userIds[u], Guid.CreateVersion7(), Base64Url.EncodeToString(raw)));
                hashes.Add(SHA256.HashData(raw));
            }
        }

        var builder = new MySqlConnectionStringBuilder(connectionString) { GuidFormat = MySqlGuidFormat.None, OldGuids = false };
        await using var connection = new MySqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        var written = 0;
        await using (new ProgressLine(() => $"seed (MySQL): {Volatile.Read(ref written)}/{users + devices.Count} rows"))
        {
            for (var first = 0; first < users; first += RowsPerStatement)
            {
                var count = Math.Min(RowsPerStatement, users - first);
                await InsertAsync(
                    connection,
                    "INSERT INTO users (id, username, username_key, display_name, display_name_key, password_hash, created_at) VALUES ",
                    count,
                    7,
                    (command, i, names) =>
                    {
                        var u = first + i;
                        var username = "load" + u.ToString("D7", CultureInfo.InvariantCulture);
                        var display = "load " + u.ToString(CultureInfo.InvariantCulture);
                        command.Parameters.AddWithValue(names[0], Key(userIds[u]));
                        command.Parameters.AddWithValue(names[1], username);
                        command.Parameters.AddWithValue(names[2], username);
                        command.Parameters.AddWithValue(names[3], display);
                        command.Parameters.AddWithValue(names[4], display);
                        command.Parameters.AddWithValue(names[5], NoPassword);
                        command.Parameters.AddWithValue(names[6], now);
                    });
                Interlocked.Add(ref written, count);
            }

            for (var first = 0; first < devices.Count; first += RowsPerStatement)
            {
                var count = Math.Min(RowsPerStatement, devices.Count - first);
                await InsertAsync(
                    connection,
                    "INSERT INTO device_sessions (device_id, user_id, device_name, token_hash, created_at, last_used_at, revoked_at) VALUES ",
                    count,
                    7,
                    (command, i, names) =>
                    {
                        var device = devices[first + i];
                        command.Parameters.AddWithValue(names[0], Key(device.DeviceId));
                        command.Parameters.AddWithValue(names[1], Key(device.UserId));
                        command.Parameters.AddWithValue(names[2], "load harness");
                        command.Parameters.AddWithValue(names[3], hashes[first + i]);
                        command.Parameters.AddWithValue(names[4], now);
                        command.Parameters.AddWithValue(names[5], now);
                        command.Parameters.AddWithValue(names[6], DBNull.Value);
                    });
                Interlocked.Add(ref written, count);
            }
        }

        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"seeded {users} users and {devices.Count} devices into MySQL in {seconds:F1} s"));
        return new SeedResult(devices, null, [], seconds);
    }

    private static async Task InsertAsync(MySqlConnection connection, string prefix, int rows, int columns, Action<MySqlCommand, int, string[]> bind)
    {
        await using var transaction = await connection.BeginTransactionAsync();
        await using var command = new MySqlCommand { Connection = connection, Transaction = transaction };
        var text = new StringBuilder(prefix);
        var names = new string[columns];
        for (var i = 0; i < rows; i++)
        {
            text.Append(i == 0 ? "(" : ", (");
            for (var c = 0; c < columns; c++)
            {
                names[c] = string.Create(CultureInfo.InvariantCulture, $"@p{i}_{c}");
                text.Append(c == 0 ? string.Empty : ", ").Append(names[c]);
            }

            text.Append(')');
            bind(command, i, names);
        }

        command.CommandText = text.Append(';').ToString();
        await command.ExecuteNonQueryAsync();
        await transaction.CommitAsync();
    }

    // As the MySQL stores keep a Guid: its 16 bytes big-endian, so byte order sorts like the Guid.
    private static byte[] Key(Guid id)
    {
        var bytes = new byte[16];
        id.TryWriteBytes(bytes, bigEndian: true, out _);
        return bytes;
    }
}
