using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.Client.Tests.Infrastructure;

// The far end of a real loopback socket, scripted frame by frame with the protocol library: it lets a
// unit test put ChatWireConnection through states a live server rarely shows on demand (a drop between
// two messages, a live message racing a catch-up). It is not a server; the SDK against the real gateway
// is tested in tests/ChatWire.Gateway.Tests.
internal sealed class ScriptedPeer : IAsyncDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly TcpListener _listener;

    private ScriptedPeer(TcpListener listener)
    {
        _listener = listener;
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public static ScriptedPeer Start()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return new ScriptedPeer(listener);
    }

    public ChatWireConnectionOptions Options(ReconnectPolicy? reconnect = null, TimeSpan? heartbeat = null) => new()
    {
        Host = "127.0.0.1",
        Port = Port,
        SessionToken = "token-1",
        DeviceId = PeerLink.DeviceId,
        ClientName = "client-tests",
        Reconnect = reconnect ?? new ReconnectPolicy { BaseDelay = TimeSpan.FromMilliseconds(5), MaxDelay = TimeSpan.FromMilliseconds(20) },
        HeartbeatInterval = heartbeat ?? Timeout.InfiniteTimeSpan,
        ConnectTimeout = Patience,
    };

    public async Task<PeerLink> AcceptAsync(TimeSpan? timeout = null)
    {
        var socket = await _listener.AcceptSocketAsync().WaitAsync(timeout ?? Patience);
        return new PeerLink(socket);
    }

    // The far end of a TLS link: the handshake runs as the server with certificate.
    public async Task<PeerLink> AcceptTlsAsync(X509Certificate2 certificate)
    {
        var socket = await _listener.AcceptSocketAsync().WaitAsync(Patience);
        var tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
        try
        {
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }).WaitAsync(Patience);
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }

        return new PeerLink(socket, tls);
    }

    public static X509Certificate2 CreateCertificate(string subject = "CN=localhost")
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        using var ephemeral = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));

        // Reloaded from PKCS#12 so the private key is usable by SslStream on every platform.
        return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pfx), null);
    }

    public ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Dispose();
        return ValueTask.CompletedTask;
    }
}

internal sealed class PeerLink : IAsyncDisposable
{
    public static readonly Guid UserId = Guid.Parse("0190a0b2-0000-7000-8000-0000000000a1");
    public static readonly Guid DeviceId = Guid.Parse("0190a0b2-0000-7000-8000-0000000000d1");

    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly PipeReader _reader;
    private readonly PipeWriter _writer;

    public PeerLink(Socket socket, Stream? stream = null)
    {
        _socket = socket;
        _stream = stream ?? new NetworkStream(socket, ownsSocket: true);
        _reader = PipeReader.Create(_stream);
        _writer = PipeWriter.Create(_stream);
    }

    public static ChatMessage Message(Guid conversationId, ulong seq, string text = "hi", Guid? messageId = null) => new(
        conversationId,
        messageId ?? Guid.CreateVersion7(),
        seq,
        UserId,
        DeviceId,
        1_700_000_000_000 + (long)seq,
        "text/plain",
        System.Text.Encoding.UTF8.GetBytes(text));

    // Reads HELLO, answers WELCOME, reads AUTH, answers AUTH_OK.
    public async Task<(Hello Hello, Auth Auth)> HandshakeAsync(uint heartbeatMs = 30_000)
    {
        var hello = await ReadAsync<Hello>();
        await WriteAsync(new Welcome(hello.RequestId, ProtocolLimits.CurrentVersion, 262_144, 258_048, heartbeatMs, 10_000, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        var auth = await ReadAsync<Auth>();
        await WriteAsync(new AuthOk(auth.RequestId, UserId, auth.DeviceId));
        return (hello, auth);
    }

    public async Task<(FrameHeader Header, byte[] Body)> ReadFrameAsync()
    {
        using var timeout = new CancellationTokenSource(ScriptedPeer.Patience);
        while (true)
        {
            var result = await _reader.ReadAsync(timeout.Token);
            var buffer = result.Buffer;
            if (FrameReader.TryReadFrame(ref buffer, ProtocolLimits.DefaultMaxFrameLength, out var body))
            {
                var bytes = body.ToArray();
                _reader.AdvanceTo(buffer.Start);
                var reader = new MessagePack.MessagePackReader(bytes);
                return (FrameCodec.ReadHeader(ref reader), bytes);
            }

            _reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                throw new EndOfStreamException("The client closed the connection.");
            }
        }
    }

    public async Task<T> ReadAsync<T>()
        where T : struct, IFrame<T>
    {
        var (header, body) = await ReadFrameAsync();
        Assert.Equal(T.Opcode, header.Opcode);
        return FrameCodec.Decode<T>(new ReadOnlySequence<byte>(body), ProtocolLimits.Default);
    }

    public async Task WriteAsync<T>(T frame)
        where T : struct, IFrame<T>
    {
        FrameCodec.Write(_writer, frame);
        await _writer.FlushAsync();
    }

    // Whether the client closed its side (a read returns end of stream) within the patience.
    public async Task<bool> ClientClosedAsync()
    {
        try
        {
            while (true)
            {
                _ = await ReadFrameAsync();
            }
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already closed by the client.
        }

        await _reader.CompleteAsync();
        await _writer.CompleteAsync();
        await _stream.DisposeAsync();
    }
}
