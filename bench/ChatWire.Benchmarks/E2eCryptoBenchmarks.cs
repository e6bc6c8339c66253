using System.Text;
using BenchmarkDotNet.Attributes;
using ChatWire.Crypto;

namespace ChatWire.Benchmarks;

/// <summary>
/// The client-side cost of end-to-end encryption (clients/ChatWire.Crypto): one 200-byte message encrypted and signed
/// on its sender chain, the same envelope verified and decrypted, and what a member removal costs a sender in a
/// 1,000-member history-mode conversation (a new chain, its seed sealed to every member's history key). The baseline
/// is the bare AES-256-GCM seal of the padded message (256 bytes), so the ratios show what the envelope, the key
/// schedule and the Ed25519 signature add.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class E2eCryptoBenchmarks
{
    /// <summary>Members sealed to in <see cref="MemberRemovalSeal1000"/> (the conversation's max_sender_chain_members).</summary>
    public const int Members = 1000;

    private static readonly Guid Conversation = Guid.Parse("01936f3d-0000-7000-8000-0000000c0001");
    private static readonly Guid SenderUser = Guid.Parse("01936f3c-0000-7000-8000-00000000a11c");
    private static readonly Guid SenderDevice = Guid.Parse("01936f3c-0001-7000-8000-00000000a001");

    private readonly byte[] _plaintext = Encoding.UTF8.GetBytes(new string('x', 200));
    private readonly byte[] _key = new byte[32];
    private readonly byte[] _nonce = new byte[12];
    private readonly byte[] _padded = new byte[256];
    private OutboundChain _outbound = null!;
    private EnvelopeHeader _template = null!;
    private SeedPayload _seed = null!;
    private byte[] _envelope = [];
    private DeviceKeys _senderKeys = null!;
    private (Guid User, byte[] HistoryPublic)[] _members = [];

    [GlobalSetup]
    public void Setup()
    {
        _outbound = OutboundChain.Start(Conversation, 1, SenderUser, SenderDevice, 0);
        _seed = _outbound.Seed();
        _template = new EnvelopeHeader
        {
            ContentType = EnvelopeContentType.Message,
            ConversationId = Conversation,
            MessageId = Guid.CreateVersion7(),
            SenderUserId = SenderUser,
            SenderDeviceId = SenderDevice,
            Epoch = 1,
            ChainId = _outbound.ChainId,
            Iteration = 0,
            ClientTimestampMs = 0,
            Nonce = new byte[12],
        };
        _envelope = MessageCipher.Encrypt(_outbound, _template, _plaintext);
        _senderKeys = DeviceKeys.Generate();
        _members = [.. Enumerable.Range(0, Members).Select(_ => (Guid.CreateVersion7(), HistoryKey.Generate(1).PublicKey))];

        // The decrypt benchmark only means something if the envelope decrypts.
        if (!VerifyAndDecrypt().Succeeded)
        {
            throw new InvalidOperationException("The benchmark envelope does not decrypt.");
        }

        var sealedBytes = MemberRemovalSeal1000();
        Console.WriteLine($"// {Members} history-mode seals: {sealedBytes} bytes sealed ({sealedBytes / Members} per member), envelope of a 200-byte message: {_envelope.Length} bytes");
    }

    [Benchmark(Baseline = true)]
    public byte[] AesGcmSealOnly() => Primitives.Seal(_key, _nonce, [], _padded);

    /// <summary>Pad, derive the message key, encrypt, sign with SigK and assemble; the chain advances one step per call.</summary>
    [Benchmark]
    public byte[] EncryptAndSign() => MessageCipher.Encrypt(_outbound, _template, _plaintext);

    /// <summary>
    /// Parse, verify SigK's signature, derive the key and decrypt. A chain accepts an iteration once, so each call
    /// starts from the seed (a copy of two 32-byte keys), as a receiver does for the first message of a chain.
    /// </summary>
    [Benchmark]
    public DecryptResult VerifyAndDecrypt()
    {
        var chain = InboundChain.FromSeed(_seed);
        return MessageCipher.Decrypt(_envelope, Conversation, SenderUser, id => id == chain.ChainId ? chain : null, _ => false, out _);
    }

    /// <summary>A member removal as one sender pays it: a new chain, its seed sealed to each remaining member's history key. Returns the sealed bytes.</summary>
    [Benchmark]
    public long MemberRemovalSeal1000()
    {
        var chain = OutboundChain.Start(Conversation, 2, SenderUser, SenderDevice, 0);
        var seed = chain.Seed();
        long bytes = 0;
        foreach (var (user, historyPublic) in _members)
        {
            bytes += SeedSeal.SealToHistoryKey(seed, user, 1, historyPublic, _senderKeys).Length;
        }

        return bytes;
    }
}
