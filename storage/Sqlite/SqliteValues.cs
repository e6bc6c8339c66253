using Microsoft.Data.Sqlite;

namespace ChatWire.Storage.Sqlite;

/// <summary>
/// How .NET values are stored: as <see cref="StoredValues"/> says (Guids as 16-byte big-endian BLOBs, times as
/// INTEGER Unix milliseconds), bound as SQLite parameters; rows are read with <see cref="StoredValues"/>' readers.
/// </summary>
internal static class SqliteValues
{
    public const int GuidLength = StoredValues.GuidLength;

    public static byte[] ToBlob(Guid value) => StoredValues.ToBytes(value);

    /// <summary>Overwrites a reused parameter buffer; SQLite copies bound blobs, so reuse is safe.</summary>
    public static void WriteGuid(Guid value, byte[] destination) => StoredValues.WriteGuid(value, destination);

    /// <summary>Ids one after another, 16 bytes each, big-endian.</summary>
    public static byte[] ToBlob(IReadOnlyList<Guid> values) => StoredValues.ToBytes(values);

    /// <summary>
    /// The bytes to bind for a body: the backing array itself when the memory spans all of it, else a copy
    /// (SqliteParameter takes a byte[]).
    /// </summary>
    public static byte[] ToBlob(ReadOnlyMemory<byte> value) => StoredValues.ArrayOf(value);

    public static long ToUnixMilliseconds(DateTimeOffset value) => StoredValues.ToUnixMilliseconds(value);

    public static DateTimeOffset FromUnixMilliseconds(long value) => StoredValues.FromUnixMilliseconds(value);

    /// <summary>Binds the ids as $id0, $id1, … and returns them as the text of an IN list.</summary>
    public static string BindIds(this SqliteCommand command, IReadOnlyList<Guid> ids)
    {
        var names = new string[ids.Count];
        for (var i = 0; i < ids.Count; i++)
        {
            names[i] = "$id" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            command.Parameters.AddGuid(names[i], ids[i]);
        }

        return string.Join(", ", names);
    }

    public static SqliteParameter AddGuid(this SqliteParameterCollection parameters, string name, Guid value) =>
        parameters.Add(name, SqliteType.Blob).WithValue(ToBlob(value));

    public static SqliteParameter AddNullableGuid(this SqliteParameterCollection parameters, string name, Guid? value) =>
        parameters.Add(name, SqliteType.Blob).WithValue(value is { } guid ? ToBlob(guid) : DBNull.Value);

    public static SqliteParameter AddBlob(this SqliteParameterCollection parameters, string name, byte[] value) =>
        parameters.Add(name, SqliteType.Blob).WithValue(value);

    public static SqliteParameter AddText(this SqliteParameterCollection parameters, string name, string? value) =>
        parameters.Add(name, SqliteType.Text).WithValue(value is null ? DBNull.Value : value);

    public static SqliteParameter AddInteger(this SqliteParameterCollection parameters, string name, long value) =>
        parameters.Add(name, SqliteType.Integer).WithValue(value);

    public static SqliteParameter AddTime(this SqliteParameterCollection parameters, string name, DateTimeOffset value) =>
        parameters.Add(name, SqliteType.Integer).WithValue(ToUnixMilliseconds(value));

    public static SqliteParameter AddNullableInteger(this SqliteParameterCollection parameters, string name, long? value) =>
        parameters.Add(name, SqliteType.Integer).WithValue(value is { } integer ? integer : DBNull.Value);

    public static SqliteParameter AddNullableTime(this SqliteParameterCollection parameters, string name, DateTimeOffset? value) =>
        parameters.Add(name, SqliteType.Integer).WithValue(value is { } time ? ToUnixMilliseconds(time) : DBNull.Value);

    private static SqliteParameter WithValue(this SqliteParameter parameter, object value)
    {
        parameter.Value = value;
        return parameter;
    }
}
