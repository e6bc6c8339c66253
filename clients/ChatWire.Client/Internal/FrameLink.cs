using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Protocol.Noise;
using MessagePack;

namespace ChatWire.Client.Internal;

// One physical connection: socket, optional TLS or Noise, pipes, the HELLO/AUTH handshake, framed reads and
// locked writes. ChatWireConnection owns one at a time and replaces it on reconnect.
internal sealed class FrameLink : IAsyncDisposable
{
    // A WELCOME may announce any u32; the client still refuses to buffer more than this per frame.
    private const uint ClientFrameCeiling = 64 * 1024 * 1024;

    private static readonly TimeSpan DisposeWriteWait = TimeSpan.FromSeconds(5);

    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly CancellationTokenSource _lifetime = new();
    private uint _maxInboundFrameLength = ProtocolLimits.DefaultMaxPreAuthFrameLength;
    private long _lastWriteTicks = Environment.TickCount64;
    private long _lastReadTicks = Environment.TickCount64;
    private Exception? _abortReason;
    private int _closed;
    private int _disposed;

    private FrameLink(Socket socket, Stream stream)
    {
        _socket = socket;
        _stream = stream;
        _input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        _output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
    }

    public ProtocolLimits Limits { get; private set; } = ProtocolLimits.Default;

    public TimeSpan HeartbeatInterval { get; private set; } = Timeout.InfiniteTimeSpan;

    public Guid UserId { get; private set; }

    public Guid DeviceId { get; private set; }

    // The code of the ERROR with request id 0 the server sent before closing, if any.
    public ErrorCode? CloseCode { get; set; }

    // Set when the server sent GO_AWAY (it drains): the client left on its own, and reconnects at once elsewhere.
    public bool MovedAway { get; set; }

    public CancellationToken Lifetime => _lifetime.Token;

    public ChatWireTransport Transport { get; private set; }

    // Noise only: the handshake pattern, the key the server proved, and the key it rotated away from (pin moved).
    public NoisePattern? NoisePattern { get; private set; }

    public ReadOnlyMemory<byte>? NoiseServerKey { get; private set; }

    public byte[]? NoiseRotatedFrom { get; private set; }

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    public Exception? AbortReason => Volatile.Read(ref _abortReason);

    public TimeSpan SinceLastWrite => TimeSpan.FromMilliseconds(Environment.TickCount64 - Volatile.Read(ref _lastWriteTicks));

    public TimeSpan SinceLastRead => TimeSpan.FromMilliseconds(Environment.TickCount64 - Volatile.Read(ref _lastReadTicks));

