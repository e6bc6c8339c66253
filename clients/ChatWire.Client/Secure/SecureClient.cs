using ChatWire.Crypto;

namespace ChatWire.Client.Secure;

/// <summary>What setting a device up came to.</summary>
/// <param name="Approved">Whether the device holds the account and history keys (it can read and send).</param>
/// <param name="FirstDevice">Whether this call created the user's account key (the first device).</param>
/// <param name="LinkCode">The device's link code, <c>XXXXX-XXXXX</c>, to approve it from a trusted device.</param>
/// <param name="RecoveryKey">On the first device only: the recovery key, shown once; null otherwise.</param>
public sealed record DeviceSetupResult(bool Approved, bool FirstDevice, string LinkCode, string? RecoveryKey);

/// <summary>One of my devices and where it stands.</summary>
/// <param name="DeviceId">The device.</param>
/// <param name="DeviceName">Its name from its session, if it has one.</param>
/// <param name="State"><c>approved</c> (on my signed device list), <c>pending</c> (keys registered, not approved) or <c>no-keys</c>.</param>
/// <param name="Current">Whether it is this device.</param>
public sealed record DeviceStatus(Guid DeviceId, string? DeviceName, string State, bool Current);

/// <summary>
/// End-to-end encryption for one device of one user (docs/e2e.md): sets the device up, links and revokes
/// devices, and encrypts and decrypts messages. The keys live in the crypto library's key store in
/// <c>storeDirectory</c>; the server only ever sees public keys and ciphertext. By default the store is opened on the
/// first call and held (locked) until <see cref="Dispose"/>, so a long-lived process keeps one sender chain per
/// conversation; with <see cref="SecureClientOptions.HoldStore"/> off it is opened for each call and closed after
/// it, so several processes of one profile (a <c>listen</c> and a <c>send</c>) take turns.
/// </summary>
public sealed partial class SecureClient : IDisposable
{
    private const int InitialOneTimePrekeys = 100;

    // Another process of the same profile holds the store's lock for the length of one call: wait that out.
    private static readonly TimeSpan StoreLockWait = TimeSpan.FromSeconds(15);

    private readonly ChatWireApiClient _api;
    private readonly string _directory;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly SentEnvelopes _sentEnvelopes;
    private readonly TimeProvider _time;
    private readonly bool _holdStore;

    // The held store (HoldStore), opened by the first call; only touched under _gate.
    private DeviceKeyStore? _held;

    /// <summary>Creates the client over an authenticated API client.</summary>
    /// <param name="api">The API client with this device's session token.</param>
    /// <param name="storeDirectory">The directory this device's keys are kept in (created on setup).</param>
    /// <param name="timeProvider">The clock; the system clock when null.</param>
    /// <param name="options">How the key store is used; the defaults (the store held open) when null.</param>
    public SecureClient(ChatWireApiClient api, string storeDirectory, TimeProvider? timeProvider = null, SecureClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(api);
        ArgumentException.ThrowIfNullOrEmpty(storeDirectory);
        _api = api;
        _directory = storeDirectory;
        _time = timeProvider ?? TimeProvider.System;
        _holdStore = (options ?? new SecureClientOptions()).HoldStore;
        _sentEnvelopes = new SentEnvelopes(Path.Combine(storeDirectory, "unacknowledged"));
    }

    /// <summary>Whether this device was set up before (its key store exists).</summary>
    public bool HasKeys => Directory.Exists(_directory);

    /// <summary>
    /// Sets this device up after signup or login. The user's first device creates the account key, history key
    /// generation 1, a recovery key and a device list with itself; a later device registers its keys and waits
    /// for approval (<see cref="DeviceSetupResult.LinkCode"/>). Calling it again is harmless: it picks up a link
    /// payload left meanwhile.
    /// </summary>
    /// <param name="userId">The logged-in user.</param>
    /// <param name="deviceId">This device (the session's device id).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<DeviceSetupResult> SetUpDeviceAsync(Guid userId, Guid deviceId, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var store = await AcquireStoreAsync(cancellationToken).ConfigureAwait(false);
            if (store.HasDeviceKeys && (store.UserId != userId || store.DeviceId != deviceId))
            {
                // A new login of this profile is a new device: the old device's keys go with its session, and a
                // held store goes with them (it is reopened on the new directory).
                store.Dispose();
                _held = null;
                Directory.Delete(_directory, recursive: true);
                store = await AcquireStoreAsync(cancellationToken).ConfigureAwait(false);
            }

