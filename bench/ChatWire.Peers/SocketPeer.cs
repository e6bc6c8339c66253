using System.Globalization;
using System.Net.Sockets;

namespace ChatWire.Peers;

/// <summary>
/// A peer spoken to with a small raw-protocol client over one TCP socket per connection; the subclasses
/// supply the protocol's handshakes, publish frames and the reader of pushed messages.
/// </summary>
internal abstract class SocketPeer(int port) : IPeer
{
    public async Task<IPeerSubscription> SubscribeAsync(string topic)
    {
        var socket = await ConnectAsync(port);
        await HandshakeSubscriberAsync(socket, topic);
        return new Subscription(socket, CreateParser());
    }

    public async Task<IPeerPublisher> ConnectPublisherAsync()
    {
        var socket = await ConnectAsync(port);
        await HandshakePublisherAsync(socket);
        return new Publisher(this, socket);
    }

    protected abstract Task HandshakeSubscriberAsync(Socket socket, string topic);

    protected abstract Task HandshakePublisherAsync(Socket socket);

    /// <summary>The batch's publish frames followed by whatever makes the server confirm them.</summary>
    protected abstract byte[] EncodeBatch(string topic, IReadOnlyList<string> bodies);

    protected abstract Task AwaitConfirmationAsync(Socket socket, int batch, byte[] buffer);

    protected abstract PushParser CreateParser();

    public static async Task SendAsync(Socket socket, byte[] data)
    {
        var sent = 0;
        while (sent < data.Length)
        {
            sent += await socket.SendAsync(data.AsMemory(sent), SocketFlags.None);
        }
    }

    // Reads one short reply (a subscription confirmation, INFO); each arrives in one segment on loopback.
    public static async Task ReadReplyAsync(Socket socket, byte[] buffer) => await socket.ReceiveAsync(buffer, SocketFlags.None);

    // Reads until at least `bytes` bytes arrived; for replies of known length (MQTT's CONNACK, SUBACK, PINGRESP).
    public static async Task ReadBytesAsync(Socket socket, byte[] buffer, int bytes)
    {
        for (var read = 0; read < bytes;)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None);
            if (n == 0)
            {
                throw new IOException("The server closed the connection.");
            }

