using System.Buffers.Binary;
using System.Text;

namespace ChatWire.Peers;

/// <summary>The few MQTT 3.1.1 client packets the peer scenarios send (OASIS MQTT 3.1.1, section 3).</summary>
internal static class MqttPackets
{
    public const int ConnAckLength = 4;
    public const int PingRespLength = 2;

    // §3.12: PINGREQ is a fixed header with remaining length 0.
    public static readonly byte[] PingReq = [0xC0, 0x00];

    public static int SubAckLength(int topics) => 4 + topics;

    // §3.1: protocol name "MQTT", level 4, Clean Session only, keep alive 0 (§3.1.2.10: off, so idle
    // connections send nothing), then the client identifier.
    public static byte[] Connect(string clientId)
    {
        var body = new List<byte>();
        AppendString(body, "MQTT");
        body.Add(4);
        body.Add(0x02);
        body.Add(0);
        body.Add(0);
        AppendString(body, clientId);
        return Packet(0x10, body);
    }

    // §3.8: the fixed header's flags must be 0010; one topic filter at QoS 0.
    public static byte[] Subscribe(ushort packetId, string topic)
    {
        var body = new List<byte> { (byte)(packetId >> 8), (byte)packetId };
        AppendString(body, topic);
        body.Add(0);
        return Packet(0x82, body);
    }

    // §3.3: QoS 0, no DUP, no RETAIN, so no packet identifier; the payload is the rest of the packet.
    public static byte[] Publish(string topic, ReadOnlySpan<byte> payload)
    {
        var body = new List<byte>(payload.Length + topic.Length + 2);
        AppendString(body, topic);
        body.AddRange(payload);
        return Packet(0x30, body);
    }

    /// <summary>Reads §2.2.3's remaining length (1 to 4 bytes, 7 bits each, least significant first).</summary>
    /// <returns>false when more bytes are needed.</returns>
    public static bool TryReadRemainingLength(ReadOnlySpan<byte> span, out int length, out int bytesUsed)
    {
        length = 0;
        for (var i = 0; i < 4; i++)
        {
            if (i >= span.Length)
            {
                bytesUsed = 0;
                return false;
            }

            length |= (span[i] & 0x7F) << (7 * i);
            if ((span[i] & 0x80) == 0)
            {
                bytesUsed = i + 1;
                return true;
            }
        }

        throw new InvalidDataException("MQTT remaining length longer than 4 bytes.");
    }

    private static byte[] Packet(byte firstByte, List<byte> body)
    {
        var packet = new List<byte>(body.Count + 5) { firstByte };
        var remaining = body.Count;
        do
        {
            var digit = (byte)(remaining & 0x7F);
            remaining >>= 7;
            packet.Add(remaining > 0 ? (byte)(digit | 0x80) : digit);
        }
        while (remaining > 0);
        packet.AddRange(body);
        return [.. packet];
    }

    // §1.5.3: a UTF-8 string is a two-byte big-endian length followed by its bytes.
    private static void AppendString(List<byte> body, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        Span<byte> length = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(length, (ushort)bytes.Length);
        body.AddRange(length);
        body.AddRange(bytes);
    }
}
