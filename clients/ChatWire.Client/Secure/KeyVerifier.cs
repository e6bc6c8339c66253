using System.Security.Cryptography;
using ChatWire.Crypto;

namespace ChatWire.Client.Secure;

/// <summary>A device whose certificate verified up to its user's account key and is on the signed list.</summary>
/// <param name="DeviceId">The device.</param>
/// <param name="SigningKey">Its device signing key.</param>
/// <param name="DhKey">Its device DH key.</param>
/// <param name="SignedPrekey">Its signed prekey, when one is published and its signature verified.</param>
public sealed record VerifiedDevice(Guid DeviceId, byte[] SigningKey, byte[] DhKey, SignedPrekey? SignedPrekey);

/// <summary>
/// A revoked device whose certificate verified up to its user's account key: what it sealed or signed in an epoch
/// before the conversation's current one (every revocation starts a new epoch in each of the user's conversations)
/// is still accepted, so devices linked later read its history; nothing is ever sealed to it.
/// </summary>
/// <param name="DeviceId">The device.</param>
/// <param name="SigningKey">Its device signing key.</param>
/// <param name="DhKey">Its device DH key.</param>
/// <param name="RevokedAt">When the server says it was revoked (informational: the server's clock).</param>
public sealed record VerifiedFormerDevice(Guid DeviceId, byte[] SigningKey, byte[] DhKey, DateTimeOffset RevokedAt);

/// <summary>A user's keys after every signature was checked up to the account key this device trusts.</summary>
/// <param name="UserId">The user.</param>
/// <param name="AccountKey">The account signing public key (pinned on first use).</param>
/// <param name="HistoryKey">The newest history key, its signature verified; null when the user published none.</param>
/// <param name="DeviceListVersion">The signed device list's version.</param>
/// <param name="Devices">The devices on the signed list whose certificates verified.</param>
/// <param name="KeyChanged">The account key differs from the one pinned before (shown as a warning).</param>
/// <param name="FormerDevices">Revoked devices whose certificates verified and that are not on the signed list.</param>
public sealed record VerifiedUser(
    Guid UserId, byte[] AccountKey, SignedHistoryKey? HistoryKey, ulong DeviceListVersion, IReadOnlyList<VerifiedDevice> Devices, bool KeyChanged, IReadOnlyList<VerifiedFormerDevice> FormerDevices)
{
    /// <summary>The device that sealed or signed something in <paramref name="epoch"/>, given the conversation is now at <paramref name="currentEpoch"/>: a listed device, or a former one for an earlier epoch only.</summary>
    /// <param name="deviceId">The sealing or signing device.</param>
    /// <param name="epoch">The epoch of what it sealed or signed.</param>
    /// <param name="currentEpoch">The conversation's epoch now.</param>
    /// <returns>Its signing and DH keys, or null when it may not be trusted for that epoch.</returns>
    public (byte[] SigningKey, byte[] DhKey)? DeviceFor(Guid deviceId, ulong epoch, ulong currentEpoch)
    {
        if (Devices.FirstOrDefault(device => device.DeviceId == deviceId) is { } current)
        {
            return (current.SigningKey, current.DhKey);
        }

        return epoch < currentEpoch && FormerDevices.FirstOrDefault(device => device.DeviceId == deviceId) is { } former
            ? (former.SigningKey, former.DhKey)
            : null;
    }
}

