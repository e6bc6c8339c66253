using System.Security.Cryptography;

namespace ChatWire.Crypto;

/// <summary>What an initiator needs of a recipient device for <see cref="X3dh.Seal"/>: its certified keys and claimed prekeys.</summary>
/// <param name="UserId">The recipient user.</param>
/// <param name="DeviceId">The recipient device.</param>
/// <param name="DeviceSigningKey">Its DSK public key, from a certificate the caller has verified up to the user's ASK.</param>
/// <param name="DeviceDhKey">Its DDK public key, from the same certificate.</param>
/// <param name="SignedPrekey">Its signed prekey (the signature is checked here).</param>
/// <param name="OneTimePrekey">A one-time prekey claimed for this message, or null when the server had none left.</param>
public sealed record PrekeyBundle(
    Guid UserId, Guid DeviceId, byte[] DeviceSigningKey, byte[] DeviceDhKey, SignedPrekey SignedPrekey, OneTimePrekey? OneTimePrekey);

/// <summary>
/// One-shot X3DH (docs/e2e.md "Seals"): a single message from device A to device B with no session kept, used for
/// strict-mode chain seeds and the device-link payload. message = u8 version(1) || EK_pub(32) || u32 spk_id ||
/// u32 opk_id (0 = none) || AES-256-GCM(SK, zero nonce, plaintext, AD || header).
/// </summary>
public static class X3dh
{
    private const byte Version = 1;
    private const int HeaderSize = 1 + 32 + 4 + 4;

    /// <summary>Seals <paramref name="plaintext"/> from the sender device to <paramref name="recipient"/>, after checking its signed prekey.</summary>
    public static byte[] Seal(Guid senderUserId, Guid senderDeviceId, DeviceKeys senderKeys, PrekeyBundle recipient, ReadOnlySpan<byte> plaintext) =>
        SealWith(senderUserId, senderDeviceId, senderKeys, recipient, plaintext, Primitives.GenerateX25519());

    // With a given ephemeral key (whose private half is wiped): the test vectors' seals, byte for byte.
    internal static byte[] SealWith(Guid senderUserId, Guid senderDeviceId, DeviceKeys senderKeys, PrekeyBundle recipient, ReadOnlySpan<byte> plaintext, KeyPair ephemeral)
    {
        ArgumentNullException.ThrowIfNull(senderKeys);
        ArgumentNullException.ThrowIfNull(recipient);
        if (!recipient.SignedPrekey.Verify(recipient.DeviceId, recipient.DeviceSigningKey))
        {
            throw new ChatWireCryptoException(CryptoError.BadSignature, $"The signed prekey of device {recipient.DeviceId} is not signed by its device key.");
        }

        if (recipient.OneTimePrekey is { PrekeyId: 0 })
        {
            throw ChatWireCryptoException.Malformed("One-time prekey id 0 means none.");
        }

        var dhCount = recipient.OneTimePrekey is null ? 3 : 4;
        var ikm = new byte[dhCount * 32];
        var sk = new byte[32];
        try
        {
            Primitives.Agree(senderKeys.Dh.PrivateKey, recipient.SignedPrekey.PublicKey, ikm.AsSpan(0, 32));
            Primitives.Agree(ephemeral.PrivateKey, recipient.DeviceDhKey, ikm.AsSpan(32, 32));
            Primitives.Agree(ephemeral.PrivateKey, recipient.SignedPrekey.PublicKey, ikm.AsSpan(64, 32));
            if (recipient.OneTimePrekey is { } oneTime)
            {
                Primitives.Agree(ephemeral.PrivateKey, oneTime.PublicKey, ikm.AsSpan(96, 32));
            }

            Primitives.Hkdf(new byte[32], ikm, Labels.X3dh, sk);
            var header = new ByteWriter(HeaderSize)
                .U8(Version).Bytes(ephemeral.PublicKey).U32(recipient.SignedPrekey.PrekeyId).U32(recipient.OneTimePrekey?.PrekeyId ?? 0)
                .ToArray();
            var aad = AssociatedData(senderKeys.Dh.PublicKey, recipient.DeviceDhKey, senderUserId, senderDeviceId, recipient.UserId, recipient.DeviceId, header);
            var ciphertext = Primitives.Seal(sk, new byte[Primitives.GcmNonceSize], aad, plaintext);
            return [.. header, .. ciphertext];
        }
        finally
        {
            CryptographicOperations.ZeroMemory(ikm);
            CryptographicOperations.ZeroMemory(sk);
            CryptographicOperations.ZeroMemory(ephemeral.PrivateKey);
        }
    }

