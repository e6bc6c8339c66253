using System.Diagnostics;
using ChatWire.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace ChatWire.LoadHarness;

/// <summary>
/// The raw ceiling of the message store's schema and settings: plain INSERTs in transactions of a fixed
/// size on one connection with WAL and synchronous=FULL, no seq allocation and no idempotency lookup. Rows go
/// round-robin over <c>conversations</c> conversations: one gives the store's best case (every transaction
/// appends to the same table leaf); the send scenario's own connection count and mean commit batch give the
/// same shape of writes as the gateway's group commit had in the run.
/// </summary>
internal static class InsertCeiling
{
    public static async Task<InsertCeilingResult> RunAsync(int rows, int batch, int contentBytes, int conversations = 1)
    {
        var directory = Path.Combine(Path.GetTempPath(), "chatwire-ceiling-" + Guid.NewGuid().ToString("N"));
        try
        {
            var paths = SqliteStorage.PrepareDataDirectory(directory);

            // The store's own migrations create the schema; then it steps aside for the raw writer.
            await (await SqliteMessageStore.OpenAsync(paths.MessagesDatabase)).DisposeAsync();
            await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = paths.MessagesDatabase, Pooling = false }.ConnectionString);
            await connection.OpenAsync();
            await using (var pragma = connection.CreateCommand())
            {
                pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;";
                await pragma.ExecuteNonQueryAsync();
            }

            await using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO events (conversation_id, seq, kind, event_id, sender_user_id, sender_device_id, stored_at, content_type, content) VALUES ($c, $s, 0, $m, $u, $d, $t, 'application/octet-stream', $b)";
            var conversation = insert.Parameters.Add("$c", SqliteType.Blob);
            var seq = insert.Parameters.Add("$s", SqliteType.Integer);
            var message = insert.Parameters.Add("$m", SqliteType.Blob);
            insert.Parameters.AddWithValue("$u", Guid.CreateVersion7().ToByteArray(bigEndian: true));
            insert.Parameters.AddWithValue("$d", Guid.CreateVersion7().ToByteArray(bigEndian: true));
            insert.Parameters.AddWithValue("$t", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            var content = new byte[contentBytes];
            Random.Shared.NextBytes(content);
            insert.Parameters.AddWithValue("$b", content);
            var conversationIds = Enumerable.Range(0, conversations).Select(_ => Guid.CreateVersion7().ToByteArray(bigEndian: true)).ToArray();

            var started = Stopwatch.GetTimestamp();
            for (var done = 0; done < rows;)
            {
                await using var transaction = await connection.BeginTransactionAsync();
                insert.Transaction = (SqliteTransaction)transaction;
                for (var i = 0; i < batch && done < rows; i++, done++)
                {
                    conversation.Value = conversationIds[done % conversations];
                    seq.Value = (done / conversations) + 1;
                    message.Value = Guid.CreateVersion7().ToByteArray(bigEndian: true);
                    await insert.ExecuteNonQueryAsync();
                }

                await transaction.CommitAsync();
            }

            var elapsed = Stopwatch.GetElapsedTime(started);
            var perSecond = rows / elapsed.TotalSeconds;
            Console.WriteLine($"raw insert ceiling: {rows} rows in batches of {batch} over {conversations} conversation(s), synchronous=FULL: {perSecond:F0} rows/s");
            return new InsertCeilingResult("sqlite", rows, batch, conversations, contentBytes, elapsed.TotalSeconds, perSecond);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }
}

/// <summary>One raw insert ceiling run, as the result JSON carries it.</summary>
internal sealed record InsertCeilingResult(string Store, int Rows, int Batch, int Conversations, int ContentBytes, double Seconds, double RowsPerSecond);
