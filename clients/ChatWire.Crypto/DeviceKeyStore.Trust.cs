using System.Security.Cryptography;

namespace ChatWire.Crypto;

/// <summary>What <see cref="DeviceKeyStore.ObserveAccountKey"/> found about a user's account signing key.</summary>
public enum AccountKeyObservation
{
    /// <summary>First time this user's account key is seen: trusted on first use.</summary>
    FirstSeen = 1,

    /// <summary>The same key as before.</summary>
    Unchanged,

    /// <summary>The key changed: show a key-change notice in the user's conversations.</summary>
    Changed,

    /// <summary>The key of a user marked verified changed: the mark is cleared, and sending to them should wait until they are verified again.</summary>
    ChangedWasVerified,
}

public sealed partial class DeviceKeyStore
{
    /// <summary>
    /// Records the account signing key the key directory gives for <paramref name="userId"/> and says how it compares
    /// with the one seen before (trust on first use; a change is remembered and clears the verified mark).
    /// </summary>
    public AccountKeyObservation ObserveAccountKey(Guid userId, ReadOnlySpan<byte> accountSigningPublicKey)
    {
        if (accountSigningPublicKey.Length != Primitives.KeySize)
        {
            throw ChatWireCryptoException.Malformed("An account signing key is 32 bytes.");
        }

        var key = accountSigningPublicKey.ToArray();
        var held = Identity().AccountKeys.GetValueOrDefault(userId);
        if (held is not null && CryptographicOperations.FixedTimeEquals(held.PublicKey, key))
        {
            return AccountKeyObservation.Unchanged;
        }

        Update(identity => identity.AccountKeys[userId] = new AccountKeyState(key, Verified: false));
        return held is null ? AccountKeyObservation.FirstSeen
            : held.Verified ? AccountKeyObservation.ChangedWasVerified
            : AccountKeyObservation.Changed;
    }

    /// <summary>
    /// Marks <paramref name="userId"/> verified (after the safety numbers matched) for exactly this account key; false if
    /// the key is not the one held for them (it changed while the numbers were compared).
    /// </summary>
    public bool MarkVerified(Guid userId, ReadOnlySpan<byte> accountSigningPublicKey)
    {
        var held = Identity().AccountKeys.GetValueOrDefault(userId);
        if (held is null || !CryptographicOperations.FixedTimeEquals(held.PublicKey, accountSigningPublicKey))
        {
            return false;
        }

        Update(identity => identity.AccountKeys[userId] = held with { Verified = true });
        return true;
    }

    /// <summary>Whether <paramref name="userId"/> is marked verified for the account key held for them.</summary>
    public bool IsVerified(Guid userId) => Identity().AccountKeys.GetValueOrDefault(userId)?.Verified ?? false;
}
