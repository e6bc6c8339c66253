using Xunit.Abstractions;

namespace ChatWire.Crypto.Tests;

/// <summary>
/// The property behind the derived nonce (docs/e2e.md "Sender chains"): across many messages, crashes, power cuts,
/// restores from backup, cloned profiles, failed writes, epoch changes and rotations, no (key, nonce) pair and no
/// (chain_id, iteration) is ever used twice. A seeded driver does random operations on a real key store on disk and a
/// <see cref="NonceLedger"/> re-derives the pair of every envelope from the seeds the store reported.
/// </summary>
public sealed class NonceUniquenessPropertyTests(ITestOutputHelper output) : IDisposable
{
    private const int Operations = 250;

    private readonly string _root = Directory.CreateTempSubdirectory("chatwire-nonce-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    // Epoch-secret rows: every chain derives from the conversation's epoch secret, which a restore or a clone keeps,
    // so only the random chain id of each new chain keeps two chains (and their nonces) apart.
    [Theory]
    [InlineData(1, true, false)]
    [InlineData(7, false, false)]
    [InlineData(42, false, false)]
    [InlineData(1234, true, false)]
    [InlineData(99991, false, false)]
    [InlineData(5, false, true)]
    [InlineData(77, true, true)]
    [InlineData(2024, false, true)]
    public void EncryptMessage_RandomCrashesRestoresAndRotations_NoKeyNonceOrIterationUsedTwice(int seed, bool sendPastRotation, bool epochSecret)
    {
        using var driver = new SenderDriver(_root, seed, epochSecret);

        driver.Run(Operations, sendPastRotation);

        output.WriteLine($"seed {seed}: {driver.Sent.Count} envelopes; " + string.Join(", ", driver.Events.OrderBy(e => e.Key).Select(e => $"{e.Key} {e.Value}")));

        // Every envelope produced went through the checker, and each kind of trouble really happened.
        Assert.Equal(driver.Sent.Count, driver.Ledger.Checked);
        Assert.True(driver.Sent.Count >= Operations, $"only {driver.Sent.Count} envelopes");
        string[] secretKinds = epochSecret ? ["new secret", "retire secret"] : [];
        foreach (var kind in new[] { "crash", "power cut", "backup", "restore", "clone", "failed write", "epoch", "rotation:new", "rotation:epoch", "rotation:age" }.Concat(secretKinds))
        {
            Assert.True(driver.Events.GetValueOrDefault(kind) > 0, $"seed {seed}: no {kind} happened");
        }

        Assert.Equal(sendPastRotation, driver.Events.GetValueOrDefault("rotation:1000") > 0);
        PositiveControls(driver);
    }

    // The same checker must flag a duplicate built on purpose, or the property above could pass by checking nothing.
    private static void PositiveControls(SenderDriver driver)
    {
        var ledger = driver.Ledger;
        var used = driver.Sent[driver.Random.Next(driver.Sent.Count)];
        var header = Envelope.Parse(used).Header;

        Assert.Equal(new[] { NonceLedger.DuplicateKeyNonce, NonceLedger.DuplicateChainIteration }, ledger.Check(used));

        // A chain resumed at an iteration already used (what a restored store resuming its chain would do).
        var resumed = ResumedChain(header, header.ChainId, ledger.ChainKeyAt(header.ChainId, header.Iteration));
        var again = MessageCipher.Encrypt(resumed, header with { MessageId = Guid.CreateVersion7() }, "another message"u8);
        Assert.Equal(new[] { NonceLedger.DuplicateKeyNonce, NonceLedger.DuplicateChainIteration }, ledger.Check(again));

        // A used chain key under a fresh chain id: only the (key, nonce) check can see this one.
        var copiedKey = ledger.ChainKeyAt(header.ChainId, header.Iteration);
        var copied = ResumedChain(header, Guid.NewGuid(), copiedKey);
        ledger.AddSeed(copied.Seed());
        var disguised = MessageCipher.Encrypt(copied, header with { MessageId = Guid.CreateVersion7() }, "another message"u8);
        Assert.Equal(new[] { NonceLedger.DuplicateKeyNonce }, ledger.Check(disguised));
    }

    private static OutboundChain ResumedChain(EnvelopeHeader header, Guid chainId, byte[] chainKey)
    {
        var signing = Primitives.GenerateEd25519();
        return new OutboundChain
        {
            ConversationId = header.ConversationId,
            Epoch = header.Epoch,
            SenderUserId = header.SenderUserId,
            SenderDeviceId = header.SenderDeviceId,
            ChainId = chainId,
            SigningPrivateKey = signing.PrivateKey,
            SigningPublicKey = signing.PublicKey,
            CreatedAtMs = 0,
            Iteration = header.Iteration,
            ChainKey = chainKey,
        };
    }
}

/// <summary>
/// Drives one device's key store through random operations, keeps a model of which chain each conversation should be
/// sending on, and checks every envelope with a <see cref="NonceLedger"/>.
/// </summary>
internal sealed class SenderDriver : IDisposable
{
    // "Many operations earlier": a restore goes back at least this far.
    private const int RestoreDistance = 20;

