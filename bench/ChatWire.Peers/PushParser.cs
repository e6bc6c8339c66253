using System.Buffers.Text;
using System.Diagnostics;

namespace ChatWire.Peers;

/// <summary>
/// Finds the pushes in a server's byte stream where they lie, without copying or allocating, so a subscriber
/// costs the shared cores about what the ChatWire harness's receive loop does (it walks length prefixes in
/// place). Each protocol's parser says how long the push at the start of a span is and where its payload is.
/// </summary>
internal abstract class PushParser
{
    /// <summary>
    /// A whole push: its <see cref="Length"/> in bytes and, for a published message, where its payload starts and
    /// how long it is (<see cref="PayloadStart"/> is -1 for any other push: a subscription confirmation, a PONG, a
    /// PINGRESP).
    /// </summary>
    public readonly record struct Push(int Length, int PayloadStart = -1, int PayloadLength = 0)
    {
        public bool IsMessage => PayloadStart >= 0;
    }

    /// <summary>Reads the push at the start of <paramref name="span"/>.</summary>
    /// <returns>false when the span holds less than a whole push.</returns>
    public abstract bool TryRead(ReadOnlySpan<byte> span, out Push push);

    /// <summary>Reads ASCII decimal digits up to the first other byte (the payload's leading send time).</summary>
    public static long ReadLeadingNumber(ReadOnlySpan<byte> digits) =>
        Utf8Parser.TryParse(digits, out long value, out _) ? value : throw new InvalidDataException("A payload without its send time.");

    /// <summary>Milliseconds since the <see cref="Stopwatch"/> timestamp a payload starts with.</summary>
    public static float LatencyMs(ReadOnlySpan<byte> payload) =>
        (float)Stopwatch.GetElapsedTime(ReadLeadingNumber(payload)).TotalMilliseconds;

    /// <summary>Finds CR LF at or after <paramref name="start"/>; the index of the CR, or -1.</summary>
    protected static int LineEnd(ReadOnlySpan<byte> span, int start)
    {
        var end = span[start..].IndexOf("\r\n"u8);
        return end < 0 ? -1 : start + end;
    }
}

/// <summary>
/// Redis pub/sub pushes in RESP2: an array of bulk strings and integers (<c>*3 $7 message $channel $payload</c>
/// for a message, <c>*3 $9 subscribe $channel :1</c> for a confirmation).
/// </summary>
internal sealed class RespPushParser : PushParser
{
    public override bool TryRead(ReadOnlySpan<byte> span, out Push push)
    {
        push = default;
        var end = LineEnd(span, 0);
        if (end < 0)
        {
            return false;
        }

        if (span[0] != (byte)'*' || !Utf8Parser.TryParse(span[1..end], out int items, out _))
        {
            throw new InvalidDataException("Not a RESP array where a pub/sub push was expected.");
        }

        var position = end + 2;
        var isMessage = false;
        var (payloadStart, payloadLength) = (-1, 0);
        for (var i = 0; i < items; i++)
        {
            end = LineEnd(span, position);
            if (end < 0)
            {
                return false;
            }

            if (span[position] == (byte)':')
            {
                position = end + 2;
                continue;
            }

            if (span[position] != (byte)'$' || !Utf8Parser.TryParse(span[(position + 1)..end], out int size, out _))
            {
                throw new InvalidDataException("A RESP element that is neither a bulk string nor an integer.");
            }

            var start = end + 2;
            if (start + size + 2 > span.Length)
            {
                return false;
            }

            if (i == 0)
            {
                isMessage = items == 3 && span.Slice(start, size).SequenceEqual("message"u8);
            }
            else if (i == 2 && isMessage)
            {
                payloadStart = start;
                payloadLength = size;
            }

            position = start + size + 2;
        }

        push = new Push(position, payloadStart, payloadLength);
        return true;
    }
}

/// <summary>
/// NATS text protocol: <c>MSG subject sid [reply-to] size</c> CR LF, the payload, CR LF; any other server line
/// (INFO, PING, PONG, +OK) is a push without a payload.
/// </summary>
internal sealed class NatsPushParser : PushParser
{
    public override bool TryRead(ReadOnlySpan<byte> span, out Push push)
    {
        push = default;
        var end = LineEnd(span, 0);
        if (end < 0)
        {
            return false;
        }

        var line = span[..end];
        if (!line.StartsWith("MSG "u8))
        {
            push = new Push(end + 2);
            return true;
        }

        if (!Utf8Parser.TryParse(line[(line.LastIndexOf((byte)' ') + 1)..], out int size, out _))
        {
            throw new InvalidDataException("A NATS MSG line without its payload size.");
        }

        if (end + 2 + size + 2 > span.Length)
        {
            return false;
        }

        push = new Push(end + 2 + size + 2, end + 2, size);
        return true;
    }
}

/// <summary>
/// MQTT 3.1.1 packets (a fixed header with §2.2.3's remaining length, then the rest); a PUBLISH (type 3)
/// carries the topic, a packet identifier at QoS 1 and 2 (§3.3.2.2), then the payload.
/// </summary>
internal sealed class MqttPushParser : PushParser
{
    public override bool TryRead(ReadOnlySpan<byte> span, out Push push)
    {
        push = default;
        if (span.Length < 2 || !MqttPackets.TryReadRemainingLength(span[1..], out var remaining, out var lengthBytes))
        {
            return false;
        }

        var headerLength = 1 + lengthBytes;
        if (headerLength + remaining > span.Length)
        {
            return false;
        }

        var length = headerLength + remaining;
        if (span[0] >> 4 != 3)
        {
            push = new Push(length);
            return true;
        }

        var topicLength = (span[headerLength] << 8) | span[headerLength + 1];
        var payloadStart = headerLength + 2 + topicLength + ((span[0] & 0x06) != 0 ? 2 : 0);
        push = new Push(length, payloadStart, length - payloadStart);
        return true;
    }
}
