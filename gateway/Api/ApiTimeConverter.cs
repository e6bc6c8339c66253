using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ChatWire.Gateway.Api;

/// <summary>
/// Times in the API are ISO 8601 UTC with exactly three fraction digits (<c>2026-11-25T16:20:00.000Z</c>):
/// the server keeps milliseconds, and a fixed width is what clients parse most easily.
/// </summary>
internal sealed class ApiTimeConverter : JsonConverter<DateTime>
{
    public const string Format = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

    public override DateTime Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        DateTime.Parse(reader.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);

    public override void Write(Utf8JsonWriter writer, DateTime value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToUniversalTime().ToString(Format, CultureInfo.InvariantCulture));
}

/// <summary>The same format for <see cref="DateTimeOffset"/> values (the administration API's), written in UTC.</summary>
internal sealed class ApiTimeOffsetConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        DateTimeOffset.Parse(reader.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.UtcDateTime.ToString(ApiTimeConverter.Format, CultureInfo.InvariantCulture));
}
