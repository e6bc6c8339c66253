using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using MessagePack;

namespace ChatWire.LoadHarness;

/// <summary>A lean protocol client: a socket (plain, or under TLS), a receive buffer while it reads, nothing while idle.</summary>
internal sealed class LoadConnection : IDisposable
{
    private static readonly ProtocolLimits ClientLimits = ProtocolLimits.Default with { MaxContentLength = int.MaxValue };

    private readonly Socket _socket;
    private readonly Stream? _secure;
    private byte[] _buffer = [];

    // The unread bytes are _buffer[_start.._end]; frames are read in place and the buffer is compacted only
    // before a receive, not after every frame.
    private int _start;
    private int _end;

    private LoadConnection(Socket socket, Stream? secure)
    {
        _socket = socket;
        _secure = secure;
    }

    /// <summary>
    /// Connects and authenticates; with <paramref name="pinnedCertificate"/> (the raw bytes of the gateway's
    /// certificate), over TLS 1.3 to the gateway's TLS listener, accepting exactly that certificate; with
    /// <paramref name="noiseServerKey"/>, over Noise IK to the Noise listener, HELLO inside the handshake.
    /// </summary>
    /// With <paramref name="timing"/>, records when the TCP connection was made and when AUTH_OK came.
    public static async Task<LoadConnection> ConnectAsync(IPAddress source, IPEndPoint server, string token, Guid deviceId, CancellationToken cancellationToken, byte[]? pinnedCertificate = null, byte[]? noiseServerKey = null, ConnectTiming? timing = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? stream = null;
        var hello = new ArrayBufferWriter<byte>(64);
        FrameCodec.Write(hello, new Hello(1, ProtocolLimits.CurrentVersion, "chatwire-loadharness", []));
        try
        {
            socket.Bind(new IPEndPoint(source, 0));
            await socket.ConnectAsync(server, cancellationToken);
            timing?.Connected = Stopwatch.GetTimestamp();
            if (noiseServerKey is not null)
            {
                stream = await ChatWire.Protocol.Noise.NoiseClientStream.ConnectAsync(
                    new NetworkStream(socket, ownsSocket: true),
                    new ChatWire.Protocol.Noise.NoiseClientOptions { ServerStaticKey = noiseServerKey, EarlyData = hello.WrittenMemory },
                    cancellationToken);
            }
            else if (pinnedCertificate is not null)
            {
                var tls = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
                stream = tls;
                await tls.AuthenticateAsClientAsync(
                    new SslClientAuthenticationOptions
                    {
                        TargetHost = "localhost",
                        EnabledSslProtocols = SslProtocols.Tls13,
                        ApplicationProtocols = [new SslApplicationProtocol("chatwire/1")],
                        RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.GetRawCertData().AsSpan().SequenceEqual(pinnedCertificate),
                    },
                    cancellationToken);
            }

            var connection = new LoadConnection(socket, stream) { _buffer = new byte[4096] };
            var output = new ArrayBufferWriter<byte>(256);
            if (noiseServerKey is null)
            {
                output.Write(hello.WrittenSpan);
            }

            FrameCodec.Write(output, new Auth(2, token, deviceId));
            await connection.SendAsync(output.WrittenMemory, cancellationToken);
            await connection.ExpectAsync(Opcode.Welcome, cancellationToken);
            await connection.ExpectAsync(Opcode.AuthOk, cancellationToken);
            timing?.Authenticated = Stopwatch.GetTimestamp();

            // Idle from here on: drop the receive buffer so the client side stays small too (unless frames
            // pushed after AUTH_OK are already in it).
            if (connection._start == connection._end)
            {
                connection._buffer = [];
                connection._start = connection._end = 0;
            }

            return connection;
        }
        catch
        {
            stream?.Dispose();
            socket.Dispose();
            throw;
        }
    }

    public async Task SendAsync(ReadOnlyMemory<byte> frames, CancellationToken cancellationToken)
    {
        if (_secure is null)
        {
            await _socket.SendAsync(frames, cancellationToken);
        }
        else
        {
            await _secure.WriteAsync(frames, cancellationToken);
        }
    }

    // Every page of SYNC (500 a page), timing each round trip into latencies when given.
    public async IAsyncEnumerable<ConversationState> SyncAsync(ConcurrentBag<double>? latencies)
    {
        var after = Guid.Empty;
        var output = new ArrayBufferWriter<byte>(64);
        for (uint requestId = 100; ; requestId++)
        {
            var sent = Stopwatch.GetTimestamp();
            var page = Decode<SyncPage>(await RequestAsync(output, new Sync(requestId, after, 500), requestId, Opcode.SyncPage));
            latencies?.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
            foreach (var entry in page.Conversations)
            {
                yield return entry;
            }

            if (!page.HasMore || page.Conversations.Count == 0)
            {
                yield break;
            }

            after = page.Conversations[^1].ConversationId;
        }
    }

