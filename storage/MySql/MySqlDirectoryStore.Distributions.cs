using ChatWire.Storage.Keys;
using MySqlConnector;

namespace ChatWire.Storage.MySql;

// The key directory: conversation key state, rosters and sender-chain distributions. Reads on the primary: the
// state and the roster decide whether a send is accepted, and a recipient downloads seeds right after a sender
// on another node uploaded them.
public sealed partial class MySqlDirectoryStore
{
    private const string NewEpochSql =
        "UPDATE conversations SET key_epoch = key_epoch + 1, key_roster_version = key_roster_version + 1 WHERE id = @conversation_id;";

    private const string NewRosterSql = "UPDATE conversations SET key_roster_version = key_roster_version + 1 WHERE id = @conversation_id;";

    private const string StateSql = "SELECT key_epoch, key_roster_version, key_mode FROM conversations WHERE id = @conversation_id;";

    public Task<ConversationKeyState> GetConversationKeyStateAsync(Guid conversationId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(StateSql, connection);
            command.Parameters.AddGuid("@conversation_id", conversationId);
            return await ReadStateAsync(command, conversationId, ct);
        }, cancellationToken);

    public Task<ConversationKeyState> SetConversationModeAsync(Guid conversationId, E2eMode mode, CancellationToken cancellationToken = default) =>
        InTransactionAsync(async (connection, transaction, ct) =>
        {
            await using var command = new MySqlCommand(
                $"""
                UPDATE conversations SET key_mode = @mode, key_epoch = key_epoch + 1, key_roster_version = key_roster_version + 1
                WHERE id = @conversation_id AND key_mode <> @mode;
                {StateSql}
                """,
                connection,
                transaction);
            command.Parameters.AddInteger("@mode", (long)mode);
            command.Parameters.AddGuid("@conversation_id", conversationId);
            return await ReadStateAsync(command, conversationId, ct);
        }, cancellationToken);

    public Task<DistributionRoster> GetDistributionRosterAsync(Guid conversationId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            // One transaction: the state and the members from the same snapshot.
            await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
            await using var command = new MySqlCommand(StateSql, connection, transaction);
            command.Parameters.AddGuid("@conversation_id", conversationId);
            var state = await ReadStateAsync(command, conversationId, ct);

            // Listed devices count only while they have keys: a revoked device's keys are gone, and nothing can be sealed to it.
            command.CommandText = """
                SELECT e.user_id, e.device_id
                FROM conversation_members cm
                JOIN device_list_entries e ON e.user_id = cm.user_id
                JOIN device_keys k ON k.device_id = e.device_id AND k.user_id = e.user_id
                WHERE cm.conversation_id = @conversation_id
                ORDER BY e.user_id, e.ordinal;
                """;
            var devices = (await ReadListAsync(command, static reader => (User: reader.ReadGuid(0), Device: reader.ReadGuid(1)), ct))
                .ToLookup(d => d.User, d => d.Device);

            command.CommandText = """
                SELECT cm.user_id,
                       (SELECT MAX(h.generation) FROM history_keys h WHERE h.user_id = cm.user_id AND h.generation >= u.history_keys_usable_from)
                FROM conversation_members cm JOIN users u ON u.id = cm.user_id
                WHERE cm.conversation_id = @conversation_id
                ORDER BY cm.joined_at, cm.user_id;
                """;
            var members = await ReadListAsync(
                command,
                reader => new RosterMember(reader.ReadGuid(0), reader.IsDBNull(1) ? null : reader.GetInt32(1), devices[reader.ReadGuid(0)].ToList()),
                ct);
            await transaction.CommitAsync(ct);
            return new DistributionRoster(state, members);
        }, cancellationToken);

    public Task<DistributionRecord?> GetDistributionAsync(Guid conversationId, Guid chainId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
            await using var command = new MySqlCommand(
                """
                SELECT recipient_user_id, recipient_device_id, history_key_generation FROM key_bundle_entries
                WHERE conversation_id = @conversation_id AND chain_id = @chain_id;
                """,
                connection,
                transaction);
            command.Parameters.AddGuid("@conversation_id", conversationId);
            command.Parameters.AddGuid("@chain_id", chainId);
            var recipients = (await ReadListAsync(command, static reader => KeyRows.ReadRecipient(reader, 0), ct)).ToHashSet();

            command.CommandText = $"SELECT {KeyRows.DistributionColumns} FROM key_distributions WHERE conversation_id = @conversation_id AND chain_id = @chain_id;";
            var distribution = await ReadSingleAsync(command, reader => KeyRows.ReadDistribution(reader, recipients), ct);
            await transaction.CommitAsync(ct);
            return distribution;
        }, cancellationToken);

    public Task<KeyBundleAppendOutcome> AppendKeyBundleAsync(
        Guid conversationId,
        Guid chainId,
        Guid senderUserId,
        Guid senderDeviceId,
        long epoch,
        E2eMode mode,
        IReadOnlyList<KeyBundleEntry> entries,
        DateTimeOffset at,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entries);
        return InTransactionAsync(async (connection, transaction, ct) =>
        {
            // Created or found, and locked either way: uploads to one chain from several nodes take turns.
            await using (var distribution = new MySqlCommand(
                """
                INSERT INTO key_distributions (conversation_id, chain_id, sender_user_id, sender_device_id, epoch, mode, complete_for_roster_version, created_at)
                VALUES (@conversation_id, @chain_id, @sender_user_id, @sender_device_id, @epoch, @mode, 0, @created_at)
                ON DUPLICATE KEY UPDATE chain_id = chain_id;
                SELECT EXISTS (SELECT 1 FROM key_distributions
                               WHERE conversation_id = @conversation_id AND chain_id = @chain_id
                                 AND sender_user_id = @sender_user_id AND sender_device_id = @sender_device_id AND epoch = @epoch);
                """,
                connection,
                transaction))
            {
                distribution.Parameters.AddGuid("@conversation_id", conversationId);
                distribution.Parameters.AddGuid("@chain_id", chainId);
                distribution.Parameters.AddGuid("@sender_user_id", senderUserId);
                distribution.Parameters.AddGuid("@sender_device_id", senderDeviceId);
                distribution.Parameters.AddInteger("@epoch", epoch);
                distribution.Parameters.AddInteger("@mode", (long)mode);
                distribution.Parameters.AddTime("@created_at", at);
                if (await ReadLastScalarAsync(distribution, ct) == 0)
                {
                    return KeyBundleAppendOutcome.ChainConflict;
                }
            }

            // A recipient sealed to again: the old entry goes, the new one gets a new position (downloaded again).
            await using var insert = new MySqlCommand(
                """
                DELETE FROM key_bundle_entries
                WHERE conversation_id = @conversation_id AND chain_id = @chain_id AND recipient_user_id = @user_id
                  AND recipient_device_id <=> @device_id AND history_key_generation = @generation;
                INSERT INTO key_bundle_entries (conversation_id, chain_id, recipient_user_id, recipient_device_id, history_key_generation, sealed, uploaded_at)
                VALUES (@conversation_id, @chain_id, @user_id, @device_id, @generation, @sealed, @uploaded_at);
                """,
                connection,
                transaction);
            insert.Parameters.AddGuid("@conversation_id", conversationId);
            insert.Parameters.AddGuid("@chain_id", chainId);
            insert.Parameters.AddTime("@uploaded_at", at);
            var userId = insert.Parameters.AddGuid("@user_id", Guid.Empty);
            var deviceId = insert.Parameters.AddNullableGuid("@device_id", null);
            var generation = insert.Parameters.AddInteger("@generation", 0);
            var sealedBytes = insert.Parameters.AddBinary("@sealed", []);
            foreach (var entry in entries)
            {
                userId.Value = StoredValues.ToBytes(entry.Recipient.UserId);
                deviceId.Value = KeyRows.StoredDevice(entry.Recipient) is { } device ? StoredValues.ToBytes(device) : DBNull.Value;
                generation.Value = (long)entry.Recipient.HistoryKeyGeneration;
                sealedBytes.Value = entry.Sealed;
                await insert.ExecuteNonQueryAsync(ct);
            }

            return KeyBundleAppendOutcome.Appended;
        }, cancellationToken);
    }

    public Task MarkDistributionCompleteAsync(Guid conversationId, Guid chainId, long rosterVersion, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            // GREATEST: a late check for an older roster must not undo a newer one.
            await using var command = new MySqlCommand(
                """
                UPDATE key_distributions SET complete_for_roster_version = GREATEST(complete_for_roster_version, @roster_version)
                WHERE conversation_id = @conversation_id AND chain_id = @chain_id;
                """,
                connection);
            command.Parameters.AddInteger("@roster_version", rosterVersion);
            command.Parameters.AddGuid("@conversation_id", conversationId);
            command.Parameters.AddGuid("@chain_id", chainId);
            return await command.ExecuteNonQueryAsync(ct);
        }, cancellationToken);

    public Task<IReadOnlyList<StoredKeyBundleEntry>> ListKeyBundleEntriesAsync(
        Guid conversationId,
        Guid userId,
        Guid deviceId,
        long afterPosition,
        int limit,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        return ReadPrimaryAsync(async (connection, ct) =>
        {
            // A range of the (conversation, recipient user, position) index; the user's entries for their other devices are skipped.
            await using var command = new MySqlCommand(
                $"""
                SELECT {KeyRows.StoredEntryColumns}
                FROM key_bundle_entries e
                JOIN key_distributions d ON d.conversation_id = e.conversation_id AND d.chain_id = e.chain_id
                WHERE e.conversation_id = @conversation_id AND e.recipient_user_id = @user_id AND e.position > @after
                  AND (e.recipient_device_id IS NULL OR e.recipient_device_id = @device_id)
                ORDER BY e.position
                LIMIT @limit;
                """,
                connection);
            command.Parameters.AddGuid("@conversation_id", conversationId);
            command.Parameters.AddGuid("@user_id", userId);
            command.Parameters.AddGuid("@device_id", deviceId);
            command.Parameters.AddInteger("@after", afterPosition);
            command.Parameters.AddInteger("@limit", limit);
            return await ReadListAsync(command, KeyRows.ReadStoredEntry, ct);
        }, cancellationToken);
    }

    /// <summary>The state the command's last result set holds; the initial state when it holds no row.</summary>
    private static async Task<ConversationKeyState> ReadStateAsync(MySqlCommand command, Guid conversationId, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var state = KeyRows.InitialState(conversationId);
        do
        {
            state = await reader.ReadAsync(cancellationToken) ? KeyRows.ReadState(conversationId, reader, 0) : KeyRows.InitialState(conversationId);
        }
        while (await reader.NextResultAsync(cancellationToken));

        return state;
    }
}
