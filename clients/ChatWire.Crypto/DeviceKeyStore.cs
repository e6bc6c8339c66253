namespace ChatWire.Crypto;

/// <summary>
/// One profile's end-to-end key state on disk: the device's keys, the account and history keys it holds, prekeys,
/// device-list versions seen, and the sender chains it sends and receives on. Every change is written durably before
/// the method returns; above all, the next chain key is on disk before <see cref="EncryptMessage"/> hands out a
/// ciphertext. Opening a store marks every sending chain "do not resume": state read back may be a restored copy, so
/// the next message starts a new chain. One process at a time: the store holds a lock file while open.
/// Thread-safe; dispose it to release the lock.
/// </summary>
public sealed partial class DeviceKeyStore : IDisposable
{
    private const int KeptSignedPrekeys = 3;

    private readonly string _directory;
    private readonly TimeProvider _time;
    private readonly FileStream _lockFile;
    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, OutboundChain> _outbound = [];
    private readonly Dictionary<Guid, InboundChain> _inbound = [];
    private readonly Dictionary<Guid, EpochSecretState> _secrets = [];
    private IdentityState? _identity;
    private bool _disposed;

    private DeviceKeyStore(string directory, TimeProvider time, FileStream lockFile)
    {
        _directory = directory;
        _time = time;
        _lockFile = lockFile;
    }

    /// <summary>
    /// Opens (creating if needed) the store in <paramref name="directory"/>. Throws <see cref="IOException"/> when another
    /// process has it open: two processes sending on one chain would reuse nonces.
    /// </summary>
    public static DeviceKeyStore Open(string directory, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        StoreFiles.CreatePrivateDirectory(directory);
        StoreFiles.CreatePrivateDirectory(Path.Combine(directory, "outbound"));
        StoreFiles.CreatePrivateDirectory(Path.Combine(directory, "inbound"));
        StoreFiles.CreatePrivateDirectory(Path.Combine(directory, "secrets"));
        var lockFile = new FileStream(Path.Combine(directory, "lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        var store = new DeviceKeyStore(directory, time ?? TimeProvider.System, lockFile);
        try
        {
            store.Load();
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }

        return store;
    }

    /// <summary>Whether this profile has device keys yet (<see cref="CreateDeviceKeys"/>).</summary>
    public bool HasDeviceKeys
    {
        get
        {
            lock (_gate)
            {
                return _identity is not null;
            }
        }
    }

    /// <summary>The user this profile's device belongs to.</summary>
    public Guid UserId => Identity().UserId;

    /// <summary>This device's id.</summary>
    public Guid DeviceId => Identity().DeviceId;

    /// <summary>This device's keys (for <see cref="X3dh"/> and <see cref="SeedSeal"/> calls the store does not wrap).</summary>
    public DeviceKeys DeviceKeys
    {
        get
        {
            var identity = Identity();
            return DeviceKeys.FromPrivateKeys(identity.DeviceSigningPrivateKey, identity.DeviceDhPrivateKey);
        }
    }

    /// <summary>This device's certificate (with the account signature once approved).</summary>
    public DeviceCertificate Certificate
    {
        get
        {
            var identity = Identity();
            var keys = DeviceKeys;
            var certificate = DeviceCertificate.Create(identity.UserId, identity.DeviceId, keys, identity.CreatedAtMs, identity.CertificateVersion);
            return certificate with { AccountSignature = identity.AccountSignature };
        }
    }

    /// <summary>Creates this device's keys and self-signed certificate; refuses if the profile already has some.</summary>
    public DeviceCertificate CreateDeviceKeys(Guid userId, Guid deviceId)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            if (_identity is not null)
            {
                throw new InvalidOperationException("This profile already has device keys.");
            }

            var keys = DeviceKeys.Generate();
            var identity = new IdentityState
            {
                UserId = userId,
                DeviceId = deviceId,
                DeviceSigningPrivateKey = keys.Signing.PrivateKey,
                DeviceDhPrivateKey = keys.Dh.PrivateKey,
                CreatedAtMs = _time.GetUtcNow().ToUnixTimeMilliseconds(),
                CertificateVersion = 1,
            };
            SaveIdentity(identity);
            _identity = identity;
        }

        return Certificate;
    }

    /// <summary>Records the account signature another device (or this one) made over this device's certificate.</summary>
    public void SetAccountSignature(ReadOnlySpan<byte> accountSignature, ReadOnlySpan<byte> accountSigningPublicKey)
    {
        var signature = accountSignature.ToArray();
        var approved = Certificate with { AccountSignature = signature };
        if (!approved.Verify(accountSigningPublicKey))
        {
            throw new ChatWireCryptoException(CryptoError.BadSignature, "The account signature does not verify over this device's certificate.");
        }

        Update(identity => identity.AccountSignature = signature);
    }

    /// <summary>The account signing key, if this device holds it.</summary>
    public AccountSigningKey? AccountKey
    {
        get
        {
            var key = Identity().AccountSigningPrivateKey;
            return key is null or { Length: 0 } ? null : AccountSigningKey.FromPrivateKey(key);
        }
    }

