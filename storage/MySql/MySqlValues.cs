using System.Globalization;
using System.Text;
using MySqlConnector;

namespace ChatWire.Storage.MySql;

/// <summary>
/// How .NET values are stored on MySQL, as on SQLite, by both MySQL stores: Guids as BINARY(16) big-endian
/// (so byte order sorts like the Guid), times as BIGINT Unix milliseconds. Names that compare
/// case-insensitively are folded here (<see cref="FoldCase"/>) and stored in *_key columns.
/// </summary>
internal static class MySqlValues
{
    public const int GuidLength = StoredValues.GuidLength;

    /// <summary>Orders Guids as their stored keys sort: the writer takes row locks in this order.</summary>
    public static IComparer<Guid> KeyOrder { get; } = Comparer<Guid>.Create(CompareKeys);

    /// <summary>
    /// The connection string every connection of a store uses: BINARY(16) columns are read as bytes whatever
    /// the operator's string says about Guids (this code converts them itself).
    /// </summary>
    public static string Normalize(string connectionString)
    {
        var builder = new MySqlConnectionStringBuilder(connectionString)
        {
            GuidFormat = MySqlGuidFormat.None,
            OldGuids = false,
        };
        return builder.ConnectionString;
    }

    /// <summary>Binds the ids as @{prefix}0, @{prefix}1, … and returns them as the text of an IN or VALUES list.</summary>
    public static string BindIds(this MySqlCommand command, IReadOnlyList<Guid> ids, string prefix = "id")
    {
        var names = new string[ids.Count];
        for (var i = 0; i < ids.Count; i++)
        {
            names[i] = "@" + prefix + i.ToString(CultureInfo.InvariantCulture);
            command.Parameters.AddGuid(names[i], ids[i]);
        }

        return string.Join(", ", names);
    }

    public static MySqlParameter AddGuid(this MySqlParameterCollection parameters, string name, Guid value) =>
        parameters.AddBinary(name, StoredValues.ToBytes(value));

    public static MySqlParameter AddBinary(this MySqlParameterCollection parameters, string name, byte[] value) =>
        parameters.Add(new MySqlParameter(name, MySqlDbType.VarBinary) { Value = value });

    public static MySqlParameter AddNullable(this MySqlParameterCollection parameters, string name, byte[]? value) =>
        parameters.Add(new MySqlParameter(name, MySqlDbType.VarBinary) { Value = value is null ? DBNull.Value : value });

    public static MySqlParameter AddText(this MySqlParameterCollection parameters, string name, string? value) =>
        parameters.Add(new MySqlParameter(name, MySqlDbType.VarChar) { Value = value is null ? DBNull.Value : value });

    public static MySqlParameter AddInteger(this MySqlParameterCollection parameters, string name, long value) =>
        parameters.Add(new MySqlParameter(name, MySqlDbType.Int64) { Value = value });

    public static MySqlParameter AddTime(this MySqlParameterCollection parameters, string name, DateTimeOffset value) =>
        parameters.AddInteger(name, StoredValues.ToUnixMilliseconds(value));

    /// <summary>The emoji of a reaction event, as stored: its UTF-8 bytes.</summary>
    public static string ReadUtf8(this MySqlDataReader reader, int ordinal) =>
        Encoding.UTF8.GetString(reader.GetFieldValue<byte[]>(ordinal));

    /// <summary>
    /// Above every character a name can hold: a prefix's range ends at prefix + this. UTF-8 byte order is
    /// code point order, which utf8mb4_nopad_bin compares.
    /// </summary>
    public const string HighestCharacter = "\U0010FFFF";

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

    public static MySqlParameter AddNullableGuid(this MySqlParameterCollection parameters, string name, Guid? value) =>
        parameters.Add(new MySqlParameter(name, MySqlDbType.VarBinary) { Value = value is { } guid ? StoredValues.ToBytes(guid) : DBNull.Value });


    public static MySqlParameter AddNullableInteger(this MySqlParameterCollection parameters, string name, long? value) =>
        parameters.Add(new MySqlParameter(name, MySqlDbType.Int64) { Value = value is { } integer ? integer : DBNull.Value });

    public static MySqlParameter AddNullableTime(this MySqlParameterCollection parameters, string name, DateTimeOffset? value) =>
        parameters.Add(new MySqlParameter(name, MySqlDbType.Int64) { Value = value is { } time ? StoredValues.ToUnixMilliseconds(time) : DBNull.Value });

    private static int CompareKeys(Guid a, Guid b)
    {
        Span<byte> left = stackalloc byte[GuidLength];
        Span<byte> right = stackalloc byte[GuidLength];
        a.TryWriteBytes(left, bigEndian: true, out _);
        b.TryWriteBytes(right, bigEndian: true, out _);
        return left.SequenceCompareTo(right);
    }
}
