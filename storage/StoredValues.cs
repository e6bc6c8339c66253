using System.Data.Common;
using System.Runtime.InteropServices;

namespace ChatWire.Storage;

/// <summary>
/// How the SQL adapters (SQLite, MySQL) store .NET values, the same on both: Guids as 16 bytes big-endian (so
/// byte order sorts like the Guid), a list of ids as their 16-byte keys one after another, times as 64-bit
/// Unix milliseconds. Each adapter's own Values class binds these to its driver's parameter types.
/// </summary>
internal static class StoredValues
{
    public const int GuidLength = 16;

    public static byte[] ToBytes(Guid value)
    {
        var bytes = new byte[GuidLength];
        WriteGuid(value, bytes);
        return bytes;
    }

    public static void WriteGuid(Guid value, byte[] destination)
    {
        if (!value.TryWriteBytes(destination, bigEndian: true, out _))
        {
            throw new ArgumentException("The buffer is shorter than a Guid.", nameof(destination));
        }
    }

    /// <summary>Ids one after another, 16 bytes each, big-endian.</summary>
    public static byte[] ToBytes(IReadOnlyList<Guid> values)
    {
        var bytes = new byte[values.Count * GuidLength];
        for (var i = 0; i < values.Count; i++)
        {
            values[i].TryWriteBytes(bytes.AsSpan(i * GuidLength, GuidLength), bigEndian: true, out _);
        }

        return bytes;
    }

    /// <summary>The backing array itself when the memory spans all of it, else a copy: a body is bound as a byte[].</summary>
    public static byte[] ArrayOf(ReadOnlyMemory<byte> value) =>
        MemoryMarshal.TryGetArray(value, out var segment)
        && segment.Array is { } array && segment.Offset == 0 && segment.Count == array.Length
            ? array
            : value.ToArray();

    public static long ToUnixMilliseconds(DateTimeOffset value) => value.ToUnixTimeMilliseconds();

    public static DateTimeOffset FromUnixMilliseconds(long value) => DateTimeOffset.FromUnixTimeMilliseconds(value);

    public static Guid ReadGuid(this DbDataReader reader, int ordinal)
    {
        var bytes = reader.GetFieldValue<byte[]>(ordinal);
        if (bytes.Length != GuidLength)
        {
            throw new InvalidDataException($"Column {reader.GetName(ordinal)} holds {bytes.Length} bytes, not a {GuidLength}-byte Guid.");
        }

        return new Guid(bytes, bigEndian: true);
    }

    public static Guid? ReadNullableGuid(this DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.ReadGuid(ordinal);

    /// <summary>The ids <see cref="ToBytes(IReadOnlyList{Guid})"/> wrote; none for NULL.</summary>
    public static Guid[] ReadGuids(this DbDataReader reader, int ordinal)
    {
        if (reader.IsDBNull(ordinal))
        {
            return [];
        }

        var bytes = reader.GetFieldValue<byte[]>(ordinal);
        var ids = new Guid[bytes.Length / GuidLength];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = new Guid(bytes.AsSpan(i * GuidLength, GuidLength), bigEndian: true);
        }

        return ids;
    }

    public static DateTimeOffset ReadTime(this DbDataReader reader, int ordinal) =>
        FromUnixMilliseconds(reader.GetInt64(ordinal));

    public static DateTimeOffset? ReadNullableTime(this DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.ReadTime(ordinal);

    public static string? ReadNullableString(this DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
