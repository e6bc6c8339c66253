using System.Text;
using ChatWire.Peers;

namespace ChatWire.Bench.Tests;

/// <summary>
/// The peers' readers (bench/ChatWire.Peers) find each server's pushes in place: a wrong length or payload would
/// show as a peer's deliveries or latencies mismeasured, so each protocol's parser is checked on a stream of a
/// confirmation and messages, read whole and cut at every byte.
/// </summary>
public sealed class PushParserTests
{
    [Fact]
    public void Resp_reads_message_payloads_and_skips_the_subscription_confirmation()
    {
        var stream = Ascii("*3\r\n$9\r\nsubscribe\r\n$6\r\nfanout\r\n:1\r\n"
            + "*3\r\n$7\r\nmessage\r\n$6\r\nfanout\r\n$12\r\n123456 xxxxx\r\n"
            // A bulk string is length-prefixed: CR LF inside a payload is payload.
            + "*3\r\n$7\r\nmessage\r\n$6\r\nfanout\r\n$7\r\n42 a\r\nb\r\n");

        Assert.Equal(["123456 xxxxx", "42 a\r\nb"], ReadAll(new RespPushParser(), stream));
        AssertIncompleteAtEveryCut(new RespPushParser(), stream);
    }

    [Fact]
    public void Resp_rejects_a_stream_that_is_not_pushes()
    {
        Assert.Throws<InvalidDataException>(() => ReadAll(new RespPushParser(), Ascii("+OK\r\n")));
    }

    [Fact]
    public void Nats_reads_msg_payloads_with_and_without_a_reply_subject_and_skips_other_lines()
    {
        var stream = Ascii("INFO {\"server_id\":\"x\"}\r\nPONG\r\n"
            + "MSG fanout 1 7\r\n42 a\r\nb\r\n"
            + "PING\r\n"
            + "MSG fanout 1 _INBOX.1 5\r\n77 xx\r\n");

        Assert.Equal(["42 a\r\nb", "77 xx"], ReadAll(new NatsPushParser(), stream));
        AssertIncompleteAtEveryCut(new NatsPushParser(), stream);
    }

    [Fact]
    public void Mqtt_reads_publish_payloads_at_qos_0_and_1_and_skips_other_packets()
    {
        var large = "99 " + new string('x', 197);
        byte[] suback = [0x90, 0x03, 0x00, 0x01, 0x00];
        // QoS 1 (flags 0010): a packet identifier (00 07) sits between the topic and the payload.
        byte[] qos1 = [0x32, 0x0E, 0x00, 0x06, .. "fanout"u8, 0x00, 0x07, .. "5 ab"u8];
        // 200 bytes of payload need two bytes of remaining length.
        byte[] stream = [.. suback, .. MqttPackets.Publish("fanout", Ascii("12 hello")), .. qos1,
            .. MqttPackets.Publish("fanout", Ascii(large)), 0xD0, 0x00];

        Assert.Equal(["12 hello", "5 ab", large], ReadAll(new MqttPushParser(), stream));
        AssertIncompleteAtEveryCut(new MqttPushParser(), stream);
    }

    [Fact]
    public void A_payload_starts_with_its_send_time()
    {
        Assert.Equal(1764088245789L, PushParser.ReadLeadingNumber(Ascii("1764088245789 xxxx")));
        Assert.Throws<InvalidDataException>(() => PushParser.ReadLeadingNumber(Ascii("x 1")));
    }

    private static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    private static List<string> ReadAll(PushParser parser, ReadOnlySpan<byte> stream)
    {
        var payloads = new List<string>();
        var offset = 0;
        while (parser.TryRead(stream[offset..], out var push))
        {
            Assert.True(push.Length > 0);
            if (push.IsMessage)
            {
                Assert.InRange(push.PayloadStart + push.PayloadLength, push.PayloadStart, push.Length);
                payloads.Add(Encoding.ASCII.GetString(stream.Slice(offset + push.PayloadStart, push.PayloadLength)));
            }

            offset += push.Length;
        }

        Assert.Equal(stream.Length, offset);
        return payloads;
    }

    // Whatever a receive leaves cut off mid-push must read as "more bytes needed", never as a push.
    private static void AssertIncompleteAtEveryCut(PushParser parser, byte[] stream)
    {
        var offset = 0;
        while (offset < stream.Length)
        {
            Assert.True(parser.TryRead(stream.AsSpan(offset), out var push));
            for (var cut = 0; cut < push.Length; cut++)
            {
                Assert.False(parser.TryRead(stream.AsSpan(offset, cut), out _), $"a push of {push.Length} bytes at {offset} read from its first {cut}");
            }

            offset += push.Length;
        }
    }
}
