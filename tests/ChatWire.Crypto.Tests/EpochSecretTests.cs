namespace ChatWire.Crypto.Tests;

/// <summary>Conversations keyed by an epoch secret (docs/e2e.md "Large conversations"): the key store end to end.</summary>
public sealed class EpochSecretTests : IDisposable
{
    // Offsets in the header: 4 bytes, four ids, u64 epoch, then chain_id and (flag 0x10) epoch_secret_id.
    private const int FlagsOffset = 3;
    private const int EpochSecretIdOffset = 4 + (16 * 4) + 8 + 16;

    private readonly string _root = System.IO.Directory.CreateTempSubdirectory("chatwire-es-").FullName;
    private readonly Guid _conversation = Guid.CreateVersion7();

    public void Dispose() => System.IO.Directory.Delete(_root, recursive: true);

    [Fact]
    public void EncryptMessage_FirstInEpoch_MakesSecretToDistributeAndNoChainSeed()
    {
        using var alice = NewStore("alice");

        var first = alice.EncryptMessage(Message(1));
        var second = alice.EncryptMessage(Message(1));

        var secret = Assert.IsType<SeedPayload>(first.NewEpochSecret);
        Assert.True(secret.IsEpochSecret);
        Assert.Null(first.NewChainSeed);
        Assert.Equal(secret.ChainId, first.EpochSecretId);
        Assert.Equal(secret.ChainId, first.DistributionId);
        Assert.NotEqual(first.ChainId, first.DistributionId);
        Assert.Equal((0u, alice.DeviceId, 1UL), (secret.StartIteration, secret.SenderDeviceId, secret.Epoch));
        Assert.Equal(new byte[32], secret.SigningPublicKey);
        Assert.Null(second.NewEpochSecret);
        Assert.Equal((first.ChainId, first.EpochSecretId), (second.ChainId, second.EpochSecretId));
    }

    [Fact]
    public void TryDecrypt_SecretSealedToHistoryKeys_TwoSendersEveryMemberReadsEveryone()
    {
        using var alice = NewStore("alice");
        using var bob = NewStore("bob");
        using var carol = NewStore("carol");
        var fromAlice = alice.EncryptMessage(Message(1, "from alice"));
        var secret = fromAlice.NewEpochSecret!;
        foreach (var member in new[] { bob, carol })
        {
            member.ImportAccountKey(AccountSigningKey.Generate());
            var historyKey = member.CreateHistoryKey();
            var sealedBlob = alice.SealSeedToHistoryKey(secret, member.UserId, historyKey.Generation, historyKey.PublicKey);
            member.OpenHistorySeal(sealedBlob, historyKey.Generation, _conversation, 1, secret.ChainId, alice.UserId, alice.DeviceId, alice.Certificate.SigningKey);
        }

        var fromBob = bob.EncryptMessage(Message(1, "from bob"));
        var keys = KeyDirectory(alice, bob, carol);

        Assert.Null(fromBob.NewEpochSecret);
        Assert.Equal(fromAlice.DistributionId, fromBob.DistributionId);
        Assert.NotEqual(fromAlice.ChainId, fromBob.ChainId);
        foreach (var (reader, sent, sender) in new[] { (bob, fromAlice, alice), (carol, fromAlice, alice), (alice, fromBob, bob), (carol, fromBob, bob), (bob, fromBob, bob) })
        {
            var result = reader.TryDecrypt(sent.Envelope, _conversation, sender.UserId, keys);
            Assert.True(result.Succeeded, result.Reason);
            Assert.Equal(sent.EpochSecretId, result.Header!.EpochSecretId);
        }

        Assert.Equal(CryptoError.Replay, carol.TryDecrypt(fromBob.Envelope, _conversation, bob.UserId, keys).Error);
    }

