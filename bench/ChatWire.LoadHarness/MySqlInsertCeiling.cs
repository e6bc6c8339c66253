using System.Diagnostics;
using System.Globalization;
using System.Text;
using MySqlConnector;

namespace ChatWire.LoadHarness;

/// <summary>
/// The raw ceiling of the MySQL message store's schema on the same server: each transaction one multi-row
/// INSERT of a fixed number of rows into <c>events</c> (as the store writes a batch), committed with the server's
/// own durability (the redo log flushed, and the semi-synchronous replica's acknowledgement when one is set up);
/// no seq allocation, no idempotency lookup, no head rows. Rows go round-robin over <c>conversations</c>
/// conversations (see <see cref="InsertCeiling"/>).
/// </summary>
internal static class MySqlInsertCeiling
{
    public static async Task<InsertCeilingResult> RunAsync(string connectionString, int rows, int batch, int contentBytes, int conversations = 1)
    {
        await using var connection = new MySqlConnection(connectionString);
        await connection.OpenAsync();
        var conversationIds = Enumerable.Range(0, conversations).Select(_ => Guid.CreateVersion7().ToByteArray(bigEndian: true)).ToArray();
        var user = Guid.CreateVersion7().ToByteArray(bigEndian: true);
        var device = Guid.CreateVersion7().ToByteArray(bigEndian: true);
        var content = new byte[contentBytes];
        Random.Shared.NextBytes(content);
        var storedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        var started = Stopwatch.GetTimestamp();
        for (var done = 0; done < rows;)
        {
            var count = Math.Min(batch, rows - done);
            await using var transaction = await connection.BeginTransactionAsync();
            await using var insert = new MySqlCommand(string.Empty, connection, transaction);
            var sql = new StringBuilder("INSERT INTO events (conversation_id, seq, kind, event_id, sender_user_id, sender_device_id, stored_at, content_type, content) VALUES ");
            insert.Parameters.AddWithValue("@u", user);
            insert.Parameters.AddWithValue("@d", device);
            insert.Parameters.AddWithValue("@t", storedAt);
            insert.Parameters.AddWithValue("@b", content);
            for (var i = 0; i < count; i++)
            {
                var n = i.ToString(CultureInfo.InvariantCulture);
                sql.Append(i == 0 ? "" : ", ").Append(CultureInfo.InvariantCulture, $"(@c{n}, @s{n}, 0, @e{n}, @u, @d, @t, 'application/octet-stream', @b)");
                insert.Parameters.AddWithValue("@c" + n, conversationIds[(done + i) % conversations]);
                insert.Parameters.AddWithValue("@s" + n, (long)(((done + i) / conversations) + 1));
                insert.Parameters.AddWithValue("@e" + n, Guid.CreateVersion7().ToByteArray(bigEndian: true));
            }

            insert.CommandText = sql.Append(';').ToString();
            await insert.ExecuteNonQueryAsync();
            await transaction.CommitAsync();
            done += count;
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        var perSecond = rows / elapsed.TotalSeconds;
        Console.WriteLine($"raw insert ceiling (MySQL): {rows} rows in multi-row INSERTs of {batch} over {conversations} conversation(s), one transaction each: {perSecond:F0} rows/s");
        return new InsertCeilingResult("mysql", rows, batch, conversations, contentBytes, elapsed.TotalSeconds, perSecond);
    }
}