    /// <summary>Writes <paramref name="frame"/> (through <paramref name="output"/>, reused) and waits for its answer.</summary>
    public async Task<ReadOnlySequence<byte>> RequestAsync<TFrame>(ArrayBufferWriter<byte> output, TFrame frame, uint requestId, Opcode answer)
        where TFrame : struct, IFrame<TFrame>
    {
        output.ResetWrittenCount();
        FrameCodec.Write(output, frame);
        await SendAsync(output.WrittenMemory, CancellationToken.None);
        return await AnswerAsync(requestId, answer);
    }

    // The answer to requestId, skipping pushed frames; an ERROR answer throws.
    public async Task<ReadOnlySequence<byte>> AnswerAsync(uint requestId, Opcode opcode)
    {
        while (true)
        {
            var (header, body) = await ReadFrameAsync(CancellationToken.None);
            if (header.RequestId != requestId)
            {
                continue;
            }

            if (header.OpcodeValue == (uint)Opcode.Error)
            {
                throw new GatewayErrorException(Decode<ErrorFrame>(body));
            }

            if (header.OpcodeValue == (uint)opcode)
            {
                return body;
            }
        }
    }

    /// <summary>Receives whatever bytes have arrived, into <paramref name="buffer"/>; 0 when the gateway closed.</summary>
    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        _secure is null ? _socket.ReceiveAsync(buffer, cancellationToken) : _secure.ReadAsync(buffer, cancellationToken);

    /// <summary>Reads the next frame; returns its header and a copy of its body.</summary>
    public async Task<(FrameHeader Header, ReadOnlySequence<byte> Body)> ReadFrameAsync(CancellationToken cancellationToken)
    {
        var (header, body) = await ReadFrameInPlaceAsync(cancellationToken);
        return (header, new ReadOnlySequence<byte>(body.ToArray()));
    }

    /// <summary>
    /// Reads the next frame without copying it: the body is a slice of the receive buffer, valid only until the next
    /// read on this connection. For the measuring loops, which look at each frame once, so that the client's own
    /// cost per frame (on cores it shares with the gateway) stays small.
    /// </summary>
    public async ValueTask<(FrameHeader Header, ReadOnlySequence<byte> Body)> ReadFrameInPlaceAsync(CancellationToken cancellationToken)
    {
        if (_buffer.Length == 0)
        {
            _buffer = new byte[64 * 1024];
        }

        while (true)
        {
            var sequence = new ReadOnlySequence<byte>(_buffer, _start, _end - _start);
            if (FrameReader.TryReadFrame(ref sequence, uint.MaxValue, out var body))
            {
                _start = _end - (int)sequence.Length;
                return (ReadHeader(body), body);
            }

            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }

            if (_end == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            var read = await ReceiveAsync(_buffer.AsMemory(_end), cancellationToken);
            if (read == 0)
            {
                throw new IOException("The gateway closed the connection.");
            }

            _end += read;
        }
    }

    public static T Decode<T>(ReadOnlySequence<byte> body)
        where T : struct, IFrame<T> => FrameCodec.Decode<T>(body, ClientLimits);

    public void Dispose()
    {
        _secure?.Dispose();
        _socket.Dispose();
    }

    private static FrameHeader ReadHeader(ReadOnlySequence<byte> body)
    {
        var reader = new MessagePackReader(body);
        return FrameCodec.ReadHeader(ref reader);
    }

    private async Task ExpectAsync(Opcode opcode, CancellationToken cancellationToken)
    {
        var (header, body) = await ReadFrameAsync(cancellationToken);
        if (header.OpcodeValue == (uint)Opcode.Error)
        {
            throw new GatewayErrorException(Decode<ErrorFrame>(body));
        }

        if (header.OpcodeValue != (uint)opcode)
        {
            throw new InvalidOperationException($"Expected {opcode}, got opcode {header.OpcodeValue}.");
        }
    }
}

/// <summary>Stopwatch timestamps of one connection's set-up.</summary>
internal sealed class ConnectTiming
{
    /// <summary>When the harness began to connect (set by the caller).</summary>
    public long Started { get; set; }

    public long Connected { get; set; }

    public long Authenticated { get; set; }
}

/// <summary>The gateway answered with ERROR where the harness expected something else.</summary>
internal sealed class GatewayErrorException(ErrorFrame error) : Exception($"Gateway answered {error.Name}: {error.Message}")
{
    public ErrorCode Code { get; } = error.Code;

    public string Name { get; } = error.Name;
}
