using System.Data.Common;

namespace ChatWire.Storage.Directory;

/// <summary>
/// The operator's queries (<see cref="IAccountAdminStore"/>), the same in both SQL adapters; <c>p</c> is the driver's
/// parameter prefix ('$' for SQLite, '@' for MySQL). Parameters: id, after, limit, at, tombstone, display_name.
/// </summary>
internal static class AdminRows
{
    private const string SelectUsers = """
        SELECT u.id, u.username, u.display_name, u.password_hash, u.created_at, u.disabled_at, u.deleted_at,
               (SELECT count(*) FROM device_sessions s WHERE s.user_id = u.id AND s.revoked_at IS NULL)
        FROM users u
        """;

    public static string ListUsers(char p) => $"{SelectUsers} WHERE u.username > {p}after ORDER BY u.username LIMIT {p}limit;";

    public static string GetUser(char p) => $"{SelectUsers} WHERE u.id = {p}id;";

    // Disabling an account already disabled keeps the time it was first disabled; enabling clears it.
    public static string SetDisabled(char p) =>
        $"UPDATE users SET disabled_at = CASE WHEN {p}at IS NULL THEN NULL ELSE COALESCE(disabled_at, {p}at) END WHERE id = {p}id AND deleted_at IS NULL;";

    public static string ListTeams(char p) => $"""
        SELECT t.id, t.name, t.created_by, t.created_at, t.members_can_invite, t.members_can_mention_channel,
               (SELECT count(*) FROM team_members m WHERE m.team_id = t.id)
        FROM teams t WHERE t.id > {p}after ORDER BY t.id LIMIT {p}limit;
        """;

    // The rename and the end of the account's key material; the history keys stay (a generation must still be above
    // them) but stop being usable. The caller runs the deletes only when the update changed a row.
    // extraSet: the adapter's own derived columns (MySQL's case-folded keys).
    public static string MarkDeleted(char p, string extraSet = "") => $"""
        UPDATE users SET username = {p}tombstone, display_name = {p}display_name, password_hash = '', deleted_at = {p}at{extraSet},
               disabled_at = coalesce(disabled_at, {p}at),
               history_keys_usable_from = (SELECT coalesce(max(generation), 0) + 1 FROM history_keys WHERE user_id = {p}id)
        WHERE id = {p}id AND deleted_at IS NULL;
        """;

    public static string DeleteKeyMaterial(char p) => $"""
        DELETE FROM account_keys WHERE user_id = {p}id;
        DELETE FROM device_list_entries WHERE user_id = {p}id;
        DELETE FROM device_lists WHERE user_id = {p}id;
        DELETE FROM former_device_keys WHERE user_id = {p}id;
        DELETE FROM recovery_backups WHERE user_id = {p}id;
        DELETE FROM link_payloads WHERE device_id IN (SELECT device_id FROM device_sessions WHERE user_id = {p}id);
        """;

    public static UserAdminRecord ReadUser(DbDataReader reader) => new(
        new UserRecord(reader.ReadGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.ReadTime(4)),
        reader.ReadNullableTime(5),
        reader.ReadNullableTime(6),
        Convert.ToInt32(reader.GetValue(7), System.Globalization.CultureInfo.InvariantCulture));

    public static TeamAdminRecord ReadTeam(DbDataReader reader) => new(
        new TeamRecord(
            reader.ReadGuid(0),
            reader.GetString(1),
            reader.ReadGuid(2),
            reader.ReadTime(3),
            Convert.ToInt64(reader.GetValue(4), System.Globalization.CultureInfo.InvariantCulture) != 0,
            Convert.ToInt64(reader.GetValue(5), System.Globalization.CultureInfo.InvariantCulture) != 0),
        Convert.ToInt32(reader.GetValue(6), System.Globalization.CultureInfo.InvariantCulture));
}
