using System.Security.Cryptography;

namespace ChatWire.Crypto;

/// <summary>Envelope encryption on a sender chain, and its checked decryption.</summary>
internal static class MessageCipher
{
    /// <summary>
    /// Encrypts <paramref name="plaintext"/> at the chain's current iteration and advances the chain. The header's
    /// sender, epoch, chain, epoch secret, iteration and nonce fields are taken from the chain, whatever the template
    /// says. An epoch-secret chain signs with <paramref name="deviceSigningPrivateKey"/> (the sender's DSK).
    /// </summary>
    public static byte[] Encrypt(OutboundChain chain, EnvelopeHeader template, ReadOnlySpan<byte> plaintext, byte[]? deviceSigningPrivateKey = null)
    {
        var signingKey = chain.EpochSecretId is null ? chain.SigningPrivateKey
            : deviceSigningPrivateKey ?? throw new ArgumentException("An epoch-secret chain signs with the device signing key.", nameof(deviceSigningPrivateKey));
        if (template.ConversationId != chain.ConversationId)
        {
            throw new ArgumentException("The message is for another conversation than the chain.", nameof(template));
        }

        var okm = new byte[ChainKdf.MessageKeyMaterialSize];
        var padded = Padding.Pad(plaintext);
        try
        {
            var iteration = chain.Advance(okm);
            var header = template with
            {
                SenderUserId = chain.SenderUserId,
                SenderDeviceId = chain.SenderDeviceId,
                Epoch = chain.Epoch,
                ChainId = chain.ChainId,
                EpochSecretId = chain.EpochSecretId,
                Iteration = iteration,
                Nonce = okm[32..44],
            };
            var headerBytes = Envelope.EncodeHeader(header);
            var ciphertext = Primitives.Seal(okm.AsSpan(0, 32), header.Nonce, Envelope.AssociatedData(headerBytes), padded);
            return Envelope.Assemble(headerBytes, ciphertext, signingKey);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(okm);
            CryptographicOperations.ZeroMemory(padded);
        }
    }

