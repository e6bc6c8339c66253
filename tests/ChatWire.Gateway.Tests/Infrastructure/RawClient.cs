using System.Buffers;
using System.Net.Sockets;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;
using MessagePack;

namespace ChatWire.Gateway.Tests.Infrastructure;

/// <summary>A protocol client that can send anything, byte for byte, and reads frames with a bounded wait.</summary>
internal sealed class RawClient : IAsyncDisposable
{
    // A bound on waits that should succeed, never a speed check: a frame or a close that is due arrives in
    // milliseconds, so a generous bound costs nothing when it passes. 10 s was once too short for a TLS close
    // while CI ran every test assembly at once on two cores.
    private static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(30);

    private readonly TcpClient _tcp;
    private readonly Stream _stream;
    private readonly ArrayBufferWriter<byte> _scratch = new();
    private readonly LinkedList<(FrameHeader Header, byte[] Body)> _kept = new();
    private byte[] _buffer = new byte[64 * 1024];
    private int _buffered;
    private uint _nextRequestId = 1;
    private NetworkStream? _network;

    private RawClient(TcpClient tcp, Stream? stream = null)
    {
        _tcp = tcp;
        _stream = stream ?? tcp.GetStream();
    }

    public System.Net.Security.SslStream? Tls => _stream as System.Net.Security.SslStream;

    public ChatWire.Protocol.Noise.NoiseClientStream? Noise => _stream as ChatWire.Protocol.Noise.NoiseClientStream;