    /// <summary>Keeps <paramref name="accountKey"/> (made here with <see cref="AccountSigningKey.Generate"/>, or received by linking or recovery).</summary>
    public void ImportAccountKey(AccountSigningKey accountKey)
    {
        ArgumentNullException.ThrowIfNull(accountKey);
        Update(identity => identity.AccountSigningPrivateKey = accountKey.PrivateKey.ToArray());
    }

    /// <summary>The history keys held, oldest generation first.</summary>
    public IReadOnlyList<HistoryKey> HistoryKeys =>
        Identity().HistoryKeys.OrderBy(key => key.Generation).Select(key => HistoryKey.FromPrivateKey(key.Generation, key.PrivateKey)).ToList();

    /// <summary>Makes the next history key generation and signs it with the account key this device holds.</summary>
    /// <param name="aboveGeneration">A generation the new one must be above besides those held (the highest the
    /// directory has seen, which a recovering device whose backup missed the newest ones would not hold).</param>
    public SignedHistoryKey CreateHistoryKey(uint aboveGeneration = 0)
    {
        var accountKey = AccountKey ?? throw new InvalidOperationException("Only a device holding the account key can make a history key.");
        var generation = checked(Math.Max(aboveGeneration, Identity().HistoryKeys.Select(key => key.Generation).DefaultIfEmpty(0u).Max()) + 1);
        var historyKey = HistoryKey.Generate(generation);
        ImportHistoryKeys([historyKey]);
        return accountKey.SignHistoryKey(UserId, historyKey);
    }

    /// <summary>Keeps history keys received by linking or recovery (a generation already held is left as is).</summary>
    public void ImportHistoryKeys(IEnumerable<HistoryKey> historyKeys)
    {
        ArgumentNullException.ThrowIfNull(historyKeys);
        var incoming = historyKeys.ToList();
        Update(identity =>
        {
            foreach (var key in incoming.Where(key => identity.HistoryKeys.All(held => held.Generation != key.Generation)))
            {
                identity.HistoryKeys.Add(new HistoryKeyState(key.Generation, key.PrivateKey.ToArray()));
            }
        });
    }

    /// <summary>
    /// Checks a user's signed device list against their account key and the highest version seen for them, and records
    /// its version. Throws <see cref="CryptoError.BadSignature"/> or <see cref="CryptoError.Rollback"/>.
    /// </summary>
    public void AcceptDeviceList(SignedDeviceList deviceList, ReadOnlySpan<byte> accountSigningPublicKey)
    {
        ArgumentNullException.ThrowIfNull(deviceList);
        ulong? seen = Identity().DeviceListVersions.TryGetValue(deviceList.UserId, out var version) ? version : null;
        deviceList.VerifyNotRolledBack(accountSigningPublicKey, seen);
        if (seen != deviceList.Version)
        {
            Update(identity => identity.DeviceListVersions[deviceList.UserId] = Math.Max(deviceList.Version, identity.DeviceListVersions.GetValueOrDefault(deviceList.UserId)));
        }
    }

    /// <summary>The highest device-list version seen for <paramref name="userId"/>, or null.</summary>
    public ulong? DeviceListVersionSeen(Guid userId) =>
        Identity().DeviceListVersions.TryGetValue(userId, out var version) ? version : null;

    /// <summary>Releases the profile lock.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _lockFile.Dispose();
        }
    }

    private IdentityState Identity()
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            return _identity ?? throw new InvalidOperationException("This profile has no device keys yet.");
        }
    }

    // Changes the identity on a copy, writes it, and only then makes it current: a failed write changes nothing.
    private void Update(Action<IdentityState> change)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            var current = _identity ?? throw new InvalidOperationException("This profile has no device keys yet.");
            var copy = System.Text.Json.JsonSerializer.Deserialize(
                System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(current, StoreJsonContext.Default.IdentityState), StoreJsonContext.Default.IdentityState)!;
            change(copy);
            SaveIdentity(copy);
            _identity = copy;
        }
    }

    private void SaveIdentity(IdentityState identity) =>
        StoreFiles.WriteAtomically(Path.Combine(_directory, "identity.json"), identity, StoreJsonContext.Default.IdentityState);

    private void Load()
    {
        _identity = StoreFiles.Read(Path.Combine(_directory, "identity.json"), StoreJsonContext.Default.IdentityState);
        foreach (var path in Directory.EnumerateFiles(Path.Combine(_directory, "outbound"), "*.json"))
        {
            var chain = StoreFiles.Read(path, StoreJsonContext.Default.OutboundChain)!;
            chain.DoNotResume = true;
            _outbound[chain.ConversationId] = chain;
        }

        foreach (var path in Directory.EnumerateFiles(Path.Combine(_directory, "secrets"), "*.json"))
        {
            var secret = StoreFiles.Read(path, StoreJsonContext.Default.EpochSecretState)!;
            _secrets[secret.SecretId] = secret;
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}