    private readonly string _root;
    private readonly int _seed;
    private readonly bool _epochSecret;
    private readonly SettableClock _clock = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly Guid[] _conversations = [Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7()];
    private readonly ulong[] _epochs = [1, 1, 1];
    private readonly List<(int Operation, string Directory)> _backups = [];
    private Device _live;
    private int _operation;
    private int _directories;

    public SenderDriver(string root, int seed, bool epochSecret = false)
    {
        _root = root;
        _seed = seed;
        _epochSecret = epochSecret;
        Random = new Random(seed);
        _live = Open(NewDirectory());
        _live.Store.CreateDeviceKeys(Guid.CreateVersion7(), Guid.CreateVersion7());
    }

    public Random Random { get; }

    public NonceLedger Ledger { get; } = new();

    /// <summary>Every envelope EncryptMessage returned, in order.</summary>
    public List<byte[]> Sent { get; } = [];

    /// <summary>How often each operation and each rotation reason happened.</summary>
    public Dictionary<string, int> Events { get; } = [];

    public void Run(int operations, bool sendPastRotation)
    {
        var longBurstAt = sendPastRotation ? Random.Next(operations / 4, operations * 3 / 4) : -1;
        for (_operation = 0; _operation < operations; _operation++)
        {
            if (_operation == longBurstAt)
            {
                // Past the 1000-message limit in one go: no crash in between may reset the chain first.
                var conversation = Random.Next(_conversations.Length);
                for (var i = 1000 + Random.Next(1, 40); i > 0; i--)
                {
                    Send(_live, conversation);
                }
            }

            Step(Random.Next(100));
        }
    }

    public void Dispose() => _live.Store.Dispose();

    private void Step(int roll)
    {
        switch (roll)
        {
            case < 50:
                Send(_live, Random.Next(_conversations.Length));
                break;
            case < 58:
                var conversation = Random.Next(_conversations.Length);
                for (var i = Random.Next(5, 25); i > 0; i--)
                {
                    Send(_live, conversation);
                }

                break;
            case < 64:
                Count("crash");
                _live.Store.Dispose();
                _live = Open(_live.Directory);
                break;
            case < 70:
                // Power cut during the write: the directory as it was before it, yet the envelope counts as sent.
                Count("power cut");
                var before = CopyOf(_live.Directory);
                Send(_live, Random.Next(_conversations.Length));
                _live.Store.Dispose();
                _live = Open(before);
                break;
            case < 75:
                Count("backup");
                _backups.Add((_operation, CopyOf(_live.Directory)));
                break;
            case < 80:
                Restore();
                break;
            case < 85:
                Count("epoch");
                _epochs[Random.Next(_epochs.Length)]++;
                break;
            case < 92:
                MoveClock();
                break;
            case < 95:
                FailedWrite(Random.Next(_conversations.Length));
                break;
            case < 97:
                Count("retire");
                var retired = Random.Next(_conversations.Length);
                _live.Store.RetireOutboundChain(_conversations[retired]);
                if (_epochSecret && _live.Chains.GetValueOrDefault(_conversations[retired])?.EpochSecretId is { } secretId)
                {
                    // The distribution could not be completed: the next message needs another secret (and a new chain).
                    Count("retire secret");
                    _live.Store.RetireEpochSecret(secretId);
                }

                _live.Chains.Remove(_conversations[retired]);
                break;
            default:
                Clone();
                break;
        }
    }

