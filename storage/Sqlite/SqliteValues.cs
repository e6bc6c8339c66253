using Microsoft.Data.Sqlite;

namespace ChatWire.Storage.Sqlite;

/// <summary>
/// How .NET values are stored: as <see cref="StoredValues"/> says (Guids as 16-byte big-endian BLOBs, times as
/// INTEGER Unix milliseconds), bound as SQLite parameters; rows are read with <see cref="StoredValues"/>' readers.
/// </summary>
internal static class SqliteValues
{
    public const int GuidLength = StoredValues.GuidLength;

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
        parameters.Add(name, SqliteType.Blob).WithValue(StoredValues.ToBytes(value));

    public static SqliteParameter AddNullableGuid(this SqliteParameterCollection parameters, string name, Guid? value) =>
        parameters.Add(name, SqliteType.Blob).WithValue(value is { } guid ? StoredValues.ToBytes(guid) : DBNull.Value);

    public static SqliteParameter AddBlob(this SqliteParameterCollection parameters, string name, byte[] value) =>
        parameters.Add(name, SqliteType.Blob).WithValue(value);

    public static SqliteParameter AddText(this SqliteParameterCollection parameters, string name, string? value) =>
        parameters.Add(name, SqliteType.Text).WithValue(value is null ? DBNull.Value : value);

    public static SqliteParameter AddInteger(this SqliteParameterCollection parameters, string name, long value) =>
        parameters.Add(name, SqliteType.Integer).WithValue(value);

    public static SqliteParameter AddTime(this SqliteParameterCollection parameters, string name, DateTimeOffset value) =>
        parameters.Add(name, SqliteType.Integer).WithValue(StoredValues.ToUnixMilliseconds(value));

    public static SqliteParameter AddNullableInteger(this SqliteParameterCollection parameters, string name, long? value) =>
        parameters.Add(name, SqliteType.Integer).WithValue(value is { } integer ? integer : DBNull.Value);

    public static SqliteParameter AddNullableTime(this SqliteParameterCollection parameters, string name, DateTimeOffset? value) =>
        parameters.Add(name, SqliteType.Integer).WithValue(value is { } time ? StoredValues.ToUnixMilliseconds(time) : DBNull.Value);

    private static SqliteParameter WithValue(this SqliteParameter parameter, object value)
    {
        parameter.Value = value;
        return parameter;
    }
}