    /// <summary>The signed and one-time prekey ids a sealed message names, so the recipient can find their private keys.</summary>
    public static (uint SignedPrekeyId, uint OneTimePrekeyId) ReadPrekeyIds(ReadOnlySpan<byte> message)
    {
        var reader = new ByteReader(message);
        if (reader.U8() != Version)
        {
            throw ChatWireCryptoException.Malformed("Unknown X3DH message version.");
        }

        reader.Bytes(32);
        return (reader.U32(), reader.U32());
    }

    /// <summary>
    /// Opens a message sealed to this device. <paramref name="signedPrekeyPrivate"/> and <paramref name="oneTimePrekeyPrivate"/>
    /// are the private keys for the ids <see cref="ReadPrekeyIds"/> returns (null one-time key when the id is 0); the
    /// sender's DDK comes from a certificate the caller has verified. The caller deletes the one-time prekey afterwards.
    /// </summary>
    public static byte[] Open(
        Guid recipientUserId,
        Guid recipientDeviceId,
        DeviceKeys recipientKeys,
        ReadOnlySpan<byte> signedPrekeyPrivate,
        ReadOnlySpan<byte> oneTimePrekeyPrivate,
        Guid senderUserId,
        Guid senderDeviceId,
        ReadOnlySpan<byte> senderDhKey,
        ReadOnlySpan<byte> message)
    {
        ArgumentNullException.ThrowIfNull(recipientKeys);
        if (message.Length < HeaderSize + Primitives.GcmTagSize)
        {
            throw ChatWireCryptoException.Malformed("The X3DH message is shorter than its header and tag.");
        }

        var (_, oneTimeId) = ReadPrekeyIds(message);
        if ((oneTimeId == 0) != oneTimePrekeyPrivate.IsEmpty)
        {
            throw new ChatWireCryptoException(CryptoError.NoKeyForChain, "The one-time prekey the message names is not held.");
        }

        var header = message[..HeaderSize];
        var ephemeralPublic = header.Slice(1, 32);
        var dhCount = oneTimeId == 0 ? 3 : 4;
        var ikm = new byte[dhCount * 32];
        var sk = new byte[32];
        try
        {
            Primitives.Agree(signedPrekeyPrivate, senderDhKey, ikm.AsSpan(0, 32));
            Primitives.Agree(recipientKeys.Dh.PrivateKey, ephemeralPublic, ikm.AsSpan(32, 32));
            Primitives.Agree(signedPrekeyPrivate, ephemeralPublic, ikm.AsSpan(64, 32));
            if (oneTimeId != 0)
            {
                Primitives.Agree(oneTimePrekeyPrivate, ephemeralPublic, ikm.AsSpan(96, 32));
            }

            Primitives.Hkdf(new byte[32], ikm, Labels.X3dh, sk);
            var aad = AssociatedData(senderDhKey, recipientKeys.Dh.PublicKey, senderUserId, senderDeviceId, recipientUserId, recipientDeviceId, header);
            return Primitives.Open(sk, new byte[Primitives.GcmNonceSize], aad, message[HeaderSize..])
                ?? throw new ChatWireCryptoException(CryptoError.DecryptionFailed, "The X3DH message does not authenticate for this sender and device.");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(ikm);
            CryptographicOperations.ZeroMemory(sk);
        }
    }

    // AD = "CW" || DDK_A_pub || DDK_B_pub || user_A || device_A || user_B || device_B, then the header (X3DH §3.3's
    // identity binding, extended with the ids so a message cannot be presented as from or to another device).
    private static byte[] AssociatedData(
        ReadOnlySpan<byte> initiatorDh, ReadOnlySpan<byte> responderDh, Guid userA, Guid deviceA, Guid userB, Guid deviceB, ReadOnlySpan<byte> header) =>
        new ByteWriter(256)
            .Bytes(Labels.X3dhAssociatedData).Bytes(initiatorDh).Bytes(responderDh).Id(userA).Id(deviceA).Id(userB).Id(deviceB).Bytes(header)
            .ToArray();
}