    private void Send(Device device, int conversationIndex)
    {
        var conversation = _conversations[conversationIndex];
        var epoch = _epochs[conversationIndex];
        var now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
        var plaintext = new byte[Random.Next(0, 300)];
        Random.NextBytes(plaintext);
        device.Chains.TryGetValue(conversation, out var model);
        var rotation = model is null ? "new"
            : model.Epoch != epoch ? "epoch"
            : model.Next >= OutboundChain.MaxMessages ? "1000"
            : now - model.CreatedAtMs >= (long)OutboundChain.MaxAge.TotalMilliseconds ? "age"
            : now < model.CreatedAtMs ? "clock"
            : null;

        var sent = device.Store.EncryptMessage(new OutgoingMessage(conversation, epoch, Guid.CreateVersion7(), EnvelopeContentType.Message, plaintext) { EpochSecret = _epochSecret });

        Sent.Add(sent.Envelope);
        if (sent.NewChainSeed is { } seed)
        {
            Ledger.AddSeed(seed);
        }

        if (sent.NewEpochSecret is not null)
        {
            Count("new secret");
        }

        if (sent.EpochSecretId is { } secretId)
        {
            // Also a secret made in a call whose write failed: the SDK fetches it the same way when the server says
            // the secret's distribution is missing.
            Ledger.AddEpochSecret(device.Store.EpochSecretSeed(secretId)!);
        }

        var problems = Ledger.Check(sent.Envelope);
        Assert.True(problems.Count == 0, $"{Where()}: {string.Join("; ", problems)}");
        var header = Envelope.Parse(sent.Envelope).Header;
        Assert.Equal(epoch, header.Epoch);
        Assert.Equal(_epochSecret, header.EpochSecretId is not null);
        var newChain = _epochSecret ? header.ChainId != model?.ChainId : sent.NewChainSeed is not null;
        if (rotation is null)
        {
            Assert.True(!newChain && header.ChainId == model!.ChainId && header.Iteration == model.Next, $"{Where()}: expected chain {model?.ChainId} iteration {model?.Next}");
            model!.Next++;
        }
        else
        {
            Assert.True(newChain && header.Iteration == 0, $"{Where()}: expected a new chain ({rotation})");
            Count("rotation:" + rotation);
            device.Chains[conversation] = new ChainModel(header.ChainId, epoch, now) { Next = 1, EpochSecretId = header.EpochSecretId };
        }
    }

    private void Restore()
    {
        var candidates = _backups.Where(backup => _operation - backup.Operation >= RestoreDistance).ToList();
        if (candidates.Count == 0)
        {
            return;
        }

        Count("restore");
        _live.Store.Dispose();

        // Restored from a copy, so one backup can be restored more than once.
        _live = Open(CopyOf(candidates[Random.Next(candidates.Count)].Directory));
    }

    private void MoveClock()
    {
        Count("clock");
        var roll = Random.Next(100);
        var step = roll switch
        {
            < 60 => TimeSpan.FromMinutes(Random.Next(1, 600)),
            < 95 => TimeSpan.FromDays(6) + TimeSpan.FromHours(Random.Next(0, 48)),
            _ => -TimeSpan.FromMinutes(Random.Next(1, 120)),
        };
        _clock.Advance(step);
    }

    // The chain's file cannot be replaced (a directory stands in its way): EncryptMessage must throw and never reuse the chain.
    private void FailedWrite(int conversationIndex)
    {
        Count("failed write");
        var conversation = _conversations[conversationIndex];
        var path = Path.Combine(_live.Directory, "outbound", conversation.ToString("N") + ".json");
        if (File.Exists(path))
        {
            File.Delete(path);
        }

        Directory.CreateDirectory(path);
        Assert.ThrowsAny<IOException>(() => Send(_live, conversationIndex));
        Directory.Delete(path);
        _live.Chains.Remove(conversation);
    }

    // A cloned machine: a second store opened from a copy of the profile sends alongside the original.
    private void Clone()
    {
        Count("clone");
        var clone = Open(CopyOf(_live.Directory));
        using (clone.Store)
        {
            for (var i = Random.Next(2, 8); i > 0; i--)
            {
                Send(Random.Next(2) == 0 ? _live : clone, Random.Next(_conversations.Length));
            }
        }
    }

    private Device Open(string directory) => new(directory, DeviceKeyStore.Open(directory, _clock));

    private string NewDirectory() => Path.Combine(_root, $"profile-{_directories++}");

    // The profile as it is on disk, without the open store's lock file.
    private string CopyOf(string source)
    {
        var target = NewDirectory();
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(source, file);
            if (relative == "lock")
            {
                continue;
            }

            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(target, relative))!);
            File.Copy(file, Path.Combine(target, relative));
        }

        return target;
    }

    private void Count(string kind) => Events[kind] = Events.GetValueOrDefault(kind) + 1;

    private string Where() => $"seed {_seed}, operation {_operation}, envelope {Sent.Count}";

    private sealed record Device(string Directory, DeviceKeyStore Store)
    {
        /// <summary>What this open store should be sending on, per conversation; empty after an open (nothing is resumed).</summary>
        public Dictionary<Guid, ChainModel> Chains { get; } = [];
    }

    private sealed record ChainModel(Guid ChainId, ulong Epoch, long CreatedAtMs)
    {
        public uint Next { get; set; }

        public Guid? EpochSecretId { get; init; }
    }
}

/// <summary>A clock the driver moves by hand, forward across the 7-day rotation or backwards.</summary>
internal sealed class SettableClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan step) => _now += step;
}
