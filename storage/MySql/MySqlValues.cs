using System.Globalization;
using MySqlConnector;

namespace ChatWire.Storage.MySql;

/// <summary>
/// How .NET values are stored, as on SQLite: Guids as BINARY(16) big-endian (so byte order sorts like the
/// Guid), times as BIGINT Unix milliseconds. Names that compare case-insensitively are folded here
/// (<see cref="FoldCase"/>) and stored in *_key columns.
/// </summary>
internal static class MySqlValues
{
    public const int GuidLength = 16;

    /// <summary>
    /// Above every character a name can hold: a prefix's range ends at prefix + this. UTF-8 byte order is
    /// code point order, which utf8mb4_nopad_bin compares.
    /// </summary>
    public const string HighestCharacter = "\U0010FFFF";

    public static byte[] ToBytes(Guid value)
    {
        var bytes = new byte[GuidLength];
        value.TryWriteBytes(bytes, bigEndian: true, out _);
        return bytes;
    }

    public static long ToUnixMilliseconds(DateTimeOffset value) => value.ToUnixTimeMilliseconds();

    /// <summary>
    /// Folds ASCII letters to lower case and leaves every other character as it is: SQLite's NOCASE, which
    /// the SQLite adapter uses for usernames, channel names and member names. No MariaDB collation does only
    /// this (the _ci ones also equate "é" with "e"), so the stores fold before comparing under a binary one.
    /// </summary>
    public static string FoldCase(string value)
    {
        if (value.AsSpan().IndexOfAnyInRange('A', 'Z') < 0)
        {
            return value;
        }

        return string.Create(value.Length, value, static (folded, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                var c = source[i];
                folded[i] = c is >= 'A' and <= 'Z' ? (char)(c + ('a' - 'A')) : c;
            }
        });
    }

    /// <summary>Binds the ids as @id0, @id1, … and returns them as the text of an IN list.</summary>
    public static string BindIds(this MySqlCommand command, IReadOnlyList<Guid> ids)
    {
        var names = new string[ids.Count];
        for (var i = 0; i < ids.Count; i++)
        {
            names[i] = "@id" + i.ToString(CultureInfo.InvariantCulture);
            command.Parameters.AddGuid(names[i], ids[i]);
        }

        return string.Join(", ", names);
    }

    public static MySqlParameter AddGuid(this MySqlParameterCollection parameters, string name, Guid value) =>
        parameters.Add(name, MySqlDbType.Binary).WithValue(ToBytes(value));

    public static MySqlParameter AddNullableGuid(this MySqlParameterCollection parameters, string name, Guid? value) =>
        parameters.Add(name, MySqlDbType.Binary).WithValue(value is { } guid ? ToBytes(guid) : DBNull.Value);

    public static MySqlParameter AddBytes(this MySqlParameterCollection parameters, string name, byte[] value) =>
        parameters.Add(name, MySqlDbType.VarBinary).WithValue(value);

    public static MySqlParameter AddText(this MySqlParameterCollection parameters, string name, string? value) =>
        parameters.Add(name, MySqlDbType.VarChar).WithValue(value is null ? DBNull.Value : value);

    public static MySqlParameter AddInteger(this MySqlParameterCollection parameters, string name, long value) =>
        parameters.Add(name, MySqlDbType.Int64).WithValue(value);

    public static MySqlParameter AddNullableInteger(this MySqlParameterCollection parameters, string name, long? value) =>
        parameters.Add(name, MySqlDbType.Int64).WithValue(value is { } integer ? integer : DBNull.Value);

    public static MySqlParameter AddTime(this MySqlParameterCollection parameters, string name, DateTimeOffset value) =>
        parameters.Add(name, MySqlDbType.Int64).WithValue(ToUnixMilliseconds(value));

    public static MySqlParameter AddNullableTime(this MySqlParameterCollection parameters, string name, DateTimeOffset? value) =>
        parameters.Add(name, MySqlDbType.Int64).WithValue(value is { } time ? ToUnixMilliseconds(time) : DBNull.Value);

    public static Guid ReadGuid(this MySqlDataReader reader, int ordinal)
    {
        var bytes = reader.GetFieldValue<byte[]>(ordinal);
        if (bytes.Length != GuidLength)
        {
            throw new InvalidDataException($"Column {reader.GetName(ordinal)} holds {bytes.Length} bytes, not a {GuidLength}-byte Guid.");
        }

        return new Guid(bytes, bigEndian: true);
    }

    public static Guid? ReadNullableGuid(this MySqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.ReadGuid(ordinal);

    public static DateTimeOffset ReadTime(this MySqlDataReader reader, int ordinal) =>
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(ordinal));

    public static DateTimeOffset? ReadNullableTime(this MySqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.ReadTime(ordinal);

    public static string? ReadNullableString(this MySqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static MySqlParameter WithValue(this MySqlParameter parameter, object value)
    {
        parameter.Value = value;
        return parameter;
    }
}
