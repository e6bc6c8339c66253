using System.Data.Common;

namespace ChatWire.Storage.Push;

/// <summary>
/// The push tables' columns and row readers, the same in both SQL adapters (SQLite, MySQL): the select lists here
/// fix the ordinals the readers use.
/// </summary>
internal static class PushRows
{
    public const string TokenColumns = "device_id, user_id, provider, token, registered_at";
    public const string PendingColumns = "user_id, conversation_id, message_id, seq, sender_id, reason, count, due_at";

    public static PushTokenRecord ReadPushToken(DbDataReader reader) => new(
        reader.ReadGuid(0), reader.ReadGuid(1), (PushProvider)reader.GetInt32(2), reader.GetString(3), reader.ReadTime(4));

    public static PendingPush ReadPending(DbDataReader reader) => new(
        reader.ReadGuid(0),
        reader.ReadGuid(1),
        reader.ReadGuid(2),
        (ulong)reader.GetInt64(3),
        reader.ReadGuid(4),
        (PushReason)reader.GetInt32(5),
        reader.GetInt32(6),
        reader.ReadTime(7));
}