// Checks what the key directory served (E2E.md §1, §10.3-4): the account key against the pin, the device
// list's signature and version, each listed device's certificate, each signed prekey, the history key. A
// device that fails is left out (it never gets keys); a list or account key that fails fails the whole user.
internal static class KeyVerifier
{
    // inspectOnly: for showing the safety number and where I stand, and for verifying it. A verified user's changed
    // key is reported (KeyChanged) and checked like a first sighting instead of refused, and no pin is written: a
    // verified pin stays (sending to them stays refused until they are verified again), and an unverified user's
    // changed key is still new at the next send, which warns about it.
    public static VerifiedUser Verify(UserKeys keys, TrustState state, bool inspectOnly = false)
    {
        var account = keys.AccountKey?.SigningKey
            ?? throw new SecureMessagingException(SecureFailure.NoKeys, $"User {keys.UserId} has not set up end-to-end encryption yet (no account key).");
        var keyChanged = false;
        state.Pins.TryGetValue(keys.UserId, out var pin);
        if (pin is not null && !CryptographicOperations.FixedTimeEquals(pin.AccountKey, account))
        {
            if (pin.Verified && !inspectOnly)
            {
                throw new SecureMessagingException(
                    SecureFailure.KeyChanged,
                    $"The account key of user {keys.UserId}, whom you verified, changed. Compare safety numbers again (chatwire verify) before sending.");
            }

            // Unverified: a warning, and the new key becomes the pin (the version history starts over with it).
            keyChanged = true;
            pin = null;
        }

        var list = keys.DeviceList ?? throw new SecureMessagingException(SecureFailure.NoKeys, $"User {keys.UserId} has no signed device list.");
        var signedList = new SignedDeviceList(keys.UserId, list.Version, [.. list.Devices.Select(d => new DeviceListEntry(d.DeviceId, d.CertificateHash))], list.Signature);
        try
        {
            signedList.VerifyNotRolledBack(account, pin?.DeviceListVersion);
        }
        catch (ChatWireCryptoException ex)
        {
            throw new SecureMessagingException(SecureFailure.BadSignature, ex.Message, ex);
        }

        SignedHistoryKey? historyKey = null;
        if (keys.HistoryKey is { } hk)
        {
            historyKey = new SignedHistoryKey(hk.Generation, hk.PublicKey, hk.Signature);
            if (!historyKey.Verify(keys.UserId, account))
            {
                throw new SecureMessagingException(SecureFailure.BadSignature, $"The history key of user {keys.UserId} is not signed by their account key.");
            }
        }

        var devices = new List<VerifiedDevice>();
        foreach (var device in keys.Devices)
        {
            if (device.AccountSignature is null)
            {
                continue;
            }

            var certificate = new DeviceCertificate(
                keys.UserId, device.DeviceId, device.SigningKey, device.DhKey, device.CreatedAtMs, device.CertificateVersion, device.SelfSignature, device.AccountSignature);
            if (!certificate.Verify(account) || !signedList.Lists(certificate))
            {
                continue;
            }

            var prekey = device.SignedPrekey is { } spk ? new SignedPrekey(spk.PrekeyId, spk.PublicKey, spk.Signature) : null;
            devices.Add(new VerifiedDevice(device.DeviceId, device.SigningKey, device.DhKey, prekey is not null && prekey.Verify(device.DeviceId, device.SigningKey) ? prekey : null));
        }

        // A revoked device counts only when the account key certified it and the signed list no longer names it.
        var former = new List<VerifiedFormerDevice>();
        foreach (var device in keys.FormerDevices ?? [])
        {
            var certificate = new DeviceCertificate(
                keys.UserId, device.DeviceId, device.SigningKey, device.DhKey, device.CreatedAtMs, device.CertificateVersion, device.SelfSignature, device.AccountSignature);
            if (certificate.Verify(account) && signedList.Devices.All(entry => entry.DeviceId != device.DeviceId))
            {
                former.Add(new VerifiedFormerDevice(device.DeviceId, device.SigningKey, device.DhKey, device.RevokedAt));
            }
        }

        if (!inspectOnly)
        {
            state.Pins[keys.UserId] = new PinnedUser(account, Math.Max(list.Version, pin?.DeviceListVersion ?? 0), pin?.Verified ?? false);
        }

        return new VerifiedUser(keys.UserId, account, historyKey, list.Version, devices, keyChanged, former);
    }
}