    // trust: the connection's Noise key trust, shared by its links (used only when the transport is Noise).
    public static async Task<FrameLink> OpenAsync(ChatWireConnectionOptions options, NoiseTrust trust, Func<uint> nextRequestId, CancellationToken cancellationToken)
    {
        if (options.Transport == ChatWireTransport.Tcp && !options.AllowPlaintext && !ChatWireConnectionOptions.IsLoopback(options.Host))
        {
            throw new InvalidOperationException(
                $"Refusing plain TCP to {options.Host}: the session token and messages would cross the network in the clear. "
                + "Connect with TLS or Noise (Transport), or set AllowPlaintext when that is meant.");
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(options.ConnectTimeout);
        var hello = new Hello(nextRequestId(), ProtocolLimits.CurrentVersion, options.ClientName, options.Capabilities);
        Socket? socket = null;
        Stream? stream = null;
        FrameLink? link = null;
        try
        {
            var helloSent = false;
            NoiseOpened? noise = null;
            if (options.Transport == ChatWireTransport.Noise)
            {
                noise = await NoiseConnector.ConnectAsync(options, trust, hello, deadline.Token).ConfigureAwait(false);
                (socket, stream, helloSent) = (noise.Value.Socket, noise.Value.Stream, noise.Value.HelloSent);
            }
            else
            {
                socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(options.Host, options.Port, deadline.Token).ConfigureAwait(false);
                stream = new NetworkStream(socket, ownsSocket: true);
                if (options.Transport == ChatWireTransport.Tls)
                {
                    stream = await AuthenticateTlsAsync(stream, options, deadline.Token).ConfigureAwait(false);
                }
            }

            link = new FrameLink(socket, stream) { Transport = options.Transport };
            if (noise is { } opened)
            {
                link.NoisePattern = opened.Stream.Pattern;
                link.NoiseServerKey = opened.Stream.AnnouncedServerKey ?? opened.Stream.ServerStaticKey;
                link.NoiseRotatedFrom = opened.RotatedFrom;
            }

            await link.HandshakeAsync(options, hello, helloSent, nextRequestId, deadline.Token).ConfigureAwait(false);
            return link;
        }
        catch (Exception ex)
        {
            if (link is not null)
            {
                await link.DisposeAsync().ConfigureAwait(false);
            }
            else if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                socket?.Dispose();
            }

            if (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"Connecting to {options.Host}:{options.Port} took longer than {options.ConnectTimeout.TotalSeconds:0.#} s.", ex);
            }

            throw;
        }
    }

    public async Task WriteAsync<T>(T frame, CancellationToken cancellationToken)
        where T : struct, IFrame<T>
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfClosed();
            FrameCodec.Write(_output, frame);
            Volatile.Write(ref _lastWriteTicks, Environment.TickCount64);

            // Only the link's lifetime cancels a flush: a caller giving up half-way through a frame would
            // leave a torn frame on the stream.
            FlushResult result;
            try
            {
                result = await _output.FlushAsync(_lifetime.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
                throw Lost(ex);
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                throw Lost(null);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    // The next frame, or null when the server closed the stream cleanly between frames.
    public async ValueTask<InboundFrame?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            bool complete;
            try
            {
                complete = FrameReader.TryReadFrame(ref buffer, _maxInboundFrameLength, out var body);
                if (complete)
                {
                    var frame = Decode(body);
                    Volatile.Write(ref _lastReadTicks, Environment.TickCount64);
                    _input.AdvanceTo(buffer.Start);
                    return frame;
                }
            }
            catch (ProtocolException)
            {
                _input.AdvanceTo(buffer.Start, buffer.End);
                throw;
            }

            Volatile.Write(ref _lastReadTicks, Environment.TickCount64);
            _input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                if (!buffer.IsEmpty)
                {
                    throw new IOException($"The server closed the connection in the middle of a frame ({buffer.Length} bytes unread).");
                }

                return null;
            }

            if (result.IsCanceled)
            {
                throw Lost(null);
            }
        }
    }

    // Marks the link dead and wakes every pending read and flush; the first reason given wins.
    public void Abort(Exception reason)
    {
        Interlocked.CompareExchange(ref _abortReason, reason, null);
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            try
            {
                _lifetime.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // Disposed concurrently: already dead.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Abort(new ObjectDisposedException(nameof(FrameLink)));
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Closing the socket unblocks any send or receive still in the kernel. What is still buffered for
        // it can no longer be sent, so completing the pipes is best effort: disposal never throws, or a
        // link that dropped with SENDs buffered would stop the supervisor instead of reconnecting.
        _socket.Dispose();
        if (await _writeLock.WaitAsync(DisposeWriteWait).ConfigureAwait(false))
        {
            await BestEffortAsync(_output.CompleteAsync()).ConfigureAwait(false);
            _writeLock.Release();
        }

        await BestEffortAsync(_input.CompleteAsync()).ConfigureAwait(false);
        await BestEffortAsync(_stream.DisposeAsync()).ConfigureAwait(false);
        _lifetime.Dispose();
    }

    private static async Task<Stream> AuthenticateTlsAsync(Stream inner, ChatWireConnectionOptions options, CancellationToken cancellationToken)
    {
        var tls = new SslStream(inner, leaveInnerStreamOpen: false);
        try
        {
            // TLS 1.2 and 1.3 only, as the server (docs/protocol.md §1.1).
            var authentication = new SslClientAuthenticationOptions
            {
                TargetHost = options.TlsTargetHost ?? options.Host,
                EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                RemoteCertificateValidationCallback = CertificateValidation.Create(options),

                // docs/protocol.md §1: the TLS listener speaks ALPN "chatwire/1".
                ApplicationProtocols = [new SslApplicationProtocol("chatwire/1")],
            };
            await tls.AuthenticateAsClientAsync(authentication, cancellationToken).ConfigureAwait(false);
            return tls;
        }
        catch
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    // helloSent: HELLO already went as Noise early data (IK), so WELCOME is what comes first.
    private async Task HandshakeAsync(ChatWireConnectionOptions options, Hello hello, bool helloSent, Func<uint> nextRequestId, CancellationToken cancellationToken)
    {
        if (!helloSent)
        {
            await WriteAsync(hello, cancellationToken).ConfigureAwait(false);
        }

        var welcome = await ReadHandshakeReplyAsync<Welcome>(hello.RequestId, cancellationToken).ConfigureAwait(false);
        if (welcome.ProtocolVersion != ProtocolLimits.CurrentVersion)
        {
            throw new ChatWireException(
                ErrorCode.UnsupportedVersion,
                $"The server chose protocol version {welcome.ProtocolVersion}; this client speaks {ProtocolLimits.CurrentVersion}.");
        }

        // The server's post-AUTH limits bound what this client reads and sends from now on.
        var maxFrame = Math.Min(welcome.MaxFrameLength, ClientFrameCeiling);
        Limits = ProtocolLimits.Default with
        {
            MaxFrameLength = maxFrame,
            MaxContentLength = (int)Math.Min(welcome.MaxContentLength, maxFrame),
        };
        HeartbeatInterval = options.HeartbeatInterval
            ?? (welcome.HeartbeatIntervalMs == 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(welcome.HeartbeatIntervalMs));

        var authId = nextRequestId();
        await WriteAsync(new Auth(authId, options.SessionToken, options.DeviceId), cancellationToken).ConfigureAwait(false);
        var authOk = await ReadHandshakeReplyAsync<AuthOk>(authId, cancellationToken).ConfigureAwait(false);
        UserId = authOk.UserId;
        DeviceId = authOk.DeviceId;
        _maxInboundFrameLength = maxFrame;
    }

    private async Task<T> ReadHandshakeReplyAsync<T>(uint requestId, CancellationToken cancellationToken)
        where T : struct, IFrame<T>
    {
        while (true)
        {
            var next = await ReadFrameAsync(cancellationToken).ConfigureAwait(false)
                ?? throw new IOException($"The server closed the connection while this client waited for {T.Opcode}.");
            var frame = next;
            if (frame.DecodeError is { } error)
            {
                throw new ChatWireException(error.Code, $"The server's {frame.Header.Opcode} could not be decoded: {error.Message}", null, null, null, error);
            }

            switch (frame.Payload)
            {
                case T reply when frame.Header.RequestId == requestId:
                    return reply;
                case ErrorFrame failure:
                    throw new ChatWireException(
                        failure.Code, failure.Message, name: null, httpStatus: null,
                        failure.RetryAfterMs == 0 ? null : TimeSpan.FromMilliseconds(failure.RetryAfterMs), innerException: null);
                case Ping ping:
                    await WriteAsync(new Pong(ping.RequestId), cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    // Anything else before the handshake completes is not addressed to this client's requests.
                    break;
            }
        }
    }

    private InboundFrame Decode(ReadOnlySequence<byte> body)
    {
        var reader = new MessagePackReader(body);
        FrameHeader header;
        try
        {
            header = FrameCodec.ReadHeader(ref reader);
        }
        catch (ProtocolException ex)
        {
            return new InboundFrame(default, null, ex);
        }

        try
        {
            object? payload = !header.IsKnown ? null : header.Opcode switch
            {
                Opcode.Welcome => FrameCodec.ReadBody<Welcome>(ref reader, header, Limits),
                Opcode.AuthOk => FrameCodec.ReadBody<AuthOk>(ref reader, header, Limits),
                Opcode.Ping => FrameCodec.ReadBody<Ping>(ref reader, header, Limits),
                Opcode.Pong => FrameCodec.ReadBody<Pong>(ref reader, header, Limits),
                Opcode.Error => FrameCodec.ReadBody<ErrorFrame>(ref reader, header, Limits),
                Opcode.SendAck => FrameCodec.ReadBody<SendAck>(ref reader, header, Limits),
                Opcode.Event => FrameCodec.ReadBody<EventFrame>(ref reader, header, Limits),
                Opcode.HistoryPage => FrameCodec.ReadBody<HistoryPage>(ref reader, header, Limits),
                Opcode.SyncPage => FrameCodec.ReadBody<SyncPage>(ref reader, header, Limits),
                Opcode.Ok => FrameCodec.ReadBody<Ok>(ref reader, header, Limits),
                Opcode.ReadState => FrameCodec.ReadBody<ReadState>(ref reader, header, Limits),
                Opcode.UserTyping => FrameCodec.ReadBody<UserTyping>(ref reader, header, Limits),
                Opcode.Presence => FrameCodec.ReadBody<PresenceFrame>(ref reader, header, Limits),
                Opcode.GoAway => FrameCodec.ReadBody<GoAway>(ref reader, header, Limits),
                Opcode.KeysChanged => FrameCodec.ReadBody<KeysChanged>(ref reader, header, Limits),
                _ => null,
            };
            return new InboundFrame(header, payload, null);
        }
        catch (ProtocolException ex)
        {
            return new InboundFrame(header, null, ex);
        }
    }

    private void ThrowIfClosed()
    {
        if (IsClosed)
        {
            throw Lost(null);
        }
    }

    private IOException Lost(Exception? cause) =>
        new("The connection to the server was lost.", AbortReason ?? cause);

    private static async ValueTask BestEffortAsync(ValueTask pending)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or System.Net.Sockets.SocketException or OperationCanceledException)
        {
        }
    }
}
