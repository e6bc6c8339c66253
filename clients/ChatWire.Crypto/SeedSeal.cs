using System.Security.Cryptography;

namespace ChatWire.Crypto;

/// <summary>
/// Sealing a sender-chain seed to its recipients (docs/e2e.md "Seals"). History mode seals to a user's history key and
/// signs with the sender's DSK: sealed = EK_pub(32) || AES-GCM ciphertext and tag || signature(64). Strict mode seals to
/// each device with one-shot <see cref="X3dh"/>.
/// </summary>
public static class SeedSeal
{
    private const int Overhead = 32 + Primitives.GcmTagSize + Primitives.SignatureSize;

    /// <summary>Seals <paramref name="seed"/> to generation <paramref name="generation"/> of <paramref name="recipientUserId"/>'s history key.</summary>
    public static byte[] SealToHistoryKey(SeedPayload seed, Guid recipientUserId, uint generation, ReadOnlySpan<byte> historyPublicKey, DeviceKeys senderKeys) =>
        SealToHistoryKeyWith(seed, recipientUserId, generation, historyPublicKey, senderKeys, Primitives.GenerateX25519());

    // With a given ephemeral key (whose private half is wiped): the test vectors' seals, byte for byte.
    internal static byte[] SealToHistoryKeyWith(SeedPayload seed, Guid recipientUserId, uint generation, ReadOnlySpan<byte> historyPublicKey, DeviceKeys senderKeys, KeyPair ephemeral)
    {
        ArgumentNullException.ThrowIfNull(seed);
        ArgumentNullException.ThrowIfNull(senderKeys);
        var key = new byte[32];
        var plaintext = seed.Encode();
        try
        {
            DeriveKey(ephemeral.PrivateKey, historyPublicKey, ephemeral.PublicKey, historyPublicKey, key);
            var aad = AssociatedData(recipientUserId, generation, seed.ConversationId, seed.Epoch, seed.ChainId, seed.SenderDeviceId);
            var ciphertext = Primitives.Seal(key, new byte[Primitives.GcmNonceSize], aad, plaintext);
            var sealedPart = new ByteWriter(32 + ciphertext.Length).Bytes(ephemeral.PublicKey).Bytes(ciphertext).ToArray();
            var signature = senderKeys.Sign(SignedBytes(recipientUserId, generation, sealedPart));
            return [.. sealedPart, .. signature];
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
            CryptographicOperations.ZeroMemory(plaintext);
            CryptographicOperations.ZeroMemory(ephemeral.PrivateKey);
        }
    }

    /// <summary>
    /// Opens a history-mode seal addressed to this user's history key. The conversation, epoch, chain and sender come
    /// from the key-bundle entry; <paramref name="senderSigningKey"/> is the DSK of the sender device from its verified
    /// certificate. The seed must name the same conversation, epoch, chain and sender, or the seal is refused.
    /// </summary>
    public static SeedPayload OpenFromHistoryKey(
        ReadOnlySpan<byte> sealedBlob,
        Guid recipientUserId,
        HistoryKey historyKey,
        Guid conversationId,
        ulong epoch,
        Guid chainId,
        Guid senderUserId,
        Guid senderDeviceId,
        ReadOnlySpan<byte> senderSigningKey)
    {
        ArgumentNullException.ThrowIfNull(historyKey);
        if (sealedBlob.Length < Overhead)
        {
            throw ChatWireCryptoException.Malformed("The sealed seed is shorter than its fixed parts.");
        }

        var sealedPart = sealedBlob[..^Primitives.SignatureSize];
        if (!Primitives.Verify(senderSigningKey, SignedBytes(recipientUserId, historyKey.Generation, sealedPart), sealedBlob[^Primitives.SignatureSize..]))
        {
            throw new ChatWireCryptoException(CryptoError.BadSignature, $"The sealed seed is not signed by device {senderDeviceId}.");
        }

        var ephemeralPublic = sealedPart[..32];
        var key = new byte[32];
        try
        {
            DeriveKey(historyKey.PrivateKey, ephemeralPublic, ephemeralPublic, historyKey.PublicKey, key);
            var aad = AssociatedData(recipientUserId, historyKey.Generation, conversationId, epoch, chainId, senderDeviceId);
            var plaintext = Primitives.Open(key, new byte[Primitives.GcmNonceSize], aad, sealedPart[32..])
                ?? throw new ChatWireCryptoException(CryptoError.DecryptionFailed, "The sealed seed does not open with this history key for this conversation and chain.");
            var seed = SeedPayload.Decode(plaintext);
            CryptographicOperations.ZeroMemory(plaintext);
            CheckNames(seed, conversationId, epoch, chainId, senderUserId, senderDeviceId);
            return seed;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    /// <summary>Seals <paramref name="seed"/> to one device (strict mode) by one-shot X3DH.</summary>
    public static byte[] SealToDevice(SeedPayload seed, DeviceKeys senderKeys, PrekeyBundle recipient)
    {
        ArgumentNullException.ThrowIfNull(seed);
        var plaintext = seed.Encode();
        try
        {
            return X3dh.Seal(seed.SenderUserId, seed.SenderDeviceId, senderKeys, recipient, plaintext);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    /// <summary>Checks that an opened seed names what the key-bundle entry said it does.</summary>
    internal static void CheckNames(SeedPayload seed, Guid conversationId, ulong epoch, Guid chainId, Guid senderUserId, Guid senderDeviceId)
    {
        if (seed.ConversationId != conversationId || seed.Epoch != epoch || seed.ChainId != chainId)
        {
            throw new ChatWireCryptoException(CryptoError.WrongConversation, "The sealed seed is for another conversation, epoch or chain than its key bundle says.");
        }

        if (seed.SenderUserId != senderUserId || seed.SenderDeviceId != senderDeviceId)
        {
            throw new ChatWireCryptoException(CryptoError.WrongSender, "The sealed seed is from another sender than its key bundle says.");
        }
    }

    // key = HKDF(salt = EK_pub || HK_pub, ikm = DH(EK, HK), info = "CW-seal-v1", 32); the all-zero DH output is refused.
    private static void DeriveKey(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> peerPublic, ReadOnlySpan<byte> ephemeralPublic, ReadOnlySpan<byte> historyPublic, Span<byte> key)
    {
        Span<byte> shared = stackalloc byte[32];
        try
        {
            Primitives.Agree(privateKey, peerPublic, shared);
            var salt = new ByteWriter(64).Bytes(ephemeralPublic).Bytes(historyPublic).ToArray();
            Primitives.Hkdf(salt, shared, Labels.Seal, key);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(shared);
        }
    }

    private static byte[] AssociatedData(Guid recipientUserId, uint generation, Guid conversationId, ulong epoch, Guid chainId, Guid senderDeviceId) =>
        new ByteWriter(96).Bytes(Labels.Seal).Id(recipientUserId).U32(generation).Id(conversationId).U64(epoch).Id(chainId).Id(senderDeviceId).ToArray();

    private static byte[] SignedBytes(Guid recipientUserId, uint generation, ReadOnlySpan<byte> sealedPart) =>
        new ByteWriter(sealedPart.Length + 40).Bytes(Labels.SeedSignature).Id(recipientUserId).U32(generation).Bytes(sealedPart).ToArray();
}