    /// <summary>
    /// Connects to the Noise listener: IK with <paramref name="serverKey"/> when given, else XX. <paramref name="earlyData"/>
    /// travels inside the handshake (one HELLO frame, or nothing).
    /// </summary>
    public static async Task<RawClient> ConnectNoiseAsync(System.Net.IPEndPoint endpoint, byte[]? serverKey = null, ReadOnlyMemory<byte> earlyData = default)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(endpoint);
        var noise = await ChatWire.Protocol.Noise.NoiseClientStream.ConnectAsync(
            tcp.GetStream(),
            new ChatWire.Protocol.Noise.NoiseClientOptions { ServerStaticKey = serverKey, EarlyData = earlyData });
        return new RawClient(tcp, noise);
    }

    /// <summary>Connects to <paramref name="server"/> over <paramref name="transport"/>, pinning its certificate or Noise key.</summary>
    public static Task<RawClient> ConnectAsync(TestServer server, WireTransport transport) => transport switch
    {
        WireTransport.Tcp => ConnectAsync(server),
        WireTransport.Tls => ConnectTlsAsync(server, System.Security.Authentication.SslProtocols.Tls13),
        WireTransport.Noise => ConnectNoiseAsync(server.NoiseEndPoint, server.NoisePublicKey),
        _ => throw new ArgumentOutOfRangeException(nameof(transport)),
    };

    /// <summary>Connects over <paramref name="transport"/>, says HELLO and AUTH as <paramref name="user"/>, and checks AUTH_OK.</summary>
    public static async Task<RawClient> ConnectAuthenticatedAsync(TestUser user, WireTransport transport)
    {
        var client = await ConnectAsync(user.Server, transport);
        await client.HandshakeAsync(user.Token, user.DeviceId);
        return client;
    }

    /// <summary>Connects to the TLS listener, pinning the development certificate the server generated in its data directory.</summary>
    public static Task<RawClient> ConnectTlsAsync(TestServer server, System.Security.Authentication.SslProtocols protocols) =>
        ConnectTlsAsync(server.TlsEndPoint, Path.Combine(server.DataDirectory, "dev-certificate.pfx"), protocols);

    /// <summary>Connects to a TLS listener, pinning the certificate in <paramref name="certificatePath"/>.</summary>
    public static async Task<RawClient> ConnectTlsAsync(System.Net.IPEndPoint endpoint, string certificatePath, System.Security.Authentication.SslProtocols protocols = System.Security.Authentication.SslProtocols.Tls13)
    {
        using var pinned = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12FromFile(certificatePath, password: null);
        var expected = pinned.GetCertHashString();
        var tcp = new TcpClient();
        await tcp.ConnectAsync(endpoint);
        var tls = new System.Net.Security.SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, (_, certificate, _, _) => certificate?.GetCertHashString() == expected);
        await tls.AuthenticateAsClientAsync(new System.Net.Security.SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            EnabledSslProtocols = protocols,
        });
        return new RawClient(tcp, tls);
    }

    /// <summary>
    /// Connects to the listener of the server's <see cref="TestServer.Wire"/> (plain TCP unless a parameterised test
    /// chose another), or to the plain TCP listener from <paramref name="source"/> (another loopback address, say).
    /// </summary>
    public static async Task<RawClient> ConnectAsync(TestServer server, System.Net.IPAddress? source = null)
    {
        if (source is null && server.Wire != WireTransport.Tcp)
        {
            return await ConnectAsync(server, server.Wire);
        }

        var tcp = source is null ? new TcpClient() : new TcpClient(new System.Net.IPEndPoint(source, 0));
        await tcp.ConnectAsync(server.TcpEndPoint);
        return new RawClient(tcp);
    }

    /// <summary>Connects to a plain TCP listener (a child gateway's, say), from <paramref name="source"/> when given.</summary>
    public static async Task<RawClient> ConnectAsync(System.Net.IPEndPoint endpoint, System.Net.IPAddress? source = null)
    {
        var tcp = source is null ? new TcpClient() : new TcpClient(new System.Net.IPEndPoint(source, 0));
        await tcp.ConnectAsync(endpoint);
        return new RawClient(tcp);
    }

    /// <summary>Connects, says HELLO and AUTH as <paramref name="user"/>, and checks AUTH_OK.</summary>
    public static async Task<RawClient> ConnectAuthenticatedAsync(TestUser user, System.Net.IPAddress? source = null)
    {
        var client = await ConnectAsync(user.Server, source);
        await client.HandshakeAsync(user.Token, user.DeviceId);
        return client;
    }

    public uint NextRequestId() => _nextRequestId++;

    /// <summary>Drops the connection as a dying device would: a TCP reset, with whatever was in flight lost.</summary>
    public void Reset()
    {
        _tcp.Client.LingerState = new LingerOption(enable: true, seconds: 0);
        _tcp.Client.Close();
    }

    public async Task<Welcome> HelloAsync()
    {
        await SendAsync(new Hello(NextRequestId(), ProtocolLimits.CurrentVersion, "raw-test", []));
        return await ExpectAsync<Welcome>();
    }

    public async Task<AuthOk> HandshakeAsync(string token, Guid deviceId)
    {
        await HelloAsync();
        await SendAsync(new Auth(NextRequestId(), token, deviceId));
        return await ExpectAsync<AuthOk>();
    }

    public async Task SendAsync<T>(T frame)
        where T : struct, IFrame<T>
    {
        _scratch.ResetWrittenCount();
        FrameCodec.Write(_scratch, frame);
        await _stream.WriteAsync(_scratch.WrittenMemory);
    }

    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes) => await _stream.WriteAsync(bytes);

    /// <summary>Writes bytes straight to the socket, under any TLS or Noise layer (to forge or replay records).</summary>
    public async Task SendUnderneathAsync(ReadOnlyMemory<byte> bytes) => await Network.WriteAsync(bytes);

    /// <summary>
    /// Reads the socket itself (under any TLS or Noise layer) until the server closes it: how many bytes came before
    /// the close. Fails when the connection is still open after <paramref name="wait"/>.
    /// </summary>
    public async Task<int> ReadUnderneathUntilClosedAsync(TimeSpan wait)
    {
        using var timeout = new CancellationTokenSource(wait);
        var buffer = new byte[4096];
        var total = 0;
        try
        {
            while (true)
            {
                var read = await Network.ReadAsync(buffer, timeout.Token);
                if (read == 0)
                {
                    return total;
                }

                total += read;
            }
        }
        catch (IOException)
        {
            return total;
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"The connection was still open after {wait.TotalSeconds} s ({total} bytes received).");
        }
    }

    /// <summary>Half-closes the socket: the server reads end of stream.</summary>
    public void ShutdownSend()
    {
        _ = Network;
        _tcp.Client.Shutdown(SocketShutdown.Send);
    }

    // The socket's own stream, fetched once: TcpClient refuses GetStream after a half-close.
    private NetworkStream Network => _network ??= _tcp.GetStream();

    public async Task<SendAck> SendTextAsync(Guid conversationId, string text, Guid? messageId = null)
    {
        var id = NextRequestId();
        await SendAsync(new Send(id, conversationId, messageId ?? Guid.CreateVersion7(), "text/plain", System.Text.Encoding.UTF8.GetBytes(text)));
        var ack = await ExpectAsync<SendAck>();
        Assert.Equal(id, ack.RequestId);
        return ack;
    }

    /// <summary>The next frame's header and body; null when the server closed the connection.</summary>
    public async Task<(FrameHeader Header, byte[] Body)?> ReadFrameAsync(TimeSpan? wait = null)
    {
        using var timeout = new CancellationTokenSource(wait ?? DefaultWait);
        while (true)
        {
            var sequence = new ReadOnlySequence<byte>(_buffer, 0, _buffered);
            if (FrameReader.TryReadFrame(ref sequence, uint.MaxValue, out var body))
            {
                var bytes = body.ToArray();
                var consumed = _buffered - (int)sequence.Length;
                Buffer.BlockCopy(_buffer, consumed, _buffer, 0, _buffered - consumed);
                _buffered -= consumed;
                var reader = new MessagePackReader(bytes);
                return (FrameCodec.ReadHeader(ref reader), bytes);
            }

            if (_buffered == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            int read;
            try
            {
                read = await _stream.ReadAsync(_buffer.AsMemory(_buffered), timeout.Token);
            }
            catch (IOException)
            {
                return null;
            }

            if (read == 0)
            {
                return null;
            }

            _buffered += read;
        }
    }

    /// <summary>
    /// The first frame of type <typeparamref name="T"/>, failing on ERROR or close. Frames of other types read
    /// on the way (events arriving before an answer, say) are kept, in order, for a later Expect; PINGs are
    /// dropped.
    /// </summary>
    public async Task<T> ExpectAsync<T>(TimeSpan? wait = null)
        where T : struct, IFrame<T>
    {
        var limits = ProtocolLimits.Default with { MaxContentLength = int.MaxValue, MaxFrameLength = uint.MaxValue };
        for (var node = _kept.First; node is not null; node = node.Next)
        {
            if (node.Value.Header.OpcodeValue == (uint)T.Opcode)
            {
                _kept.Remove(node);
                return FrameCodec.Decode<T>(new ReadOnlySequence<byte>(node.Value.Body), limits);
            }
        }

        while (true)
        {
            var frame = await ReadFrameAsync(wait) ?? throw new Xunit.Sdk.XunitException($"Connection closed while waiting for {T.Opcode}.");
            if (frame.Header.OpcodeValue == (uint)T.Opcode)
            {
                return FrameCodec.Decode<T>(new ReadOnlySequence<byte>(frame.Body), limits);
            }

            if (frame.Header.OpcodeValue == (uint)Opcode.Error)
            {
                var error = FrameCodec.Decode<ErrorFrame>(new ReadOnlySequence<byte>(frame.Body), ProtocolLimits.Default);
                throw new Xunit.Sdk.XunitException($"Expected {T.Opcode}, got ERROR {error.Name}: {error.Message}");
            }

            if (frame.Header.OpcodeValue != (uint)Opcode.Ping)
            {
                _kept.AddLast(frame);
            }
        }
    }

    /// <summary>Reads frames until an EVENT carrying a message; skips other kinds of event, PING and answers.</summary>
    public async Task<ConversationEvent> ExpectMessageAsync(TimeSpan? wait = null)
    {
        while (true)
        {
            var e = (await ExpectAsync<EventFrame>(wait)).Event;
            if (e.Kind == EventKind.Message)
            {
                return e;
            }
        }
    }

    /// <summary>
    /// Reads frames until the next EVENT of one conversation; skips events of others (a team channel's join that
    /// was committed before this connection registered may still be fanned out to it).
    /// </summary>
    public async Task<ConversationEvent> ExpectEventInAsync(Guid conversationId, TimeSpan? wait = null) =>
        await ExpectEventInAsync(conversationId, afterSeq: 0, wait);

    /// <summary>
    /// Reads frames until the next EVENT of one conversation above a seq, as a client with that watermark would:
    /// an event committed before this connection authenticated (a join made over HTTP just before, say) may
    /// still be delivered to it live, and is passed over.
    /// </summary>
    public async Task<ConversationEvent> ExpectEventInAsync(Guid conversationId, ulong afterSeq, TimeSpan? wait = null)
    {
        while (true)
        {
            var e = (await ExpectAsync<EventFrame>(wait)).Event;
            if (e.ConversationId == conversationId && e.Seq > afterSeq)
            {
                return e;
            }
        }
    }

    /// <summary>Reads frames until the next EVENT; fails on ERROR or close.</summary>
    public async Task<ConversationEvent> ExpectEventAsync(TimeSpan? wait = null) => (await ExpectAsync<EventFrame>(wait)).Event;

    /// <summary>Reads frames until an ERROR (kept frames first); skips PING and events.</summary>
    /// <summary>Sends a text SEND and reads its answer, SEND_ACK or ERROR; other frames are kept for later.</summary>
    public async Task<(SendAck? Ack, ErrorFrame? Error)> TrySendTextAsync(Guid conversationId, string text, TimeSpan? wait = null)
    {
        var id = NextRequestId();
        await SendAsync(new Send(id, conversationId, Guid.CreateVersion7(), "text/plain", System.Text.Encoding.UTF8.GetBytes(text)));
        while (true)
        {
            var frame = await ReadFrameAsync(wait) ?? throw new Xunit.Sdk.XunitException("Connection closed while waiting for the SEND's answer.");
            if (frame.Header.OpcodeValue == (uint)Opcode.SendAck && FrameCodec.Decode<SendAck>(new ReadOnlySequence<byte>(frame.Body), ProtocolLimits.Default) is var ack && ack.RequestId == id)
            {
                return (ack, null);
            }

            if (frame.Header.OpcodeValue == (uint)Opcode.Error && FrameCodec.Decode<ErrorFrame>(new ReadOnlySequence<byte>(frame.Body), ProtocolLimits.Default) is var error && error.RequestId == id)
            {
                return (null, error);
            }

            if (frame.Header.OpcodeValue != (uint)Opcode.Ping)
            {
                _kept.AddLast(frame);
            }
        }
    }

    public async Task<ErrorFrame> ExpectErrorAsync(TimeSpan? wait = null)
    {
        for (var node = _kept.First; node is not null; node = node.Next)
        {
            if (node.Value.Header.OpcodeValue == (uint)Opcode.Error)
            {
                _kept.Remove(node);
                return FrameCodec.Decode<ErrorFrame>(new ReadOnlySequence<byte>(node.Value.Body), ProtocolLimits.Default);
            }
        }

        while (true)
        {
            var frame = await ReadFrameAsync(wait) ?? throw new Xunit.Sdk.XunitException("Connection closed while waiting for ERROR.");
            if (frame.Header.OpcodeValue == (uint)Opcode.Error)
            {
                return FrameCodec.Decode<ErrorFrame>(new ReadOnlySequence<byte>(frame.Body), ProtocolLimits.Default);
            }
        }
    }

    /// <summary>Asserts the server closes the connection (after any frames it still sends) within the wait.</summary>
    public async Task ExpectClosedAsync(TimeSpan? wait = null)
    {
        var frames = 0;
        try
        {
            while (await ReadFrameAsync(wait) is not null)
            {
                frames++;
            }
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException(
                $"The server had not closed the connection after {(wait ?? DefaultWait).TotalSeconds} s with nothing more to read ({frames} frames read while waiting, {_buffered} bytes of a partial frame buffered).");
        }
    }

    /// <summary>Asserts no frame other than PING arrives within <paramref name="wait"/>.</summary>
    public async Task ExpectSilenceAsync(TimeSpan wait)
    {
        try
        {
            while (true)
            {
                var frame = await ReadFrameAsync(wait);
                Assert.NotNull(frame);
                Assert.Equal((uint)Opcode.Ping, frame.Value.Header.OpcodeValue);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }
}
