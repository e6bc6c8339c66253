using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using ChatWire.Protocol.Noise;

namespace ChatWire.Benchmarks;

/// <summary>
/// The Noise transport core (protocol/Noise): a whole XX handshake (both sides in one process, three messages, with
/// Split), and one 1 KiB transport record encrypted and decrypted through the record layer. The baseline seals and
/// opens the same 1 KiB with one long-lived BCL <see cref="AesGcm"/>, the per-connection object the Noise transport
/// avoids (1.16 KB of native state each), so the ratio shows what calling libsodium statelessly per record costs.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class NoiseBenchmarks : IDisposable
{
    /// <summary>Plaintext bytes per transport record in the record benchmarks.</summary>
    public const int RecordPayload = 1024;

    private readonly byte[] _plaintext = RandomNumberGenerator.GetBytes(RecordPayload);
    private readonly byte[] _record = new byte[RecordPayload + 64];
    private readonly byte[] _decrypted = new byte[NoiseTransport.MaxRecordPayload];
    private readonly byte[] _message = new byte[512];
    private readonly byte[] _payload = new byte[512];
    private readonly byte[] _nonce = new byte[12];
    private readonly byte[] _tag = new byte[16];
    private NoiseKeyPair _clientStatic = null!;
    private NoiseKeyPair _serverStatic = null!;
    private NoiseTransport _client = null!;
    private NoiseTransport _server = null!;
    private AesGcm _aes = null!;

    [GlobalSetup]
    public void Setup()
    {
        _clientStatic = NoiseKeyPair.Generate();
        _serverStatic = NoiseKeyPair.Generate();
        (_client, _server) = NoiseFixture.Connect(_clientStatic, _serverStatic, _message, _payload);
        _aes = new AesGcm(RandomNumberGenerator.GetBytes(32), 16);

        // The record benchmark only means something if the record decrypts to what was sent.
        if (NoiseRecord1KiB() != RecordPayload || !_decrypted.AsSpan(0, RecordPayload).SequenceEqual(_plaintext))
        {
            throw new InvalidOperationException("The Noise record did not round-trip.");
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
            _client?.Dispose();
            _server?.Dispose();
            _clientStatic?.Dispose();
            _serverStatic?.Dispose();
            _aes?.Dispose();
        }
    }

    [Benchmark(Baseline = true)]
    public int BclAesGcmSealOpen1KiB()
    {
        // A fixed nonce is fine for a benchmark that never sends the ciphertext anywhere.
        _aes.Encrypt(_nonce, _plaintext, _record.AsSpan(0, RecordPayload), _tag);
        _aes.Decrypt(_nonce, _record.AsSpan(0, RecordPayload), _tag, _decrypted.AsSpan(0, RecordPayload));
        return RecordPayload;
    }

    [Benchmark]
    public int NoiseRecord1KiB()
    {
        var length = _client.Encode(_plaintext, _record);
        _server.TryDecode(_record.AsSpan(0, length), _decrypted, out _, out var written);
        return written;
    }

    [Benchmark]
    public int XxHandshake()
    {
        var (client, server) = NoiseFixture.Connect(_clientStatic, _serverStatic, _message, _payload);
        client.Dispose();
        server.Dispose();
        return 3;
    }
}

/// <summary>A client and a server Noise XX handshake run to completion in memory, as the benchmarks need it.</summary>
internal static class NoiseFixture
{
    private static readonly byte[] Prologue = "ChatWire benchmark"u8.ToArray();

    public static (NoiseTransport Client, NoiseTransport Server) Connect(NoiseKeyPair clientStatic, NoiseKeyPair serverStatic, byte[] message, byte[] payload)
    {
        using var client = HandshakeState.Create(NoisePattern.XX, true, Prologue, clientStatic);
        using var server = HandshakeState.Create(NoisePattern.XX, false, Prologue, serverStatic);
        var length = client.WriteMessage([], message);
        server.ReadMessage(message.AsSpan(0, length), payload);
        length = server.WriteMessage([], message);
        client.ReadMessage(message.AsSpan(0, length), payload);
        length = client.WriteMessage([], message);
        server.ReadMessage(message.AsSpan(0, length), payload);
        var (clientSend, clientReceive) = client.Split();
        var (serverSend, serverReceive) = server.Split();
        return (new NoiseTransport(clientSend, clientReceive), new NoiseTransport(serverSend, serverReceive));
    }
}