            read += n;
        }
    }

    // Reads until `lines` line feeds arrived (Redis's integer replies, NATS's PONG).
    public static async Task ReadLinesAsync(Socket socket, byte[] buffer, int lines)
    {
        for (var seen = 0; seen < lines;)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None);
            if (n == 0)
            {
                throw new IOException("The server closed the connection.");
            }

            seen += buffer.AsSpan(0, n).Count((byte)'\n');
        }
    }

    private static async Task<Socket> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync("127.0.0.1", port);
        return socket;
    }

    private sealed class Subscription(Socket socket, PushParser parser) : IPeerSubscription
    {
        // Like the ChatWire harness's receive loop: one buffer per connection, pushes read where they lie, the
        // unread tail moved to the front; the only per-message work is reading the payload's send time.
        public async Task ReceiveAsync(int count, float[] latencies)
        {
            var buffer = new byte[64 * 1024];
            var buffered = 0;
            var received = 0;
            while (received < count)
            {
                var n = await socket.ReceiveAsync(buffer.AsMemory(buffered), SocketFlags.None);
                if (n == 0)
                {
                    break;
                }

                buffered += n;
                var offset = 0;
                while (parser.TryRead(buffer.AsSpan(offset, buffered - offset), out var push))
                {
                    if (push.IsMessage && received < latencies.Length)
                    {
                        latencies[received++] = PushParser.LatencyMs(buffer.AsSpan(offset + push.PayloadStart, push.PayloadLength));
                    }

                    offset += push.Length;
                }

                Buffer.BlockCopy(buffer, offset, buffer, 0, buffered - offset);
                buffered -= offset;
                if (buffered == buffer.Length)
                {
                    Array.Resize(ref buffer, buffer.Length * 2);
                }
            }
        }

        public ValueTask DisposeAsync()
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    private sealed class Publisher(SocketPeer peer, Socket socket) : IPeerPublisher
    {
        private readonly byte[] _replies = new byte[64 * 1024];

        public async Task PublishBatchAsync(string topic, IReadOnlyList<string> bodies)
        {
            await SendAsync(socket, peer.EncodeBatch(topic, bodies));
            await peer.AwaitConfirmationAsync(socket, bodies.Count, _replies);
        }

        public ValueTask DisposeAsync()
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>RESP encoding of client commands (arrays of bulk strings).</summary>
internal static class Resp
{
    public static byte[] Command(params string[] parts)
    {
        var builder = new System.Text.StringBuilder();
        builder.Append('*').Append(parts.Length).Append("\r\n");
        foreach (var part in parts)
        {
            builder.Append('$').Append(System.Text.Encoding.UTF8.GetByteCount(part)).Append("\r\n").Append(part).Append("\r\n");
        }

        return System.Text.Encoding.UTF8.GetBytes(builder.ToString());
    }
}

/// <summary>Redis pub/sub in RESP: SUBSCRIBE; a pipelined batch of PUBLISHes is confirmed by their integer replies.</summary>
internal sealed class RedisPeer(int port) : SocketPeer(port)
{
    protected override async Task HandshakeSubscriberAsync(Socket socket, string topic)
    {
        await SendAsync(socket, Resp.Command("SUBSCRIBE", topic));
        await ReadReplyAsync(socket, new byte[4096]);
    }

    protected override Task HandshakePublisherAsync(Socket socket) => Task.CompletedTask;

    protected override byte[] EncodeBatch(string topic, IReadOnlyList<string> bodies)
    {
        var frames = new List<byte>();
        foreach (var body in bodies)
        {
            frames.AddRange(Resp.Command("PUBLISH", topic, body));
        }

        return [.. frames];
    }

    protected override Task AwaitConfirmationAsync(Socket socket, int batch, byte[] buffer) => ReadLinesAsync(socket, buffer, batch);

    protected override PushParser CreateParser() => new RespPushParser();
}

/// <summary>NATS text protocol: INFO, CONNECT, SUB; a batch of PUBs is followed by a PING whose PONG confirms it.</summary>
internal sealed class NatsPeer(int port) : SocketPeer(port)
{
    private static readonly byte[] Connect = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n"u8.ToArray();

    protected override async Task HandshakeSubscriberAsync(Socket socket, string topic)
    {
        // INFO first, then CONNECT, SUB and a PING whose PONG confirms the subscription is in place.
        var buffer = new byte[4096];
        await ReadReplyAsync(socket, buffer);
        await SendAsync(socket, [.. Connect, .. System.Text.Encoding.ASCII.GetBytes($"SUB {topic} 1\r\nPING\r\n")]);
        await ReadReplyAsync(socket, buffer);
    }

    protected override async Task HandshakePublisherAsync(Socket socket)
    {
        await ReadReplyAsync(socket, new byte[4096]);
        await SendAsync(socket, Connect);
    }

    protected override byte[] EncodeBatch(string topic, IReadOnlyList<string> bodies)
    {
        var frames = new System.Text.StringBuilder();
        foreach (var body in bodies)
        {
            frames.Append(CultureInfo.InvariantCulture, $"PUB {topic} {System.Text.Encoding.UTF8.GetByteCount(body)}\r\n{body}\r\n");
        }

        frames.Append("PING\r\n");
        return System.Text.Encoding.UTF8.GetBytes(frames.ToString());
    }

    protected override Task AwaitConfirmationAsync(Socket socket, int batch, byte[] buffer) => ReadLinesAsync(socket, buffer, 1);

    protected override PushParser CreateParser() => new NatsPushParser();
}

/// <summary>
/// MQTT 3.1.1 at QoS 0: CONNECT with SUBSCRIBE pipelined behind it (allowed by §3.1.4), CONNACK and SUBACK
/// confirm; QoS 0 PUBLISH has no acknowledgement, so a batch is followed by a PINGREQ whose PINGRESP, answered
/// after the broker handled the PUBLISHes before it on the same connection, confirms the batch.
/// </summary>
internal sealed class MqttPeer(int port) : SocketPeer(port)
{
    private int _clients;

    protected override async Task HandshakeSubscriberAsync(Socket socket, string topic)
    {
        var clientId = $"cw{Interlocked.Increment(ref _clients)}";
        await SendAsync(socket, [.. MqttPackets.Connect(clientId), .. MqttPackets.Subscribe(1, topic)]);
        await ReadBytesAsync(socket, new byte[64], MqttPackets.ConnAckLength + MqttPackets.SubAckLength(1));
    }

    protected override async Task HandshakePublisherAsync(Socket socket)
    {
        await SendAsync(socket, MqttPackets.Connect($"cw-publisher{Interlocked.Increment(ref _clients)}"));
        await ReadBytesAsync(socket, new byte[64], MqttPackets.ConnAckLength);
    }

    protected override byte[] EncodeBatch(string topic, IReadOnlyList<string> bodies)
    {
        var frames = new List<byte>();
        foreach (var body in bodies)
        {
            frames.AddRange(MqttPackets.Publish(topic, System.Text.Encoding.UTF8.GetBytes(body)));
        }

        frames.AddRange(MqttPackets.PingReq);
        return [.. frames];
    }

    protected override Task AwaitConfirmationAsync(Socket socket, int batch, byte[] buffer) => ReadBytesAsync(socket, buffer, MqttPackets.PingRespLength);

    protected override PushParser CreateParser() => new MqttPushParser();
}
