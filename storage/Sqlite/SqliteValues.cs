using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace ChatWire.Storage.Sqlite;

/// <summary>
/// How .NET values are stored: Guids as 16-byte big-endian BLOBs (so byte order sorts like the Guid's
/// text), times as INTEGER Unix milliseconds.
/// </summary>
internal static class SqliteValues
{
    public const int GuidLength = 16;

    public static byte[] ToBlob(Guid value)
    {
        var bytes = new byte[GuidLength];
        WriteGuid(value, bytes);
        return bytes;
    }

    /// <summary>Overwrites a reused parameter buffer; SQLite copies bound blobs, so reuse is safe.</summary>
    public static void WriteGuid(Guid value, byte[] destination)
    {
        if (!value.TryWriteBytes(destination, bigEndian: true, out _))
        {
            throw new ArgumentException("The buffer is shorter than a Guid.", nameof(destination));
        }
    }

    /// <summary>Ids one after another, 16 bytes each, big-endian.</summary>
    public static byte[] ToBlob(IReadOnlyList<Guid> values)
    {
        var blob = new byte[values.Count * GuidLength];
        for (var i = 0; i < values.Count; i++)
        {
            values[i].TryWriteBytes(blob.AsSpan(i * GuidLength, GuidLength), bigEndian: true, out _);
        }

        return blob;
    }

    /// <summary>The ids <see cref="ToBlob(IReadOnlyList{Guid})"/> wrote; none for NULL.</summary>
    public static Guid[] ReadGuids(this SqliteDataReader reader, int ordinal)
    {
        if (reader.IsDBNull(ordinal))
        {
            return [];
        }

        var blob = reader.GetFieldValue<byte[]>(ordinal);
        var ids = new Guid[blob.Length / GuidLength];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = new Guid(blob.AsSpan(i * GuidLength, GuidLength), bigEndian: true);
        }

        return ids;
    }

    /// <summary>
    /// The bytes to bind for a body: the backing array itself when the memory spans all of it, else a copy
    /// (SqliteParameter takes a byte[]).
    /// </summary>
    public static byte[] ToBlob(ReadOnlyMemory<byte> value)
    {
        if (MemoryMarshal.TryGetArray(value, out var segment)
            && segment.Array is { } array
            && segment.Offset == 0
            && segment.Count == array.Length)
        {
            return array;
        }

        return value.ToArray();
    }

    public static long ToUnixMilliseconds(DateTimeOffset value) => value.ToUnixTimeMilliseconds();

    public static DateTimeOffset FromUnixMilliseconds(long value) => DateTimeOffset.FromUnixTimeMilliseconds(value);

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

    public static Guid ReadGuid(this SqliteDataReader reader, int ordinal)
    {
        var bytes = reader.GetFieldValue<byte[]>(ordinal);
        if (bytes.Length != GuidLength)
        {
            throw new InvalidDataException($"Column {reader.GetName(ordinal)} holds {bytes.Length} bytes, not a {GuidLength}-byte Guid.");
        }

        return new Guid(bytes, bigEndian: true);
    }

    public static Guid? ReadNullableGuid(this SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.ReadGuid(ordinal);

    public static DateTimeOffset ReadTime(this SqliteDataReader reader, int ordinal) =>
        FromUnixMilliseconds(reader.GetInt64(ordinal));

    public static DateTimeOffset? ReadNullableTime(this SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.ReadTime(ordinal);

    public static string? ReadNullableString(this SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static SqliteParameter WithValue(this SqliteParameter parameter, object value)
    {
        parameter.Value = value;
        return parameter;
    }
}
