using System.Security.Cryptography;
using ChatWire.Crypto;

namespace ChatWire.Client.Secure;

/// <summary>Where I stand with another user's account key.</summary>
public enum UserVerification
{
    /// <summary>Trusted on first use, not compared: a key change is a warning (<see cref="SecureSendResult.Warnings"/>) and the new key is used.</summary>
    Unverified = 1,

    /// <summary>I compared safety numbers and marked them verified, and their key is still the one I verified.</summary>
    Verified,

    /// <summary>
    /// I verified them, and their account key has changed since. Until I verify the new number, or clear the mark to
    /// accept the key unverified, nothing is sealed to the new key: a send that starts a chain (the first in a
    /// conversation, after a membership change, after 1,000 messages or 7 days, or after the key store was reopened)
    /// is refused with <see cref="SecureFailure.KeyChanged"/>, and a new chain of theirs is not read (its messages
    /// decrypt to a failure reason naming E2E_KEY_CHANGED). A chain already
    /// sealed to the key I verified goes on: only holders of that key can read it.
    /// </summary>
    KeyChangedSinceVerified,
}

// Verifying other users: the mark that makes a change of their account key stop everything instead of a warning.
public sealed partial class SecureClient
{
    /// <summary>Where I stand with <paramref name="userId"/>'s account key: unverified, verified, or changed since I verified it.</summary>
    /// <param name="userId">Another user.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="SecureMessagingException"><c>NoKeys</c> when they have no keys; <c>BadSignature</c> when what the directory serves does not verify.</exception>
    public Task<UserVerification> VerificationAsync(Guid userId, CancellationToken cancellationToken = default) =>
        WithStoreAsync(async (store, trust) =>
        {
            RequireOtherUser(store, userId);
            var pinned = trust.Pins.GetValueOrDefault(userId);
            var user = KeyVerifier.Verify(await _api.GetUserKeysAsync(userId, cancellationToken).ConfigureAwait(false), trust, inspectOnly: true);
            if (pinned is not { Verified: true })
            {
                return UserVerification.Unverified;
            }

            return CryptographicOperations.FixedTimeEquals(pinned.AccountKey, user.AccountKey) ? UserVerification.Verified : UserVerification.KeyChangedSinceVerified;
        }, cancellationToken);

    /// <summary>
    /// Marks <paramref name="userId"/> verified after we compared safety numbers: <paramref name="safetyNumber"/> is the
    /// number that matched (spaces ignored), and it must still be the number of our current keys, so a key that changed
    /// while we compared is not marked. From then on, a change of their account key stops sealing keys to them and
    /// accepting new chains from them (<see cref="SecureFailure.KeyChanged"/>, see <see cref="UserVerification.KeyChangedSinceVerified"/>)
    /// instead of a warning. Verifying again after such a change accepts the new key.
    /// </summary>
    /// <param name="userId">Another user.</param>
    /// <param name="safetyNumber">The 60 digits both of us saw.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="SecureMessagingException"><c>SafetyNumberMismatch</c> when the number is not our current one.</exception>
    public Task MarkVerifiedAsync(Guid userId, string safetyNumber, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(safetyNumber);
        return WithStoreAsync(async (store, trust) =>
        {
            RequireOtherUser(store, userId);
            var me = await VerifiedUserCoreAsync(trust, store.UserId, cancellationToken).ConfigureAwait(false);
            var other = KeyVerifier.Verify(await _api.GetUserKeysAsync(userId, cancellationToken).ConfigureAwait(false), trust, inspectOnly: true);
            if (!SafetyNumber.Matches(SafetyNumber.Compute(store.UserId, me.AccountKey, userId, other.AccountKey), safetyNumber))
            {
                throw new SecureMessagingException(
                    SecureFailure.SafetyNumberMismatch,
                    "That is not the safety number of your and their current keys; they were not marked verified. Compare the number shown now.");
            }

            var pinned = trust.Pins.GetValueOrDefault(userId);
            trust.Pins[userId] = pinned is not null && CryptographicOperations.FixedTimeEquals(pinned.AccountKey, other.AccountKey)
                ? pinned with { DeviceListVersion = Math.Max(pinned.DeviceListVersion, other.DeviceListVersion), Verified = true }
                : new PinnedUser(other.AccountKey, other.DeviceListVersion, Verified: true);
            return true;
        }, cancellationToken);
    }

    /// <summary>
    /// Takes the verified mark off <paramref name="userId"/>: their key is trusted on first use again, and a key that
    /// changed since I verified it is accepted, with a warning, at the next use.
    /// </summary>
    /// <param name="userId">Another user.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task ClearVerificationAsync(Guid userId, CancellationToken cancellationToken = default) =>
        WithStoreAsync((store, trust) =>
        {
            RequireOtherUser(store, userId);
            if (trust.Pins.GetValueOrDefault(userId) is { } pinned)
            {
                trust.Pins[userId] = pinned with { Verified = false };
            }

            return Task.FromResult(true);
        }, cancellationToken);

    private async Task<string> CurrentSafetyNumberAsync(DeviceKeyStore store, TrustState trust, Guid userId, CancellationToken cancellationToken)
    {
        var me = await VerifiedUserCoreAsync(trust, store.UserId, cancellationToken).ConfigureAwait(false);
        var other = KeyVerifier.Verify(await _api.GetUserKeysAsync(userId, cancellationToken).ConfigureAwait(false), trust, inspectOnly: true);
        return SafetyNumber.Format(SafetyNumber.Compute(store.UserId, me.AccountKey, userId, other.AccountKey));
    }

    // My own account is verified by construction (my devices hold its key); marks are for other users.
    private static void RequireOtherUser(DeviceKeyStore store, Guid userId)
    {
        if (userId == store.UserId)
        {
            throw new ArgumentException("My own account is always verified; verification is for other users.", nameof(userId));
        }
    }
}
