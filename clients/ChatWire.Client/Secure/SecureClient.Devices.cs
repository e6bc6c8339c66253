using System.Buffers.Binary;
using System.Security.Cryptography;
using ChatWire.Crypto;

namespace ChatWire.Client.Secure;

// Device lifecycle (E2E.md §1, §5): first-device setup, linking a new device by its code, picking up the link
// payload, revoking a device. The link payload carries the account key and every history key, sealed to the
// new device with one-shot X3DH; a revocation sends the new history key the same way to the devices that stay.
public sealed partial class SecureClient
{
    private const byte LinkPayloadVersion = 1;

    /// <summary>
    /// Approves my pending device with this link code (shown on it after login): checks that the code is the one
    /// its keys give, signs its certificate, publishes the device list with it, and seals the account and history
    /// keys to it. Returns the approved device.
    /// </summary>
    /// <param name="linkCode">The code, <c>XXXXX-XXXXX</c> (dash and case optional).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="SecureMessagingException"><c>LinkCodeMismatch</c> when no pending device shows this code or its keys do not give it.</exception>
    public async Task<PendingDevice> ApproveDeviceAsync(string linkCode, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(linkCode);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var state = RequireApproved();
            var normalized = LinkCode.Normalize(linkCode)
                ?? throw new SecureMessagingException(SecureFailure.LinkCodeMismatch, $"\"{linkCode}\" is not a link code (ten letters and digits, XXXXX-XXXXX).");
            PendingDevice pending;
            try
            {
                pending = await _api.GetPendingDeviceAsync(normalized, cancellationToken).ConfigureAwait(false);
            }
            catch (ChatWireException ex) when (ex.HttpStatus == 404)
            {
                throw new SecureMessagingException(SecureFailure.LinkCodeMismatch, "None of your devices waiting for approval shows this code.", ex);
            }

            // The server found the device by the code; the code must also follow from the keys it serves, or the
            // server swapped keys and the person comparing codes would approve the wrong ones.
            var certificate = new DeviceCertificate(
                state.UserId, pending.DeviceId, pending.SigningKey, pending.DhKey, pending.CreatedAtMs, pending.CertificateVersion, pending.SelfSignature, null);
            if (!LinkCode.Matches(certificate.LinkCode(), normalized) || !certificate.VerifySelf())
            {
                throw new SecureMessagingException(SecureFailure.LinkCodeMismatch, "The keys the server shows for this device do not give this link code; it was not approved.");
            }

            var accountKey = state.AccountKey()!;
            var approved = certificate.ApproveWith(accountKey);
            await _api.PutDeviceCertificateAsync(pending.DeviceId, pending.CertificateVersion, approved.AccountSignature!, cancellationToken).ConfigureAwait(false);
            var me = await VerifiedUserCoreAsync(state, state.UserId, cancellationToken).ConfigureAwait(false);
            var keys = await _api.GetUserKeysAsync(state.UserId, cancellationToken).ConfigureAwait(false);
            var entries = CurrentEntries(keys, me).Where(entry => entry.DeviceId != pending.DeviceId).Append(new DeviceListEntry(pending.DeviceId, approved.Hash()));
            await PublishDeviceListAsync(state, accountKey, me.DeviceListVersion + 1, entries, cancellationToken).ConfigureAwait(false);
            await SendLinkPayloadAsync(state, pending.DeviceId, pending.SigningKey, pending.DhKey, cancellationToken).ConfigureAwait(false);
            SaveState(state);
            return pending;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Revokes one of my other devices: ends its session, publishes a device list without it, and makes a new
    /// history key generation that only the remaining devices get (E2E.md §5). The server bumps the epoch of my
    /// conversations, so the next message of every member starts a new chain the revoked device cannot read.
    /// </summary>
    /// <param name="deviceId">The device to revoke (not this one: log out instead).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task RevokeDeviceAsync(Guid deviceId, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var state = RequireApproved();
            if (deviceId == state.DeviceId)
            {
                throw new ArgumentException("This device cannot revoke itself; log out instead.", nameof(deviceId));
            }

            try
            {
                await _api.RevokeSessionAsync(deviceId, cancellationToken).ConfigureAwait(false);
            }
            catch (ChatWireException ex) when (ex.HttpStatus == 404)
            {
                // Already logged out: its keys may still be listed, so the list and history key change anyway.
            }

            var accountKey = state.AccountKey()!;
            var me = await VerifiedUserCoreAsync(state, state.UserId, cancellationToken).ConfigureAwait(false);
            var keys = await _api.GetUserKeysAsync(state.UserId, cancellationToken).ConfigureAwait(false);
            var remaining = CurrentEntries(keys, me).Where(entry => entry.DeviceId != deviceId).ToList();
            await PublishDeviceListAsync(state, accountKey, me.DeviceListVersion + 1, remaining, cancellationToken).ConfigureAwait(false);

            var generation = state.HistoryKeys.Keys.Max() + 1;
            var historyKey = HistoryKey.Generate(generation);
            state.HistoryKeys[generation] = historyKey.PrivateKey;
            SaveState(state);
            var signed = accountKey.SignHistoryKey(state.UserId, historyKey);
            await _api.PutHistoryKeyAsync(new HistoryKeyInfo(signed.Generation, signed.PublicKey, signed.Signature), cancellationToken).ConfigureAwait(false);
            foreach (var device in me.Devices.Where(device => device.DeviceId != deviceId && device.DeviceId != state.DeviceId))
            {
                await SendLinkPayloadAsync(state, device.DeviceId, device.SigningKey, device.DhKey, cancellationToken).ConfigureAwait(false);
            }

            SaveState(state);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<SecureDeviceState> RegisterNewDeviceAsync(Guid userId, Guid deviceId, CancellationToken cancellationToken)
    {
        var keys = DeviceKeys.Generate();
        var state = new SecureDeviceState
        {
            UserId = userId,
            DeviceId = deviceId,
            DeviceSigningPrivate = keys.Signing.PrivateKey,
            DeviceDhPrivate = keys.Dh.PrivateKey,
            CreatedAtMs = NowMs(),
            CertificateVersion = 1,
        };
        var certificate = state.Certificate();

        // Saved before the server hears of the keys: a crash after registering must not lose the private halves.
        SaveState(state);
        await _api.PutMyDeviceKeysAsync(
            new DeviceKeysRequest(certificate.SigningKey, certificate.DhKey, certificate.CreatedAtMs, certificate.CertificateVersion, certificate.SelfSignature),
            cancellationToken).ConfigureAwait(false);
        var signedPrekey = SignedPrekey.Generate(keys, deviceId, 1, out var signedPrekeyPrivate);
        state.SignedPrekeys[1] = signedPrekeyPrivate;
        state.CurrentSignedPrekeyId = 1;
        var oneTime = NewOneTimePrekeys(state, InitialOneTimePrekeys);
        SaveState(state);
        await _api.PutSignedPrekeyAsync(new SignedPrekeyInfo(signedPrekey.PrekeyId, signedPrekey.PublicKey, signedPrekey.Signature), cancellationToken).ConfigureAwait(false);
        await _api.UploadOneTimePrekeysAsync(oneTime, cancellationToken).ConfigureAwait(false);
        return state;
    }

    private static List<OneTimePrekeyInfo> NewOneTimePrekeys(SecureDeviceState state, int count)
    {
        var prekeys = new List<OneTimePrekeyInfo>(count);
        for (var i = 0; i < count; i++)
        {
            // DeviceKeys.Generate is the library's public way to a fresh X25519 pair; its signing half is dropped.
            var pair = DeviceKeys.Generate().Dh;
            var id = state.NextOneTimePrekeyId++;
            state.OneTimePrekeys[id] = pair.PrivateKey;
            prekeys.Add(new OneTimePrekeyInfo(id, pair.PublicKey));
        }

        return prekeys;
    }

    // First device of the user: account key, history key 1, self-approved certificate, device list, recovery backup.
    private async Task<string> CreateAccountAsync(SecureDeviceState state, UserKeys mine, CancellationToken cancellationToken)
    {
        var accountKey = AccountSigningKey.Generate();
        var historyKey = HistoryKey.Generate(1);
        var recoveryKey = RecoveryKey.Generate();
        state.AccountPrivate = accountKey.PrivateKey;
        state.HistoryKeys[1] = historyKey.PrivateKey;
        SaveState(state);

        await _api.PutAccountKeyAsync(accountKey.PublicKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        var signed = accountKey.SignHistoryKey(state.UserId, historyKey);
        await _api.PutHistoryKeyAsync(new HistoryKeyInfo(signed.Generation, signed.PublicKey, signed.Signature), cancellationToken).ConfigureAwait(false);
        var certificate = state.Certificate().ApproveWith(accountKey);
        await _api.PutDeviceCertificateAsync(state.DeviceId, certificate.CertificateVersion, certificate.AccountSignature!, cancellationToken).ConfigureAwait(false);
        await PublishDeviceListAsync(state, accountKey, (mine.DeviceList?.Version ?? 0) + 1, [new DeviceListEntry(state.DeviceId, certificate.Hash())], cancellationToken).ConfigureAwait(false);
        await _api.PutRecoveryBackupAsync(RecoveryBackup.Seal(recoveryKey, state.UserId, accountKey, state.AllHistoryKeys().ToList()), cancellationToken).ConfigureAwait(false);
        SaveState(state);
        return recoveryKey.Format();
    }

    private async Task PublishDeviceListAsync(SecureDeviceState state, AccountSigningKey accountKey, ulong version, IEnumerable<DeviceListEntry> entries, CancellationToken cancellationToken)
    {
        var list = SignedDeviceList.Create(accountKey, state.UserId, version, entries);
        await _api.PutDeviceListAsync(
            new DeviceListInfo(list.Version, [.. list.Devices.Select(d => new DeviceListEntryInfo(d.DeviceId, d.CertificateHash))], list.Signature),
            cancellationToken).ConfigureAwait(false);
        state.Pins[state.UserId] = new PinnedUser(accountKey.PublicKey, version, Verified: true);
    }

    // The entries of my current verified list (certificate hashes as the directory holds them).
    private static IEnumerable<DeviceListEntry> CurrentEntries(UserKeys keys, VerifiedUser me)
    {
        var verified = me.Devices.Select(device => device.DeviceId).ToHashSet();
        return (keys.DeviceList?.Devices ?? [])
            .Where(entry => verified.Contains(entry.DeviceId))
            .Select(entry => new DeviceListEntry(entry.DeviceId, entry.CertificateHash));
    }

    private async Task SendLinkPayloadAsync(SecureDeviceState state, Guid deviceId, byte[] signingKey, byte[] dhKey, CancellationToken cancellationToken)
    {
        var claimed = await _api.ClaimPrekeyAsync(state.UserId, deviceId, cancellationToken).ConfigureAwait(false);
        var bundle = new PrekeyBundle(
            state.UserId,
            deviceId,
            signingKey,
            dhKey,
            new SignedPrekey(claimed.SignedPrekey.PrekeyId, claimed.SignedPrekey.PublicKey, claimed.SignedPrekey.Signature),
            claimed.OneTimePrekey is { } opk ? new OneTimePrekey(opk.PrekeyId, opk.PublicKey) : null);
        var plaintext = EncodeLinkPayload(state);
        try
        {
            var sealedPayload = X3dh.Seal(state.UserId, state.DeviceId, state.DeviceKeys(), bundle, plaintext);
            await _api.PutLinkPayloadAsync(deviceId, sealedPayload, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    private async Task SyncOwnKeysCoreAsync(SecureDeviceState state, CancellationToken cancellationToken)
    {
        var payload = await _api.GetLinkPayloadAsync(cancellationToken).ConfigureAwait(false);
        if (payload is null)
        {
            return;
        }

        // The sender must be a device of mine whose certificate verifies against the account key in the payload,
        // and that key must be the one the directory publishes for me (the person compared the link code).
        var keys = await _api.GetUserKeysAsync(state.UserId, cancellationToken).ConfigureAwait(false);
        var sender = keys.Devices.FirstOrDefault(device => device.DeviceId == payload.FromDeviceId)
            ?? throw new SecureMessagingException(SecureFailure.BadSignature, $"The link payload comes from device {payload.FromDeviceId}, which has no keys.");
        var (signedPrekeyId, oneTimePrekeyId) = X3dh.ReadPrekeyIds(payload.Payload);
        if (!state.SignedPrekeys.TryGetValue(signedPrekeyId, out var signedPrekeyPrivate))
        {
            throw new SecureMessagingException(SecureFailure.NoKeys, $"The link payload names signed prekey {signedPrekeyId}, which this device does not hold.");
        }

        byte[] oneTimePrivate = [];
        if (oneTimePrekeyId != 0 && !state.OneTimePrekeys.TryGetValue(oneTimePrekeyId, out oneTimePrivate!))
        {
            throw new SecureMessagingException(SecureFailure.NoKeys, $"The link payload names one-time prekey {oneTimePrekeyId}, already used or never held.");
        }

        byte[] plaintext;
        try
        {
            plaintext = X3dh.Open(state.UserId, state.DeviceId, state.DeviceKeys(), signedPrekeyPrivate, oneTimePrivate, state.UserId, sender.DeviceId, sender.DhKey, payload.Payload);
        }
        catch (ChatWireCryptoException ex)
        {
            throw new SecureMessagingException(SecureFailure.BadSignature, "The link payload does not open: " + ex.Message, ex);
        }

        var (accountPrivate, historyKeys) = DecodeLinkPayload(plaintext);
        CryptographicOperations.ZeroMemory(plaintext);
        var accountKey = AccountSigningKey.FromPrivateKey(accountPrivate);
        var senderCertificate = new DeviceCertificate(
            state.UserId, sender.DeviceId, sender.SigningKey, sender.DhKey, sender.CreatedAtMs, sender.CertificateVersion, sender.SelfSignature, sender.AccountSignature);
        if (keys.AccountKey is not { } published
            || !CryptographicOperations.FixedTimeEquals(published.SigningKey, accountKey.PublicKey)
            || !senderCertificate.Verify(accountKey.PublicKey))
        {
            throw new SecureMessagingException(SecureFailure.BadSignature, "The link payload's account key is not my published one, or its sender is not a device it approved.");
        }

        state.AccountPrivate = accountPrivate;
        foreach (var (generation, privateKey) in historyKeys)
        {
            state.HistoryKeys[generation] = privateKey;
        }

        if (oneTimePrekeyId != 0)
        {
            state.OneTimePrekeys.Remove(oneTimePrekeyId);
        }

        state.Pins[state.UserId] = new PinnedUser(accountKey.PublicKey, keys.DeviceList?.Version ?? 0, Verified: true);
        SaveState(state);
        await _api.DeleteLinkPayloadAsync(cancellationToken).ConfigureAwait(false);
    }

    // u8 version || ASK private (32) || u32 count || count × (u32 generation || HK private (32)).
    private static byte[] EncodeLinkPayload(SecureDeviceState state)
    {
        var keys = state.HistoryKeys.OrderBy(pair => pair.Key).ToList();
        var bytes = new byte[1 + 32 + 4 + (keys.Count * 36)];
        bytes[0] = LinkPayloadVersion;
        state.AccountPrivate!.CopyTo(bytes, 1);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(33), (uint)keys.Count);
        var offset = 37;
        foreach (var (generation, privateKey) in keys)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(offset), generation);
            privateKey.CopyTo(bytes, offset + 4);
            offset += 36;
        }

        return bytes;
    }

    private static (byte[] AccountPrivate, List<(uint Generation, byte[] PrivateKey)> HistoryKeys) DecodeLinkPayload(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 37 || bytes[0] != LinkPayloadVersion)
        {
            throw new SecureMessagingException(SecureFailure.BadSignature, "The link payload is not one this version reads.");
        }

        var count = BinaryPrimitives.ReadUInt32BigEndian(bytes[33..]);
        if (count > 10_000 || bytes.Length != 37 + (count * 36))
        {
            throw new SecureMessagingException(SecureFailure.BadSignature, "The link payload's length does not match its history key count.");
        }

        var keys = new List<(uint, byte[])>((int)count);
        for (var i = 0; i < count; i++)
        {
            var offset = 37 + (i * 36);
            keys.Add((BinaryPrimitives.ReadUInt32BigEndian(bytes[offset..]), bytes.Slice(offset + 4, 32).ToArray()));
        }

        return (bytes.Slice(1, 32).ToArray(), keys);
    }
}
