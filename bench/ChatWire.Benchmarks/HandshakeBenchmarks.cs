using System.IO.Pipelines;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BenchmarkDotNet.Attributes;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Protocol.Noise;

namespace ChatWire.Benchmarks;

/// <summary>
/// What a connection's handshake costs in CPU, on one thread, in memory (no sockets): a Noise IK handshake as the
/// ChatWire Noise listener runs it (HELLO in the first message, the server's side alone and both sides), against a
/// TLS 1.3 handshake between two <see cref="SslStream"/>s with the gateway's kind of certificate (ECDSA P-256,
/// self-signed, trusted by thumbprint). Handshakes per second per core are 1 / the mean.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class HandshakeBenchmarks : IDisposable
{
    private readonly byte[] _message = new byte[1024];
    private readonly byte[] _payload = new byte[1024];
    private byte[] _hello = [];
    private byte[] _prologue = [];
    private byte[] _clientFirst = [];
    private NoiseKeyPair _clientStatic = null!;
    private NoiseKeyPair _serverStatic = null!;
    private X509Certificate2 _certificate = null!;
    private string _thumbprint = string.Empty;

    [GlobalSetup]
    public void Setup()
    {
        _clientStatic = NoiseKeyPair.Generate();
        _serverStatic = NoiseKeyPair.Generate();
        _prologue = ChatWireNoise.Prologue(NoisePattern.IK);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        FrameCodec.Write(buffer, new Hello(1, ProtocolLimits.CurrentVersion, "chatwire-cli/0.1.0", ["presence", "typing"]));
        _hello = buffer.WrittenSpan.ToArray();

        // One client first message, replayed to fresh server states: the server side's work alone.
        using var client = HandshakeState.Create(NoisePattern.IK, true, _prologue, _clientStatic, _serverStatic.PublicKey);
        var length = client.WriteMessage(_hello, _message);
        _clientFirst = _message.AsSpan(0, length).ToArray();

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        _certificate = X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), password: null);
        _thumbprint = _certificate.Thumbprint;

        if (IkServerSide() != _hello.Length || IkBothSides() != _hello.Length)
        {
            throw new InvalidOperationException("The IK handshake did not deliver HELLO.");
        }
    }

    [GlobalCleanup]
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            _clientStatic?.Dispose();
            _serverStatic?.Dispose();
            _certificate?.Dispose();
        }
    }

    /// <summary>The server's part of an IK handshake: read the first message (two DH), write the answer (two DH), split.</summary>
    [Benchmark]
    public int IkServerSide()
    {
        using var server = HandshakeState.Create(NoisePattern.IK, false, _prologue, _serverStatic);
        var payload = server.ReadMessage(_clientFirst, _payload);
        server.WriteMessage([], _message);
        var (send, receive) = server.Split();
        send.Dispose();
        receive.Dispose();
        return payload;
    }

    /// <summary>Both sides of an IK handshake, the client's fresh ephemeral key included.</summary>
    [Benchmark]
    public int IkBothSides()
    {
        using var client = HandshakeState.Create(NoisePattern.IK, true, _prologue, _clientStatic, _serverStatic.PublicKey);
        using var server = HandshakeState.Create(NoisePattern.IK, false, _prologue, _serverStatic);
        var length = client.WriteMessage(_hello, _message);
        var payload = server.ReadMessage(_message.AsSpan(0, length), _payload);
        length = server.WriteMessage([], _message);
        client.ReadMessage(_message.AsSpan(0, length), _payload);
        var (a, b) = client.Split();
        var (c, d) = server.Split();
        a.Dispose();
        b.Dispose();
        c.Dispose();
        d.Dispose();
        return payload;
    }

    /// <summary>Both sides of a TLS 1.3 handshake (ECDHE X25519 or P-256, ECDSA P-256 certificate), as OpenSSL does it.</summary>
    [Benchmark(Baseline = true)]
    public async Task<int> Tls13BothSides()
    {
        var toServer = new Pipe();
        var toClient = new Pipe();
        await using var serverStream = new SslStream(new DuplexStream(toServer.Reader, toClient.Writer));
        await using var clientStream = new SslStream(new DuplexStream(toClient.Reader, toServer.Writer), false, (_, certificate, _, _) => certificate is X509Certificate2 c && c.Thumbprint == _thumbprint);
        var server = serverStream.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
        {
            ServerCertificate = _certificate,
            EnabledSslProtocols = SslProtocols.Tls13,
        });
        await clientStream.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost", EnabledSslProtocols = SslProtocols.Tls13 });
        await server;
        return (int)clientStream.SslProtocol;
    }

    // One direction read from a pipe, the other written to another: an in-memory connection for SslStream.
    private sealed class DuplexStream(PipeReader input, PipeWriter output) : Stream
    {
        private readonly Stream _input = input.AsStream();
        private readonly Stream _output = output.AsStream();

        public override bool CanRead => true;

        public override bool CanWrite => true;

        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _input.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _input.ReadAsync(buffer, offset, count, cancellationToken);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => _output.WriteAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _output.WriteAsync(buffer, offset, count, cancellationToken);

        public override Task FlushAsync(CancellationToken cancellationToken) => _output.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => _input.Read(buffer, offset, count);

        public override void Write(byte[] buffer, int offset, int count) => _output.Write(buffer, offset, count);

        public override void Flush() => _output.Flush();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _input.Dispose();
                _output.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