    [Fact]
    public void TryDecrypt_SecretNotHeld_NoKeyForChain()
    {
        using var alice = NewStore("alice");
        using var bob = NewStore("bob");
        var sent = alice.EncryptMessage(Message(1));

        var result = bob.TryDecrypt(sent.Envelope, _conversation, alice.UserId, KeyDirectory(alice));

        Assert.Equal(CryptoError.NoKeyForChain, result.Error);
        Assert.Contains("epoch secret", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void TryDecrypt_SenderDeviceKeyUnknown_UnknownSenderDeviceThenSucceedsOnceKnown()
    {
        using var alice = NewStore("alice");
        using var bob = NewStore("bob");
        var sent = alice.EncryptMessage(Message(1));
        bob.ImportSeed(sent.NewEpochSecret!);

        Assert.Equal(CryptoError.UnknownSenderDevice, bob.TryDecrypt(sent.Envelope, _conversation, alice.UserId).Error);
        Assert.Equal(CryptoError.UnknownSenderDevice, bob.TryDecrypt(sent.Envelope, _conversation, alice.UserId, KeyDirectory(bob)).Error);
        Assert.True(bob.TryDecrypt(sent.Envelope, _conversation, alice.UserId, KeyDirectory(alice)).Succeeded);
    }

    [Fact]
    public void TryDecrypt_DirectoryGivesAnotherDevicesKey_BadSignature()
    {
        using var alice = NewStore("alice");
        using var bob = NewStore("bob");
        using var mallory = NewStore("mallory");
        var sent = alice.EncryptMessage(Message(1));
        bob.ImportSeed(sent.NewEpochSecret!);

        var result = bob.TryDecrypt(sent.Envelope, _conversation, alice.UserId, (_, _) => mallory.Certificate.SigningKey.ToArray());

        Assert.Equal(CryptoError.BadSignature, result.Error);
    }

    [Fact]
    public void TryDecrypt_MemberForgesAnotherSendersChainWithOwnDeviceKey_BadSignature()
    {
        using var alice = NewStore("alice");
        using var bob = NewStore("bob");
        using var mallory = NewStore("mallory");
        var secret = alice.EncryptMessage(Message(1)).NewEpochSecret!;
        bob.ImportSeed(secret);

        // Mallory holds the secret too, so she can derive a chain in Alice's name; only Alice's device key can sign it.
        var forged = Forge(secret, alice.UserId, alice.DeviceId, mallory.DeviceKeys.Signing.PrivateKey.ToArray());
        var result = bob.TryDecrypt(forged, _conversation, alice.UserId, KeyDirectory(alice, mallory));

        Assert.Equal(CryptoError.BadSignature, result.Error);
        Assert.True(bob.TryDecrypt(Forge(secret, alice.UserId, alice.DeviceId, alice.DeviceKeys.Signing.PrivateKey.ToArray()), _conversation, alice.UserId, KeyDirectory(alice)).Succeeded);
    }

    [Fact]
    public void TryDecrypt_FlagClearedAndSecretIdRemoved_BadSignatureOnHeldChainElseNoKey()
    {
        using var alice = NewStore("alice");
        using var bob = NewStore("bob");
        var first = alice.EncryptMessage(Message(1));
        var second = alice.EncryptMessage(Message(1));
        bob.ImportSeed(first.NewEpochSecret!);
        var keys = KeyDirectory(alice);

        Assert.Equal(CryptoError.NoKeyForChain, bob.TryDecrypt(ClearFlag(second.Envelope), _conversation, alice.UserId, keys).Error);
        Assert.True(bob.TryDecrypt(first.Envelope, _conversation, alice.UserId, keys).Succeeded);
        Assert.Equal(CryptoError.BadSignature, bob.TryDecrypt(ClearFlag(second.Envelope), _conversation, alice.UserId, keys).Error);
        Assert.True(bob.TryDecrypt(second.Envelope, _conversation, alice.UserId, keys).Succeeded);
    }

    [Fact]
    public void TryDecrypt_FlagClearedIdKept_MalformedOrRefused()
    {
        using var alice = NewStore("alice");
        using var bob = NewStore("bob");
        var sent = alice.EncryptMessage(Message(1));
        bob.ImportSeed(sent.NewEpochSecret!);
        var altered = sent.Envelope.ToArray();
        altered[FlagsOffset] &= 0xEF;

        var result = bob.TryDecrypt(altered, _conversation, alice.UserId, KeyDirectory(alice));

        Assert.False(result.Succeeded);
        Assert.True(result.Error is CryptoError.Malformed or CryptoError.NoKeyForChain, $"{result.Error}");
    }

    [Fact]
    public void TryDecrypt_SecretIdAltered_NoKeyWhenUnknownBadSignatureWhenAnotherHeldSecret()
    {
        using var alice = NewStore("alice");
        using var bob = NewStore("bob");
        using var carol = NewStore("carol");
        var sent = alice.EncryptMessage(Message(1));
        var other = carol.EncryptMessage(Message(1)).NewEpochSecret!;
        bob.ImportSeed(sent.NewEpochSecret!);
        bob.ImportSeed(other);
        var keys = KeyDirectory(alice);

        Assert.Equal(CryptoError.NoKeyForChain, bob.TryDecrypt(WithSecretId(sent.Envelope, Guid.CreateVersion7()), _conversation, alice.UserId, keys).Error);
        Assert.Equal(CryptoError.BadSignature, bob.TryDecrypt(WithSecretId(sent.Envelope, other.ChainId), _conversation, alice.UserId, keys).Error);
        Assert.True(bob.TryDecrypt(sent.Envelope, _conversation, alice.UserId, keys).Succeeded);
        Assert.Equal(CryptoError.WrongSender, bob.TryDecrypt(WithSecretId(sent.Envelope, other.ChainId), _conversation, alice.UserId, keys).Error);
    }

    [Fact]
    public void TryDecrypt_SecretOfAnotherEpoch_WrongConversation()
    {
        using var alice = NewStore("alice");
        using var bob = NewStore("bob");
        var secret = alice.EncryptMessage(Message(1)).NewEpochSecret!;
        bob.ImportSeed(secret);
        var nextEpoch = alice.EncryptMessage(Message(2));

        var result = bob.TryDecrypt(WithSecretId(nextEpoch.Envelope, secret.ChainId), _conversation, alice.UserId, KeyDirectory(alice));

        Assert.Equal(CryptoError.WrongConversation, result.Error);
    }

    [Fact]
    public void EncryptMessage_AfterReopen_SameSecretNewChainFromIterationZero()
    {
        Guid user = Guid.CreateVersion7(), device = Guid.CreateVersion7();
        EncryptedMessage before;
        using (var alice = NewStore("alice", user, device))
        {
            before = alice.EncryptMessage(Message(1));
            alice.EncryptMessage(Message(1));
        }

        using var reopened = DeviceKeyStore.Open(Path.Combine(_root, "alice"));
        var after = reopened.EncryptMessage(Message(1));

        Assert.Null(after.NewEpochSecret);
        Assert.Equal(before.EpochSecretId, after.EpochSecretId);
        Assert.NotEqual(before.ChainId, after.ChainId);
        Assert.True(reopened.TryDecrypt(after.Envelope, _conversation).Succeeded);
    }

    [Fact]
    public void RetireEpochSecret_ReceivedSecretRetired_NextMessageMakesOwn()
    {
        using var alice = NewStore("alice");
        using var bob = NewStore("bob");
        var secret = alice.EncryptMessage(Message(1)).NewEpochSecret!;
        bob.ImportSeed(secret);
        Assert.Equal(secret.ChainId, bob.EncryptMessage(Message(1)).EpochSecretId);

        bob.RetireEpochSecret(secret.ChainId);
        var sent = bob.EncryptMessage(Message(1));

        Assert.NotNull(sent.NewEpochSecret);
        Assert.NotEqual(secret.ChainId, sent.EpochSecretId);
        Assert.Equal(bob.DeviceId, sent.NewEpochSecret.SenderDeviceId);
        Assert.True(alice.ImportSeed(sent.NewEpochSecret));
        Assert.True(alice.TryDecrypt(sent.Envelope, _conversation, bob.UserId, KeyDirectory(bob)).Succeeded);
        Assert.Equal(sent.NewEpochSecret.Encode(), bob.EpochSecretSeed(sent.EpochSecretId!.Value)!.Encode());
    }

    [Fact]
    public void EncryptMessage_ModeBackToSenderChains_NewChainWithSeed()
    {
        using var alice = NewStore("alice");
        var secretChain = alice.EncryptMessage(Message(1));

        var plain = alice.EncryptMessage(Message(1) with { EpochSecret = false });

        Assert.NotNull(plain.NewChainSeed);
        Assert.Null(plain.EpochSecretId);
        Assert.NotEqual(secretChain.ChainId, plain.ChainId);
        Assert.Null(alice.CurrentOutboundSeed(_conversation) is { } seed && seed.IsEpochSecret ? seed : null);
    }

    [Fact]
    public void ImportSeed_DifferentSecretUnderHeldId_WrongSender()
    {
        using var alice = NewStore("alice");
        using var bob = NewStore("bob");
        var secret = alice.EncryptMessage(Message(1)).NewEpochSecret!;
        bob.ImportSeed(secret);

        var error = Assert.Throws<ChatWireCryptoException>(() => bob.ImportSeed(secret with { ChainKey = new byte[32] }));

        Assert.Equal(CryptoError.WrongSender, error.Error);
        Assert.False(bob.ImportSeed(secret));
    }

    [Fact]
    public void ChainKdf_FromEpochSecret_IsExpandWithSenderLabelDeviceAndChain()
    {
        var secret = Primitives.Random(32);
        Guid device = Guid.CreateVersion7(), chain = Guid.CreateVersion7();
        var info = new byte[41];
        "CW-sender"u8.CopyTo(info);
        device.TryWriteBytes(info.AsSpan(9), bigEndian: true, out _);
        chain.TryWriteBytes(info.AsSpan(25), bigEndian: true, out _);
        var expected = new byte[32];
        Primitives.HkdfExpand(secret, info, expected);

        Assert.Equal(expected, ChainKdf.FromEpochSecret(secret, device, chain));
        Assert.NotEqual(expected, ChainKdf.FromEpochSecret(secret, Guid.CreateVersion7(), chain));
    }

    private static Func<Guid, Guid, byte[]?> KeyDirectory(params DeviceKeyStore[] stores) =>
        (user, device) => stores.FirstOrDefault(store => store.UserId == user && store.DeviceId == device)?.Certificate.SigningKey.ToArray();

    private byte[] Forge(SeedPayload secret, Guid user, Guid device, byte[] signingKey)
    {
        var chain = OutboundChain.StartFromEpochSecret(EpochSecretState.FromSeed(secret), user, device, 0);
        var template = new EnvelopeHeader
        {
            ContentType = EnvelopeContentType.Message,
            ConversationId = _conversation,
            MessageId = Guid.CreateVersion7(),
            SenderUserId = user,
            SenderDeviceId = device,
            Epoch = secret.Epoch,
            ChainId = chain.ChainId,
            Iteration = 0,
            ClientTimestampMs = 0,
            Nonce = new byte[12],
        };
        return MessageCipher.Encrypt(chain, template, "forged"u8, signingKey);
    }

    // Clears flag 0x10 and takes the epoch secret id out, as a server rewriting the envelope would.
    private static byte[] ClearFlag(byte[] envelope)
    {
        byte[] altered = [.. envelope[..EpochSecretIdOffset], .. envelope[(EpochSecretIdOffset + 16)..]];
        altered[FlagsOffset] &= 0xEF;
        return altered;
    }

    private static byte[] WithSecretId(byte[] envelope, Guid secretId)
    {
        var altered = envelope.ToArray();
        secretId.TryWriteBytes(altered.AsSpan(EpochSecretIdOffset), bigEndian: true, out _);
        return altered;
    }

    private DeviceKeyStore NewStore(string name, Guid? userId = null, Guid? deviceId = null)
    {
        var store = DeviceKeyStore.Open(Path.Combine(_root, name));
        store.CreateDeviceKeys(userId ?? Guid.CreateVersion7(), deviceId ?? Guid.CreateVersion7());
        return store;
    }

    private OutgoingMessage Message(ulong epoch, string text = "hi") =>
        new(_conversation, epoch, Guid.CreateVersion7(), EnvelopeContentType.Message, System.Text.Encoding.UTF8.GetBytes(text)) { EpochSecret = true };
}
