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
/// devices, and encrypts and decrypts messages. The keys live in one file (<c>statePath</c>, mode 0600); the
/// server only ever sees public keys and ciphertext. One instance per device; calls are serialised.
/// </summary>
public sealed partial class SecureClient : IDisposable
{
    private const int InitialOneTimePrekeys = 100;

    private readonly ChatWireApiClient _api;
    private readonly string _statePath;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TimeProvider _time;
    private SecureDeviceState? _state;

    /// <summary>Creates the client over an authenticated API client.</summary>
    /// <param name="api">The API client with this device's session token.</param>
    /// <param name="statePath">The file this device's keys are kept in (created on setup).</param>
    /// <param name="timeProvider">The clock; the system clock when null.</param>
    public SecureClient(ChatWireApiClient api, string statePath, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(api);
        ArgumentException.ThrowIfNullOrEmpty(statePath);
        _api = api;
        _statePath = statePath;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Whether a key file exists for this device (set up before).</summary>
    public bool HasKeys => _state is not null || File.Exists(_statePath);

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
            var state = LoadState();
            if (state is null || state.UserId != userId || state.DeviceId != deviceId)
            {
                state = await RegisterNewDeviceAsync(userId, deviceId, cancellationToken).ConfigureAwait(false);
            }

            if (!state.IsApproved)
            {
                var mine = await _api.GetUserKeysAsync(userId, cancellationToken).ConfigureAwait(false);
                if (mine.AccountKey is null)
                {
                    var recovery = await CreateAccountAsync(state, mine, cancellationToken).ConfigureAwait(false);
                    return new DeviceSetupResult(true, true, FormatLinkCode(state.Certificate().LinkCode()), recovery);
                }
            }

            await SyncOwnKeysCoreAsync(state, cancellationToken).ConfigureAwait(false);
            return new DeviceSetupResult(state.IsApproved, false, FormatLinkCode(state.Certificate().LinkCode()), null);
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
    public async Task<bool> SyncOwnKeysAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var state = RequireState();
            await SyncOwnKeysCoreAsync(state, cancellationToken).ConfigureAwait(false);
            return state.IsApproved;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The safety number of me and <paramref name="userId"/> (E2E.md §8), from the account keys: 60 digits in groups of five.</summary>
    /// <param name="userId">The other user.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<string> SafetyNumberAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var state = RequireState();
            var me = await VerifiedUserCoreAsync(state, state.UserId, cancellationToken).ConfigureAwait(false);
            var other = await VerifiedUserCoreAsync(state, userId, cancellationToken).ConfigureAwait(false);
            SaveState(state);
            return SafetyNumber.Format(SafetyNumber.Compute(state.UserId, me.AccountKey, userId, other.AccountKey));
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>My devices: each session's device, approved (on my signed list), pending or without keys.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<IReadOnlyList<DeviceStatus>> ListDevicesAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var state = RequireState();
            var sessions = await _api.ListSessionsAsync(cancellationToken).ConfigureAwait(false);
            var keys = await _api.GetUserKeysAsync(state.UserId, cancellationToken).ConfigureAwait(false);
            var approved = keys.AccountKey is null
                ? []
                : KeyVerifier.Verify(keys, state).Devices.Select(device => device.DeviceId).ToHashSet();
            SaveState(state);
            var registered = keys.Devices.Select(device => device.DeviceId).ToHashSet();
            return [.. sessions.Select(session => new DeviceStatus(
                session.DeviceId,
                session.DeviceName,
                approved.Contains(session.DeviceId) ? "approved" : registered.Contains(session.DeviceId) ? "pending" : "no-keys",
                session.DeviceId == state.DeviceId))];
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Releases the lock object.</summary>
    public void Dispose() => _gate.Dispose();

    /// <summary>A link code as people read it: <c>XXXXX-XXXXX</c>.</summary>
    /// <param name="code">Ten characters, with or without the dash.</param>
    public static string FormatLinkCode(string code)
    {
        ArgumentNullException.ThrowIfNull(code);
        var bare = code.Replace("-", string.Empty, StringComparison.Ordinal).ToUpperInvariant();
        return bare.Length == 10 ? $"{bare[..5]}-{bare[5..]}" : bare;
    }

    private async Task<VerifiedUser> VerifiedUserCoreAsync(SecureDeviceState state, Guid userId, CancellationToken cancellationToken) =>
        KeyVerifier.Verify(await _api.GetUserKeysAsync(userId, cancellationToken).ConfigureAwait(false), state);

    private SecureDeviceState? LoadState() => _state ??= SecureDeviceStateFile.Load(_statePath);

    private SecureDeviceState RequireState() =>
        LoadState() ?? throw new SecureMessagingException(SecureFailure.NoKeys, "This device has no keys: log in again to set it up.");

    private void SaveState(SecureDeviceState state)
    {
        SecureDeviceStateFile.Save(_statePath, state);
        _state = state;
    }

    private SecureDeviceState RequireApproved()
    {
        var state = RequireState();
        return state.IsApproved
            ? state
            : throw new SecureMessagingException(SecureFailure.NotApproved, "This device is not approved yet: approve it from a trusted device (chatwire devices approve CODE).");
    }

    private long NowMs() => _time.GetUtcNow().ToUnixTimeMilliseconds();
}
