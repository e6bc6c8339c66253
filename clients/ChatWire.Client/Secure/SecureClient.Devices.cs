using ChatWire.Crypto;

namespace ChatWire.Client.Secure;

// Device lifecycle (E2E.md §1, §5): first-device setup, linking a new device by its code, picking up the link
// payload, revoking a device. The link payload carries the account key and every history key, sealed to the
// new device with one-shot X3DH; a revocation sends the new history key the same way to the devices that stay.
public sealed partial class SecureClient
{
    /// <summary>
    /// Approves my pending device with this link code (shown on it after login): checks that the code is the one
    /// its keys give, signs its certificate, publishes the device list with it, and seals the account and history
    /// keys to it. Returns the approved device.
    /// </summary>
    /// <param name="linkCode">The code, <c>XXXXX-XXXXX</c> (dash and case optional).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="SecureMessagingException"><c>LinkCodeMismatch</c> when no pending device shows this code or its keys do not give it.</exception>
    public Task<PendingDevice> ApproveDeviceAsync(string linkCode, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(linkCode);
        return WithStoreAsync(async (store, trust) =>
        {
            RequireApproved(store);
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
                store.UserId, pending.DeviceId, pending.SigningKey, pending.DhKey, pending.CreatedAtMs, pending.CertificateVersion, pending.SelfSignature, null);
            if (!LinkCode.Matches(certificate.LinkCode(), normalized) || !certificate.VerifySelf())
            {
                throw new SecureMessagingException(SecureFailure.LinkCodeMismatch, "The keys the server shows for this device do not give this link code; it was not approved.");
            }

            var accountKey = HeldAccountKey(store)!;
            var approved = certificate.ApproveWith(accountKey);
            await _api.PutDeviceCertificateAsync(pending.DeviceId, pending.CertificateVersion, approved.AccountSignature!, cancellationToken).ConfigureAwait(false);
            var keys = await _api.GetUserKeysAsync(store.UserId, cancellationToken).ConfigureAwait(false);
            var me = KeyVerifier.Verify(keys, trust);
            var entries = CurrentEntries(keys, me).Where(entry => entry.DeviceId != pending.DeviceId).Append(new DeviceListEntry(pending.DeviceId, approved.Hash()));
            await PublishDeviceListAsync(store, trust, accountKey, me.DeviceListVersion + 1, entries, cancellationToken).ConfigureAwait(false);
            await SendLinkPayloadAsync(store, pending.DeviceId, pending.SigningKey, pending.DhKey, cancellationToken).ConfigureAwait(false);
            return pending;
        }, cancellationToken);
    }

    /// <summary>
    /// Revokes one of my other devices: ends its session, publishes a device list without it, and makes a new
    /// history key generation that only the remaining devices get (E2E.md §5). The server bumps the epoch of my
    /// conversations, so the next message of every member starts a new chain the revoked device cannot read. The
    /// recovery backup is sealed anew with the new generation (to its own key, without the recovery key).
    /// </summary>
    /// <param name="deviceId">The device to revoke (not this one: log out instead).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task RevokeDeviceAsync(Guid deviceId, CancellationToken cancellationToken = default) =>
        WithStoreAsync(async (store, trust) =>
        {
            RequireApproved(store);
            if (deviceId == store.DeviceId)
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

            var accountKey = HeldAccountKey(store)!;
            var keys = await _api.GetUserKeysAsync(store.UserId, cancellationToken).ConfigureAwait(false);
            var me = KeyVerifier.Verify(keys, trust);
            var remaining = CurrentEntries(keys, me).Where(entry => entry.DeviceId != deviceId).ToList();
            await PublishDeviceListAsync(store, trust, accountKey, me.DeviceListVersion + 1, remaining, cancellationToken).ConfigureAwait(false);

            var signed = store.CreateHistoryKey();
            await _api.PutHistoryKeyAsync(new HistoryKeyInfo(signed.Generation, signed.PublicKey, signed.Signature), cancellationToken).ConfigureAwait(false);
            foreach (var device in me.Devices.Where(device => device.DeviceId != deviceId && device.DeviceId != store.DeviceId))
            {
                await SendLinkPayloadAsync(store, device.DeviceId, device.SigningKey, device.DhKey, cancellationToken).ConfigureAwait(false);
            }

            await RefreshRecoveryBackupAsync(store, cancellationToken).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    private async Task RegisterNewDeviceAsync(DeviceKeyStore store, Guid userId, Guid deviceId, CancellationToken cancellationToken)
    {
        // The store writes the private halves before the server hears of the public ones.
        var certificate = store.CreateDeviceKeys(userId, deviceId);
        await _api.PutMyDeviceKeysAsync(
            new DeviceKeysRequest(certificate.SigningKey, certificate.DhKey, certificate.CreatedAtMs, certificate.CertificateVersion, certificate.SelfSignature),
            cancellationToken).ConfigureAwait(false);
        var signedPrekey = store.RotateSignedPrekey();
        await _api.PutSignedPrekeyAsync(new SignedPrekeyInfo(signedPrekey.PrekeyId, signedPrekey.PublicKey, signedPrekey.Signature), cancellationToken).ConfigureAwait(false);
        var oneTime = store.GenerateOneTimePrekeys(InitialOneTimePrekeys);
        await _api.UploadOneTimePrekeysAsync([.. oneTime.Select(prekey => new OneTimePrekeyInfo(prekey.PrekeyId, prekey.PublicKey))], cancellationToken).ConfigureAwait(false);
    }

    // First device of the user: account key, history key 1, self-approved certificate, device list, recovery backup.
    private async Task<string> CreateAccountAsync(DeviceKeyStore store, TrustState trust, UserKeys mine, CancellationToken cancellationToken)
    {
        var accountKey = AccountSigningKey.Generate();
        store.ImportAccountKey(accountKey);
        await _api.PutAccountKeyAsync(accountKey.PublicKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        var signed = store.CreateHistoryKey();
        await _api.PutHistoryKeyAsync(new HistoryKeyInfo(signed.Generation, signed.PublicKey, signed.Signature), cancellationToken).ConfigureAwait(false);
        var certificate = store.Certificate.ApproveWith(accountKey);
        store.SetAccountSignature(certificate.AccountSignature!, accountKey.PublicKey);
        await _api.PutDeviceCertificateAsync(store.DeviceId, certificate.CertificateVersion, certificate.AccountSignature!, cancellationToken).ConfigureAwait(false);
        await PublishDeviceListAsync(store, trust, accountKey, (mine.DeviceList?.Version ?? 0) + 1, [new DeviceListEntry(store.DeviceId, certificate.Hash())], cancellationToken).ConfigureAwait(false);
        var recoveryKey = RecoveryKey.Generate();
        await _api.PutRecoveryBackupAsync(store.CreateRecoveryBackup(recoveryKey), cancellationToken).ConfigureAwait(false);
        return recoveryKey.Format();
    }

    private async Task PublishDeviceListAsync(
        DeviceKeyStore store, TrustState trust, AccountSigningKey accountKey, ulong version, IEnumerable<DeviceListEntry> entries, CancellationToken cancellationToken)
    {
        var list = SignedDeviceList.Create(accountKey, store.UserId, version, entries);
        await _api.PutDeviceListAsync(
            new DeviceListInfo(list.Version, [.. list.Devices.Select(d => new DeviceListEntryInfo(d.DeviceId, d.CertificateHash))], list.Signature),
            cancellationToken).ConfigureAwait(false);
        trust.Pins[store.UserId] = new PinnedUser(accountKey.PublicKey, version, Verified: true);
    }

    // The entries of my current verified list (certificate hashes as the directory holds them).
    private static IEnumerable<DeviceListEntry> CurrentEntries(UserKeys keys, VerifiedUser me)
    {
        var verified = me.Devices.Select(device => device.DeviceId).ToHashSet();
        return (keys.DeviceList?.Devices ?? [])
            .Where(entry => verified.Contains(entry.DeviceId))
            .Select(entry => new DeviceListEntry(entry.DeviceId, entry.CertificateHash));
    }

    private async Task SendLinkPayloadAsync(DeviceKeyStore store, Guid deviceId, byte[] signingKey, byte[] dhKey, CancellationToken cancellationToken)
    {
        var bundle = await ClaimBundleAsync(store.UserId, deviceId, signingKey, dhKey, cancellationToken).ConfigureAwait(false);
        await _api.PutLinkPayloadAsync(deviceId, store.SealLinkPayload(bundle), cancellationToken).ConfigureAwait(false);
    }

    private async Task<PrekeyBundle> ClaimBundleAsync(Guid userId, Guid deviceId, byte[] signingKey, byte[] dhKey, CancellationToken cancellationToken)
    {
        var claimed = await _api.ClaimPrekeyAsync(userId, deviceId, cancellationToken).ConfigureAwait(false);
        return new PrekeyBundle(
            userId,
            deviceId,
            signingKey,
            dhKey,
            new SignedPrekey(claimed.SignedPrekey.PrekeyId, claimed.SignedPrekey.PublicKey, claimed.SignedPrekey.Signature),
            claimed.OneTimePrekey is { } opk ? new OneTimePrekey(opk.PrekeyId, opk.PublicKey) : null);
    }

    private async Task SyncOwnKeysCoreAsync(DeviceKeyStore store, TrustState trust, CancellationToken cancellationToken)
    {
        var payload = await _api.GetLinkPayloadAsync(cancellationToken).ConfigureAwait(false);
        if (payload is null)
        {
            return;
        }

        // The sender must be a device of mine whose certificate verifies against my published account key (the
        // person compared the link code, so that key is the one they approved with), and after opening, the
        // account key in the payload must be that same key.
        var keys = await _api.GetUserKeysAsync(store.UserId, cancellationToken).ConfigureAwait(false);
        var published = keys.AccountKey?.SigningKey
            ?? throw new SecureMessagingException(SecureFailure.NoKeys, "My account has no published account key.");
        var sender = keys.Devices.FirstOrDefault(device => device.DeviceId == payload.FromDeviceId);
        var senderCertificate = sender is null ? null : new DeviceCertificate(
            store.UserId, sender.DeviceId, sender.SigningKey, sender.DhKey, sender.CreatedAtMs, sender.CertificateVersion, sender.SelfSignature, sender.AccountSignature);
        if (senderCertificate is null || !senderCertificate.Verify(published))
        {
            throw new SecureMessagingException(SecureFailure.BadSignature, $"The link payload comes from device {payload.FromDeviceId}, which my account key did not approve.");
        }

        try
        {
            // The payload's account key is checked against the published one before anything in it is kept.
            store.OpenLinkPayload(payload.Payload, sender!.DeviceId, sender.DhKey, published);
        }
        catch (ChatWireCryptoException ex)
        {
            throw new SecureMessagingException(SecureFailure.BadSignature, "The link payload does not open: " + ex.Message, ex);
        }

        if (keys.Devices.FirstOrDefault(device => device.DeviceId == store.DeviceId)?.AccountSignature is { } mySignature && store.Certificate.AccountSignature is not { Length: > 0 })
        {
            store.SetAccountSignature(mySignature, published);
        }

        trust.Pins[store.UserId] = new PinnedUser(published, keys.DeviceList?.Version ?? 0, Verified: true);
        await _api.DeleteLinkPayloadAsync(cancellationToken).ConfigureAwait(false);
    }
}
