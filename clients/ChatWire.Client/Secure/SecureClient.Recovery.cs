using System.Security.Cryptography;
using ChatWire.Crypto;

namespace ChatWire.Client.Secure;

// Recovery (E2E.md §1): a user who lost every device restores the account key and history keys from the recovery
// backup on a newly logged-in device. The lost devices are dropped, not kept: whoever holds one of them could
// otherwise keep reading, so their sessions end, the device list holds only this device, and a new history key
// generation starts that only this device has (as a revocation does).
public sealed partial class SecureClient
{
    /// <summary>
    /// Restores my keys on this newly logged-in, pending device with the recovery key printed at signup: opens the
    /// recovery backup, ends the sessions of my other devices (their keys go with them, which the server requires
    /// before a pending device may certify itself), certifies this device with the account key, publishes a device
    /// list holding only this device, starts a new history key generation and refreshes the backup. A recovery
    /// key that does not open the backup changes nothing.
    /// </summary>
    /// <param name="userId">The logged-in user.</param>
    /// <param name="deviceId">This device (the session's device id).</param>
    /// <param name="recoveryKeyText">The recovery key as printed at signup (dashes and case optional).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="SecureMessagingException"><c>RecoveryKeyMismatch</c> when the key is malformed or does not open my backup.</exception>
    public async Task RecoverAsync(Guid userId, Guid deviceId, string recoveryKeyText, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(recoveryKeyText);
        var recoveryKey = RecoveryKey.TryParse(recoveryKeyText.Trim())
            ?? throw new SecureMessagingException(SecureFailure.RecoveryKeyMismatch, "That is not a recovery key (the one printed at signup).");

        // Registers this device's keys and prekeys when the login did not.
        await SetUpDeviceAsync(userId, deviceId, cancellationToken).ConfigureAwait(false);
        await WithStoreAsync(async (store, trust) =>
        {
            var backup = await _api.GetRecoveryBackupAsync(cancellationToken).ConfigureAwait(false)
                ?? throw new SecureMessagingException(SecureFailure.RecoveryKeyMismatch, "My account has no recovery backup.");
            AccountSigningKey accountKey;
            try
            {
                accountKey = RecoveryBackup.Open(recoveryKey, store.UserId, backup).AccountKey;
            }
            catch (ChatWireCryptoException ex)
            {
                throw new SecureMessagingException(SecureFailure.RecoveryKeyMismatch, "This recovery key does not open my recovery backup; nothing was changed.", ex);
            }

            var published = (await _api.GetUserKeysAsync(store.UserId, cancellationToken).ConfigureAwait(false)).AccountKey?.SigningKey;
            if (published is null || !CryptographicOperations.FixedTimeEquals(accountKey.PublicKey, published))
            {
                throw new SecureMessagingException(SecureFailure.BadSignature, "The recovery backup's account key is not my published one; nothing was changed.");
            }

            // Checked above, so only now are the lost devices dropped.
            foreach (var session in await _api.ListSessionsAsync(cancellationToken).ConfigureAwait(false))
            {
                if (session.DeviceId != store.DeviceId)
                {
                    try
                    {
                        await _api.RevokeSessionAsync(session.DeviceId, cancellationToken).ConfigureAwait(false);
                    }
                    catch (ChatWireException ex) when (ex.HttpStatus == 404)
                    {
                        // Logged out meanwhile.
                    }
                }
            }

            store.RestoreFromRecoveryBackup(recoveryKey, backup);
            var certificate = store.Certificate.ApproveWith(accountKey);
            store.SetAccountSignature(certificate.AccountSignature!, accountKey.PublicKey);
            await _api.PutDeviceCertificateAsync(store.DeviceId, certificate.CertificateVersion, certificate.AccountSignature!, cancellationToken).ConfigureAwait(false);
            var keys = await _api.GetUserKeysAsync(store.UserId, cancellationToken).ConfigureAwait(false);
            await PublishDeviceListAsync(
                store, trust, accountKey, (keys.DeviceList?.Version ?? 0) + 1, [new DeviceListEntry(store.DeviceId, certificate.Hash())], cancellationToken).ConfigureAwait(false);

            // A generation the lost devices never had; the server bumps the epochs as on a revocation. Above every
            // generation ever published: a backup left stale by a crash may lack the newest ones.
            var signed = store.CreateHistoryKey(checked((uint)keys.HighestHistoryKeyGeneration));
            await _api.PutHistoryKeyAsync(new HistoryKeyInfo(signed.Generation, signed.PublicKey, signed.Signature), cancellationToken).ConfigureAwait(false);
            await _api.PutRecoveryBackupAsync(store.CreateRecoveryBackup(recoveryKey), cancellationToken).ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    // After a new history key generation on a device without the recovery key: the stored backup is sealed anew to
    // its own key pair, so a recovery finds every generation.
    private async Task RefreshRecoveryBackupAsync(DeviceKeyStore store, CancellationToken cancellationToken)
    {
        if (await _api.GetRecoveryBackupAsync(cancellationToken).ConfigureAwait(false) is not { } previous)
        {
            // No backup to refresh: the account never stored one.
            return;
        }

        byte[] refreshed;
        try
        {
            refreshed = store.RefreshRecoveryBackup(previous);
        }
        catch (ChatWireCryptoException ex)
        {
            throw new SecureMessagingException(
                SecureFailure.BadSignature,
                "The stored recovery backup is not one my account key made, so it was not refreshed with the new history key (everything else is done).",
                ex);
        }

        await _api.PutRecoveryBackupAsync(refreshed, cancellationToken).ConfigureAwait(false);
    }
}