            try
            {
                var trust = TrustState.Load(TrustPath);
                if (!store.HasDeviceKeys)
                {
                    await RegisterNewDeviceAsync(store, userId, deviceId, cancellationToken).ConfigureAwait(false);
                }

                if (HeldAccountKey(store) is null)
                {
                    var mine = await _api.GetUserKeysAsync(userId, cancellationToken).ConfigureAwait(false);
                    if (mine.AccountKey is null)
                    {
                        var recovery = await CreateAccountAsync(store, trust, mine, cancellationToken).ConfigureAwait(false);
                        trust.Save(TrustPath);
                        return new DeviceSetupResult(true, true, FormatLinkCode(store.Certificate.LinkCode()), recovery);
                    }
                }

                await SyncOwnKeysCoreAsync(store, trust, cancellationToken).ConfigureAwait(false);
                await TopUpPrekeysCoreAsync(store, cancellationToken).ConfigureAwait(false);
                trust.Save(TrustPath);
                return new DeviceSetupResult(HeldAccountKey(store) is not null, false, FormatLinkCode(store.Certificate.LinkCode()), null);
            }
            finally
            {
                ReleaseStore(store);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Picks up keys another device of mine left for this one (the link payload after approval, or a new history
    /// key after a revocation). Returns whether this device is approved.
    /// </summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<bool> SyncOwnKeysAsync(CancellationToken cancellationToken = default) =>
        WithStoreAsync(async (store, trust) =>
        {
            await SyncOwnKeysCoreAsync(store, trust, cancellationToken).ConfigureAwait(false);
            return HeldAccountKey(store) is not null;
        }, cancellationToken);

    /// <summary>
    /// Waits until another device of mine has approved this one and its keys are picked up, asking every
    /// <paramref name="pollInterval"/> (2 seconds by default). Returns at once when approved already. Cancel it to stop
    /// waiting. With a connection open, <see cref="WaitForApprovalAsync(ChatWireConnection, TimeSpan?, CancellationToken)"/>
    /// learns of the approval from the server instead of asking.
    /// </summary>
    /// <param name="pollInterval">How often to ask; more than zero.</param>
    /// <param name="cancellationToken">Stops the wait (<see cref="OperationCanceledException"/>).</param>
    public async Task WaitForApprovalAsync(TimeSpan? pollInterval = null, CancellationToken cancellationToken = default)
    {
        var interval = pollInterval ?? TimeSpan.FromSeconds(2);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero, nameof(pollInterval));
        while (!await SyncOwnKeysAsync(cancellationToken).ConfigureAwait(false))
        {
            await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Waits until another device of mine has approved this one and its keys are picked up, checking when the server
    /// pushes a change to my keys on <paramref name="connection"/> (KEYS_CHANGED) or the connection comes back after a
    /// drop, and otherwise every <paramref name="fallbackInterval"/> (1 minute by default) as a safety net. Returns at
    /// once when approved already. Cancel it to stop waiting. When the connection closes for good meanwhile, it throws
    /// what the connection's requests would (<see cref="ObjectDisposedException"/> after its disposal, a
    /// <see cref="ChatWireException"/> such as <c>SESSION_REVOKED</c>, or an <see cref="IOException"/> when reconnecting
    /// gave up).
    /// </summary>
    /// <param name="connection">An open connection of this device (of any user's session would not do: the pushes go to the user's own devices).</param>
    /// <param name="fallbackInterval">How long to wait without a push before checking anyway; more than zero.</param>
    /// <param name="cancellationToken">Stops the wait (<see cref="OperationCanceledException"/>).</param>
    public async Task WaitForApprovalAsync(ChatWireConnection connection, TimeSpan? fallbackInterval = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var interval = fallbackInterval ?? TimeSpan.FromMinutes(1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero, nameof(fallbackInterval));
        Task? changed = null;
        while (true)
        {
            // Taken before the check, so a change that lands during it still wakes the wait (one still pending after a
            // fallback check serves the next: it completes on the first change after it was taken).
            changed = changed is { IsCompleted: false } ? changed : connection.NextOwnKeysChangeAsync(cancellationToken);
            bool approved;
            try
            {
                approved = await SyncOwnKeysAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                // The check's failure is the one to report; the signal's own fault, if it comes, is observed.
                _ = changed.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                throw;
            }

            if (approved)
            {
                return;
            }

            try
            {
                await changed.WaitAsync(interval, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // No push within the interval: check anyway.
            }
        }
    }

    /// <summary>
    /// The safety number of me and <paramref name="userId"/> (docs/e2e.md, "Safety numbers"), from our current account
    /// keys: 60 digits in groups of five. Also after a verified user's key changed, so that it can be compared anew.
    /// </summary>
    /// <param name="userId">The other user.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<string> SafetyNumberAsync(Guid userId, CancellationToken cancellationToken = default) =>
        WithStoreAsync((store, trust) => CurrentSafetyNumberAsync(store, trust, userId, cancellationToken), cancellationToken);

    /// <summary>My devices: each session's device, approved (on my signed list), pending or without keys.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<IReadOnlyList<DeviceStatus>> ListDevicesAsync(CancellationToken cancellationToken = default) =>
        WithStoreAsync<IReadOnlyList<DeviceStatus>>(async (store, trust) =>
        {
            var sessions = await _api.ListSessionsAsync(cancellationToken).ConfigureAwait(false);
            var keys = await _api.GetUserKeysAsync(store.UserId, cancellationToken).ConfigureAwait(false);
            var approved = keys.AccountKey is null
                ? []
                : KeyVerifier.Verify(keys, trust).Devices.Select(device => device.DeviceId).ToHashSet();
            var registered = keys.Devices.Select(device => device.DeviceId).ToHashSet();
            return [.. sessions.Select(session => new DeviceStatus(
                session.DeviceId,
                session.DeviceName,
                approved.Contains(session.DeviceId) ? "approved" : registered.Contains(session.DeviceId) ? "pending" : "no-keys",
                session.DeviceId == store.DeviceId))];
        }, cancellationToken);

    /// <summary>Closes a held key store (releasing its lock for other processes) and the lock object.</summary>
    public void Dispose()
    {
        _held?.Dispose();
        _held = null;
        _gate.Dispose();
    }

    /// <summary>A link code as people read it: <c>XXXXX-XXXXX</c>.</summary>
    /// <param name="code">Ten characters, with or without the dash.</param>
    public static string FormatLinkCode(string code)
    {
        ArgumentNullException.ThrowIfNull(code);
        var bare = code.Replace("-", string.Empty, StringComparison.Ordinal).ToUpperInvariant();
        return bare.Length == 10 ? $"{bare[..5]}-{bare[5..]}" : bare;
    }

    private string TrustPath => Path.Combine(_directory, "trust.json");

    private async Task<VerifiedUser> VerifiedUserCoreAsync(TrustState trust, Guid userId, CancellationToken cancellationToken) =>
        KeyVerifier.Verify(await _api.GetUserKeysAsync(userId, cancellationToken).ConfigureAwait(false), trust);

    // One call's use of the store: opened (waiting for another process of the profile) or the held one taken, the
    // trust pins loaded, both saved and a store that is not held closed after.
    private async Task<T> WithStoreAsync<T>(Func<DeviceKeyStore, TrustState, Task<T>> action, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!HasKeys)
            {
                throw new SecureMessagingException(SecureFailure.NoKeys, "This device has no keys: log in again to set it up.");
            }

            var store = await AcquireStoreAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (!store.HasDeviceKeys)
                {
                    throw new SecureMessagingException(SecureFailure.NoKeys, "This device has no keys: log in again to set it up.");
                }

                var trust = TrustState.Load(TrustPath);
                try
                {
                    return await action(store, trust).ConfigureAwait(false);
                }
                finally
                {
                    trust.Save(TrustPath);
                }
            }
            finally
            {
                ReleaseStore(store);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    // Under _gate: the held store (opened the first time), or a store for this call only.
    private async Task<DeviceKeyStore> AcquireStoreAsync(CancellationToken cancellationToken)
    {
        if (_held is not null)
        {
            return _held;
        }

        var store = await OpenStoreAsync(cancellationToken).ConfigureAwait(false);
        if (_holdStore)
        {
            _held = store;
        }

        return store;
    }

    // Closes a store opened for one call; the held one stays open until Dispose.
    private void ReleaseStore(DeviceKeyStore store)
    {
        if (!ReferenceEquals(store, _held))
        {
            store.Dispose();
        }
    }

    private async Task<DeviceKeyStore> OpenStoreAsync(CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + StoreLockWait;
        while (true)
        {
            try
            {
                var store = DeviceKeyStore.Open(_directory, _time);
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(_directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                }

                return store;
            }
            catch (IOException) when (_time.GetUtcNow() < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    // The account key this device holds, or null. Works around the key store reading an absent key back as an
    // empty array after its first update (AccountKey then throws "An account signing key is 32 bytes").
    private static AccountSigningKey? HeldAccountKey(DeviceKeyStore store)
    {
        try
        {
            return store.AccountKey;
        }
        catch (ChatWireCryptoException)
        {
            return null;
        }
    }

    private static void RequireApproved(DeviceKeyStore store)
    {
        if (HeldAccountKey(store) is null)
        {
            throw new SecureMessagingException(SecureFailure.NotApproved, "This device is not approved yet: approve it from a trusted device (chatwire devices approve CODE).");
        }
    }
}