    /// <summary>
    /// Decrypts an envelope delivered in <paramref name="conversationId"/>. The order of checks matters: nothing that is
    /// not signed by the chain's SigK can move the chain, and the chain moves only once the ciphertext authenticated.
    /// <paramref name="chainLookup"/> finds the receiving state by chain id; <paramref name="isDuplicateMessageId"/> says
    /// whether the message id was already accepted on another chain of the same sender device. An envelope on an
    /// epoch-secret chain (flag 0x10) needs <paramref name="epochSecrets"/>: the secret it names, from which a chain not
    /// yet held is derived, and the sender device's verified signing key.
    /// </summary>
    public static DecryptResult Decrypt(
        ReadOnlySpan<byte> envelope,
        Guid conversationId,
        Guid? deliveredSenderUserId,
        Func<Guid, InboundChain?> chainLookup,
        Func<EnvelopeHeader, bool> isDuplicateMessageId,
        out InboundChain? changedChain,
        EpochSecretKeys? epochSecrets = null)
    {
        changedChain = null;
        ParsedEnvelope parsed;
        try
        {
            parsed = Envelope.Parse(envelope);
        }
        catch (ChatWireCryptoException error)
        {
            return DecryptResult.Failure(null, CryptoError.Malformed, error.Message);
        }

        var header = parsed.Header;
        if (header.ConversationId != conversationId)
        {
            return DecryptResult.Failure(header, CryptoError.WrongConversation, $"The message was encrypted for conversation {header.ConversationId}, not this one.");
        }

        if (deliveredSenderUserId is { } delivered && delivered != header.SenderUserId)
        {
            return DecryptResult.Failure(header, CryptoError.WrongSender, $"The message says it is from {header.SenderUserId} but the server delivered it as from {delivered}.");
        }

        var chain = chainLookup(header.ChainId);
        byte[]? signingPublicKey;
        if (header.EpochSecretId is { } secretId)
        {
            var secret = epochSecrets?.Secret(secretId);
            if (secret is null)
            {
                return DecryptResult.Failure(header, CryptoError.NoKeyForChain, $"No epoch secret {secretId} is held (it has not arrived from the member who made it).");
            }

            if (secret.ConversationId != header.ConversationId || secret.Epoch != header.Epoch)
            {
                return DecryptResult.Failure(header, CryptoError.WrongConversation, "The message names an epoch secret of another conversation or epoch.");
            }

            chain ??= InboundChain.FromEpochSecret(secret, header.SenderUserId, header.SenderDeviceId, header.ChainId);
            if (chain.EpochSecretId != secretId)
            {
                return DecryptResult.Failure(header, CryptoError.WrongSender, "The message names a chain that is not derived from its epoch secret.");
            }

            signingPublicKey = header.SenderUserId == chain.SenderUserId && header.SenderDeviceId == chain.SenderDeviceId
                ? epochSecrets!.DeviceSigningKey(header.SenderUserId, header.SenderDeviceId) : [];
            if (signingPublicKey is null)
            {
                return DecryptResult.Failure(header, CryptoError.UnknownSenderDevice, $"The signing key of device {header.SenderDeviceId} of {header.SenderUserId} is not known from their signed device list.");
            }
        }
        else if (chain is null)
        {
            return DecryptResult.Failure(header, CryptoError.NoKeyForChain, $"No key for sender chain {header.ChainId} (its key has not arrived from the sender).");
        }
        else
        {
            // An epoch-secret chain has no SigK (empty): an envelope naming one without its flag cannot verify.
            signingPublicKey = chain.SigningPublicKey;
        }

        if (chain.ConversationId != header.ConversationId || chain.Epoch != header.Epoch)
        {
            return DecryptResult.Failure(header, CryptoError.WrongConversation, "The message names a chain that belongs to another conversation or epoch.");
        }

        if (chain.SenderUserId != header.SenderUserId || chain.SenderDeviceId != header.SenderDeviceId)
        {
            return DecryptResult.Failure(header, CryptoError.WrongSender, "The message names a chain of another sender device.");
        }

        if (signingPublicKey.Length != Primitives.KeySize || !Envelope.VerifySignature(envelope, signingPublicKey))
        {
            return DecryptResult.Failure(header, CryptoError.BadSignature, header.EpochSecretId is null
                ? "The message is not signed by its sender chain's key."
                : "The message is not signed by its sender device's key.");
        }

        if (chain.SeenMessageIds.Contains(header.MessageId) || isDuplicateMessageId(header))
        {
            return DecryptResult.Failure(header, CryptoError.Replay, $"Message {header.MessageId} was already received.");
        }

        var step = chain.Prepare(header.Iteration, out var stepError);
        if (step is null)
        {
            return DecryptResult.Failure(header, stepError, stepError == CryptoError.Replay
                ? $"Iteration {header.Iteration} of chain {header.ChainId} was already received (a replay)."
                : $"The key of iteration {header.Iteration} of chain {header.ChainId} is no longer or not yet held.");
        }

        if (!CryptographicOperations.FixedTimeEquals(step.MessageKeyMaterial.AsSpan(32, 12), header.Nonce))
        {
            return DecryptResult.Failure(header, CryptoError.NonceMismatch, "The message's nonce is not the one its chain derives.");
        }

        var headerBytes = envelope[..parsed.HeaderLength];
        var padded = Primitives.Open(
            step.MessageKeyMaterial.AsSpan(0, 32), header.Nonce, Envelope.AssociatedData(headerBytes), envelope.Slice(parsed.CiphertextStart, parsed.CiphertextLength));
        if (padded is null)
        {
            return DecryptResult.Failure(header, CryptoError.DecryptionFailed, "The message does not decrypt with its chain key.");
        }

        byte[] plaintext;
        try
        {
            plaintext = Padding.Unpad(padded);
        }
        catch (ChatWireCryptoException error)
        {
            return DecryptResult.Failure(header, CryptoError.Malformed, error.Message);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(padded);
        }

        chain.Commit(step, header.MessageId);
        changedChain = chain;
        return DecryptResult.Success(header, plaintext);
    }
}

/// <summary>What decrypting an epoch-secret envelope needs besides the chain state.</summary>
/// <param name="Secret">The held epoch secret with this id, or null.</param>
/// <param name="DeviceSigningKey">The DSK_pub of (user, device), verified up to the user's account key and on their signed device list, or null.</param>
internal sealed record EpochSecretKeys(Func<Guid, EpochSecretState?> Secret, Func<Guid, Guid, byte[]?> DeviceSigningKey);
