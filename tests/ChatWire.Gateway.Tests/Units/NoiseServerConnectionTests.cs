using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using ChatWire.Gateway.Noise;
using ChatWire.Gateway.Observability;
using ChatWire.Protocol.Noise;
using Microsoft.AspNetCore.Connections;

namespace ChatWire.Gateway.Tests.Units;

// The server's Noise layer over a real loopback socket, with the counters started near their ends: nonce
// exhaustion (docs/protocol.md §8.5) closes the connection in either direction, and the rekey boundary passes.
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Disposed in DisposeAsync (IAsyncLifetime).")]
public sealed class NoiseServerConnectionTests : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "chatwire-noise-unit-" + Guid.NewGuid().ToString("N"));
    private NoiseServerKeys _keys = null!;
    private TcpListener _listener = null!;
    private TcpClient _clientSocket = null!;
    private Socket _serverSocket = null!;
    private NoiseServerConnection _server = null!;
    private NoiseClientStream _client = null!;

    public async Task InitializeAsync()
    {
        _keys = NoiseServerKeys.LoadOrCreate(Path.Combine(_directory, "noise-key.json"), TimeSpan.FromDays(1), out _);
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _clientSocket = new TcpClient();
        await _clientSocket.ConnectAsync((IPEndPoint)_listener.LocalEndpoint);
        _serverSocket = await _listener.AcceptSocketAsync();
        var network = new NetworkStream(_serverSocket, ownsSocket: false);
        _server = new NoiseServerConnection(new Duplex(PipeReader.Create(network), PipeWriter.Create(network)), _keys, new GatewayMetrics());

        // The handshake runs inside the server's first read.
        var firstRead = _server.Input.ReadAsync().AsTask();
        _client = await NoiseClientStream.ConnectAsync(_clientSocket.GetStream(), new NoiseClientOptions { ServerStaticKey = _keys.Current.PublicKey.ToArray() });
        await _client.WriteAsync("a"u8.ToArray());
        var result = await firstRead;
        Assert.Equal("a"u8.ToArray(), result.Buffer.ToArray());
        _server.Input.AdvanceTo(result.Buffer.End);
    }

    [Fact]
    public async Task Receive_NonceReachesTheReservedValue_LastRecordReadThenTheConnectionFails()
    {
        _client.Transport.SendCipher.SetNonce(CipherState.ReservedNonce - 1);
        _server.Transport!.ReceiveCipher.SetNonce(CipherState.ReservedNonce - 1);

        await _client.WriteAsync("b"u8.ToArray());
        var last = await _server.Input.ReadAsync();
        Assert.Equal("b"u8.ToArray(), last.Buffer.ToArray());
        _server.Input.AdvanceTo(last.Buffer.End);

        // The client cannot encrypt another record; a peer that sends one anyway (same bytes again) is refused.
        var refused = Assert.Throws<NoiseException>(() => _client.Transport.Encode("c"u8, new byte[64]));
        await _clientSocket.GetStream().WriteAsync((byte[])[0x00, 0x11, .. new byte[17]]);
        var closed = await Assert.ThrowsAsync<ConnectionAbortedException>(async () => await _server.Input.ReadAsync());

        Assert.Equal(NoiseError.NonceExhausted, refused.Error);
        Assert.Equal(NoiseError.NonceExhausted, ((NoiseException)closed.InnerException!).Error);
    }

    [Fact]
    public async Task Send_NonceReachesTheReservedValue_FlushRefusedAndNothingMoreGoesOut()
    {
        _server.Transport!.SendCipher.SetNonce(CipherState.ReservedNonce - 1);
        _client.Transport.ReceiveCipher.SetNonce(CipherState.ReservedNonce - 1);

        await _server.Output.WriteAsync("last"u8.ToArray());
        var buffer = new byte[16];
        var read = await _client.ReadAsync(buffer);
        Assert.Equal("last"u8.ToArray(), buffer[..read]);

        var span = _server.Output.GetSpan(8);
        "one more"u8.CopyTo(span);
        _server.Output.Advance(8);
        var refused = await Assert.ThrowsAsync<ConnectionAbortedException>(async () => await _server.Output.FlushAsync());

        Assert.Equal(NoiseError.NonceExhausted, ((NoiseException)refused.InnerException!).Error);
    }

    [Fact]
    public async Task RekeyBoundary_BothDirectionsCrossIt_StreamContinues()
    {
        _client.Transport.SendCipher.SetNonce(NoiseTransport.RekeyInterval - 1);
        _server.Transport!.ReceiveCipher.SetNonce(NoiseTransport.RekeyInterval - 1);
        _server.Transport.SendCipher.SetNonce(NoiseTransport.RekeyInterval - 1);
        _client.Transport.ReceiveCipher.SetNonce(NoiseTransport.RekeyInterval - 1);

        var received = new List<byte>();
        foreach (var chunk in new[] { "12"u8.ToArray(), "34"u8.ToArray(), "56"u8.ToArray() })
        {
            await _client.WriteAsync(chunk);
            var result = await _server.Input.ReadAsync();
            received.AddRange(result.Buffer.ToArray());
            _server.Input.AdvanceTo(result.Buffer.End);
            await _server.Output.WriteAsync(chunk);
        }

        var echoed = new byte[6];
        await _client.ReadExactlyAsync(echoed);

        Assert.Equal("123456"u8.ToArray(), received.ToArray());
        Assert.Equal("123456"u8.ToArray(), echoed);
        Assert.Equal(NoiseTransport.RekeyInterval + 2, _server.Transport.ReceivedRecords);
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        _serverSocket.Dispose();
        _listener.Stop();
        _clientSocket.Dispose();
        _keys.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input => input;

        public PipeWriter Output => output;
    }
}
