using System.Data.Common;

namespace ChatWire.Storage.Keys;

/// <summary>
/// The key directory's columns and row readers, the same in both SQL adapters (SQLite, MySQL): the select lists
/// here fix the ordinals the readers use.
/// </summary>
internal static class KeyRows
{
    public const string AccountKeyColumns = "user_id, signing_key, version, updated_at";
    public const string HistoryKeyColumns = "h.user_id, h.generation, h.public_key, h.signature, h.created_at";
    public const string DeviceKeyColumns =
        "k.device_id, k.user_id, k.signing_key, k.dh_key, k.created_at_ms, k.self_signature, k.link_code, k.certificate_version, k.account_signature";

    /// <summary>The device key columns, then the revocation time (ordinal 9), of former_device_keys k.</summary>
    public const string FormerDeviceKeyColumns = DeviceKeyColumns + ", k.revoked_at";

    /// <summary>The columns a revoked, approved device keeps in former_device_keys, in the order of device_keys.</summary>
    public const string KeptDeviceColumns =
        "device_id, user_id, signing_key, dh_key, created_at_ms, self_signature, link_code, certificate_version, account_signature";

    public const string SignedPrekeyColumns = "device_id, prekey_id, public_key, signature, created_at";
    public const string DistributionColumns = "conversation_id, chain_id, sender_user_id, sender_device_id, epoch, mode, complete_for_roster_version";

    // GetSendStateAsync: the conversation's key state (c), then its distribution's head (d, all NULL when the chain is
    // not in the conversation).
    public const string SendStateColumns =
        "c.key_epoch, c.key_roster_version, c.key_mode, d.chain_id, d.sender_user_id, d.sender_device_id, d.epoch, d.complete_for_roster_version";

    // The entry's columns, then its distribution's sender and epoch.
    public const string StoredEntryColumns =
        "e.position, e.conversation_id, e.chain_id, d.sender_user_id, d.sender_device_id, d.epoch, "
        + "e.recipient_user_id, e.recipient_device_id, e.history_key_generation, e.sealed, e.uploaded_at";

    /// <summary>How link codes are stored and matched: the 10 characters without the dash, upper case.</summary>
    public static string NormalizeLinkCode(string linkCode)
    {
        ArgumentNullException.ThrowIfNull(linkCode);
        return linkCode.Replace("-", string.Empty, StringComparison.Ordinal).ToUpperInvariant();
    }

    /// <summary>A recipient's device as stored: NULL for a user's history key.</summary>
    public static Guid? StoredDevice(KeyRecipient recipient) => recipient.DeviceId == Guid.Empty ? null : recipient.DeviceId;

    public static AccountKeyRecord ReadAccountKey(DbDataReader reader) => new(
        reader.ReadGuid(0),
        reader.GetFieldValue<byte[]>(1),
        reader.GetInt32(2),
        reader.ReadTime(3));

    public static HistoryKeyRecord ReadHistoryKey(DbDataReader reader) => new(
        reader.ReadGuid(0),
        reader.GetInt32(1),
        reader.GetFieldValue<byte[]>(2),
        reader.GetFieldValue<byte[]>(3),
        reader.ReadTime(4));

    public static DeviceKeysRecord ReadDeviceKeys(DbDataReader reader) => new(
        reader.ReadGuid(0),
        reader.ReadGuid(1),
        reader.GetFieldValue<byte[]>(2),
        reader.GetFieldValue<byte[]>(3),
        reader.GetInt64(4),
        reader.GetFieldValue<byte[]>(5),
        reader.GetString(6),
        reader.GetInt32(7),
        reader.IsDBNull(8) ? null : reader.GetFieldValue<byte[]>(8));

    public static FormerDeviceKeysRecord ReadFormerDeviceKeys(DbDataReader reader) => new(ReadDeviceKeys(reader), reader.ReadTime(9));

    public static SignedPrekeyRecord ReadSignedPrekey(DbDataReader reader) => new(
        reader.ReadGuid(0),
        reader.GetInt32(1),
        reader.GetFieldValue<byte[]>(2),
        reader.GetFieldValue<byte[]>(3),
        reader.ReadTime(4));

    public static ConversationKeyState ReadState(Guid conversationId, DbDataReader reader, int first) => new(
        conversationId,
        reader.GetInt64(first),
        reader.GetInt64(first + 1),
        (E2eMode)reader.GetInt32(first + 2));

    public static ConversationKeyState InitialState(Guid conversationId) => new(conversationId, 1, 1, E2eMode.History);

    public static DistributionRecord ReadDistribution(DbDataReader reader, IReadOnlySet<KeyRecipient> recipients) => new(
        reader.ReadGuid(0),
        reader.ReadGuid(1),
        reader.ReadGuid(2),
        reader.ReadGuid(3),
        reader.GetInt64(4),
        (E2eMode)reader.GetInt32(5),
        recipients,
        reader.GetInt64(6));

    /// <summary>A send state from a <see cref="SendStateColumns"/> row.</summary>
    public static (ConversationKeyState State, DistributionHead? Distribution) ReadSendState(Guid conversationId, DbDataReader reader) => (
        ReadState(conversationId, reader, 0),
        reader.IsDBNull(3)
            ? null
            : new DistributionHead(reader.ReadGuid(3), reader.ReadGuid(4), reader.ReadGuid(5), reader.GetInt64(6), reader.GetInt64(7)));

    /// <summary>A recipient from (user, device or NULL, generation) at <paramref name="first"/>.</summary>
    public static KeyRecipient ReadRecipient(DbDataReader reader, int first) => new(
        reader.ReadGuid(first),
        reader.ReadNullableGuid(first + 1) ?? Guid.Empty,
        reader.GetInt32(first + 2));

    public static StoredKeyBundleEntry ReadStoredEntry(DbDataReader reader) => new(
        reader.GetInt64(0),
        reader.ReadGuid(1),
        reader.ReadGuid(2),
        reader.ReadGuid(3),
        reader.ReadGuid(4),
        reader.GetInt64(5),
        ReadRecipient(reader, 6),
        reader.GetFieldValue<byte[]>(9),
        reader.ReadTime(10));
}
