using System.Globalization;
using System.Text;

namespace ChatWire.Peers;

/// <summary>RESP encoding of client commands (arrays of bulk strings).</summary>
internal static class Resp
{
    public static byte[] Command(params string[] parts)
    {
        var builder = new StringBuilder();
        builder.Append('*').Append(parts.Length).Append("\r\n");
        foreach (var part in parts)
        {
            builder.Append('$').Append(Encoding.UTF8.GetByteCount(part)).Append("\r\n").Append(part).Append("\r\n");
        }

        return Encoding.UTF8.GetBytes(builder.ToString());
    }
}

/// <summary>
/// Extracts the payloads of pub/sub pushes (*3 $7 message $channel $payload) from a RESP byte stream
/// that arrives in arbitrary pieces.
/// </summary>
internal sealed class RespMessageReader : MessageReader
{
    protected override int Parse(ReadOnlySpan<byte> span, List<string> payloads)
    {
        var consumed = 0;
        while (TryReadPush(span[consumed..], out var length, out var payload))
        {
            consumed += length;
            if (payload is not null)
            {
                payloads.Add(payload);
            }
        }

        return consumed;
    }

    private static bool TryReadPush(ReadOnlySpan<byte> span, out int length, out string? payload)
    {
        length = 0;
        payload = null;
        if (!TryReadLine(span, 0, out var header, out var position) || header.Length == 0 || header[0] != '*')
        {
            return false;
        }

        var items = int.Parse(header.AsSpan(1), CultureInfo.InvariantCulture);
        var values = new string[items];
        for (var i = 0; i < items; i++)
        {
            if (!TryReadLine(span, position, out var itemHeader, out position))
            {
                return false;
            }

            if (itemHeader[0] == ':')
            {
                values[i] = itemHeader[1..];
                continue;
            }

            var size = int.Parse(itemHeader.AsSpan(1), CultureInfo.InvariantCulture);
            if (position + size + 2 > span.Length)
            {
                return false;
            }

            values[i] = Encoding.UTF8.GetString(span.Slice(position, size));
            position += size + 2;
        }

        length = position;
        payload = items == 3 && values[0] == "message" ? values[2] : null;
        return true;
    }

    private static bool TryReadLine(ReadOnlySpan<byte> span, int start, out string line, out int next)
    {
        var end = span[start..].IndexOf("\r\n"u8);
        if (end < 0)
        {
            line = string.Empty;
            next = start;
            return false;
        }

        line = Encoding.ASCII.GetString(span.Slice(start, end));
        next = start + end + 2;
        return true;
    }
}
