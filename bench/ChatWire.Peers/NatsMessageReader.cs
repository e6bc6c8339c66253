using System.Globalization;
using System.Text;

namespace ChatWire.Peers;

/// <summary>
/// Extracts the payloads of NATS MSG frames ("MSG subject sid [reply] size" CRLF payload CRLF); other
/// server lines (PING, PONG, +OK, INFO) are skipped.
/// </summary>
internal sealed class NatsMessageReader : MessageReader
{
    protected override int Parse(ReadOnlySpan<byte> span, List<string> payloads)
    {
        var consumed = 0;
        while (true)
        {
            var rest = span[consumed..];
            var end = rest.IndexOf("\r\n"u8);
            if (end < 0)
            {
                break;
            }

            var line = Encoding.ASCII.GetString(rest[..end]);
            if (!line.StartsWith("MSG ", StringComparison.Ordinal))
            {
                consumed += end + 2;
                continue;
            }

            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var size = int.Parse(fields[^1], CultureInfo.InvariantCulture);
            if (end + 2 + size + 2 > rest.Length)
            {
                break;
            }

            payloads.Add(Encoding.UTF8.GetString(rest.Slice(end + 2, size)));
            consumed += end + 2 + size + 2;
        }

        return consumed;
    }
}
