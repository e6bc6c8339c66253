using System.Text.Json;

namespace ChatWire.Crypto.Tests;

public sealed class DeviceKeyStoreTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("chatwire-keys-").FullName;
    private readonly Guid _conversation = Guid.CreateVersion7();

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void EncryptMessage_FirstAndSecond_NewChainSeedOnlyFirst()
    {
        using var alice = NewStore("alice");

        var first = alice.EncryptMessage(Message(1));
        var second = alice.EncryptMessage(Message(1));

        Assert.NotNull(first.NewChainSeed);
        Assert.Null(second.NewChainSeed);
        Assert.Equal(first.ChainId, second.ChainId);
        Assert.Equal(alice.DeviceId, first.NewChainSeed.SenderDeviceId);
    }

    [Fact]
    public void TryDecrypt_AfterSeedImported_Plaintext()
    {
        using var alice = NewStore("alice");
        using var bob = NewStore("bob");
        var sent = alice.EncryptMessage(Message(1));

        Assert.Equal(CryptoError.NoKeyForChain, bob.TryDecrypt(sent.Envelope, _conversation).Error);
        bob.ImportSeed(sent.NewChainSeed!);
        var result = bob.TryDecrypt(sent.Envelope, _conversation, alice.UserId);

        Assert.True(result.Succeeded, result.Reason);
        Assert.Equal("hi"u8.ToArray(), result.Plaintext);
        Assert.Equal(CryptoError.Replay, bob.TryDecrypt(sent.Envelope, _conversation).Error);
    }

    [Fact]
    public void TryDecrypt_OwnMessage_Plaintext()
    {
        using var alice = NewStore("alice");
        var sent = alice.EncryptMessage(Message(1));

        Assert.True(alice.TryDecrypt(sent.Envelope, _conversation).Succeeded);
    }

    [Fact]
    public void EncryptMessage_EpochChanged_NewChain()
    {
        using var alice = NewStore("alice");
        var first = alice.EncryptMessage(Message(1));

        var second = alice.EncryptMessage(Message(2));

        Assert.NotNull(second.NewChainSeed);
        Assert.NotEqual(first.ChainId, second.ChainId);
        Assert.Equal(2UL, second.NewChainSeed.Epoch);
    }

    [Fact]
    public void EncryptMessage_NextChainKeyOnDiskBeforeReturn()
    {
        using var alice = NewStore("alice");

        var sent = alice.EncryptMessage(Message(1));

        var file = Path.Combine(_root, "alice", "outbound", _conversation.ToString("N") + ".json");
        using var saved = JsonDocument.Parse(File.ReadAllBytes(file));
        var expectedNext = new byte[32];
        Primitives.HkdfExpand(sent.NewChainSeed!.ChainKey, "CW-sk-chain-v1"u8, expectedNext);
        Assert.Equal(1u, saved.RootElement.GetProperty("Iteration").GetUInt32());
        Assert.Equal(expectedNext, saved.RootElement.GetProperty("ChainKey").GetBytesFromBase64());
    }

    [Fact]
    public void Open_AfterReopen_OutboundChainNotResumedButInboundStatePersists()
    {
        Guid userId;
        EncryptedMessage first;
        using (var alice = NewStore("alice"))
        {
            userId = alice.UserId;
            first = alice.EncryptMessage(Message(1));
            Assert.True(alice.TryDecrypt(first.Envelope, _conversation).Succeeded);
        }

        using var reopened = DeviceKeyStore.Open(Path.Combine(_root, "alice"));
        var next = reopened.EncryptMessage(Message(1));

        Assert.Equal(userId, reopened.UserId);
        Assert.NotNull(next.NewChainSeed);
        Assert.NotEqual(first.ChainId, next.ChainId);
        Assert.Null(reopened.CurrentOutboundSeed(Guid.CreateVersion7()));
        Assert.Equal(CryptoError.Replay, reopened.TryDecrypt(first.Envelope, _conversation).Error);
    }

    [Fact]
    public void CreateDeviceKeys_OnUnix_FilesReadableByOwnerOnly()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        using var alice = NewStore("alice");
        alice.EncryptMessage(Message(1));

        var mode = File.GetUnixFileMode(Path.Combine(_root, "alice", "identity.json"));
        var outbound = Directory.GetFiles(Path.Combine(_root, "alice", "outbound")).Single();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(outbound));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(_root, "alice")));
    }

    [Fact]
    public void Open_SameProfileTwice_Throws()
    {
        using var alice = NewStore("alice");

        Assert.ThrowsAny<IOException>(() => DeviceKeyStore.Open(Path.Combine(_root, "alice")));
    }

    [Fact]
    public void OpenHistorySeal_SealedByOtherStore_DecryptsMessages()
    {
        using var alice = NewStore("alice");
        using var bob = NewStore("bob");
        bob.ImportAccountKey(AccountSigningKey.Generate());
        var bobHistoryKey = bob.CreateHistoryKey();
        var sent = alice.EncryptMessage(Message(1));
        var seed = sent.NewChainSeed!;

        var sealedBlob = alice.SealSeedToHistoryKey(seed, bob.UserId, bobHistoryKey.Generation, bobHistoryKey.PublicKey);
        bob.OpenHistorySeal(sealedBlob, bobHistoryKey.Generation, _conversation, 1, seed.ChainId, alice.UserId, alice.DeviceId, alice.Certificate.SigningKey);

        Assert.True(bob.TryDecrypt(sent.Envelope, _conversation).Succeeded);
    }

    [Fact]
    public void OpenDeviceSeal_StrictMode_DecryptsAndUsesUpOneTimePrekey()
    {
        using var alice = NewStore("alice");
        using var bob = NewStore("bob");
        var spk = bob.RotateSignedPrekey();
        var opk = bob.GenerateOneTimePrekeys(1)[0];
        var bundle = new PrekeyBundle(bob.UserId, bob.DeviceId, bob.Certificate.SigningKey, bob.Certificate.DhKey, spk, opk);
        var sent = alice.EncryptMessage(Message(1));
        var seed = sent.NewChainSeed!;

        var sealedBlob = alice.SealSeedToDevice(seed, bundle);
        bob.OpenDeviceSeal(sealedBlob, _conversation, 1, seed.ChainId, alice.UserId, alice.DeviceId, alice.Certificate.DhKey);

        Assert.True(bob.TryDecrypt(sent.Envelope, _conversation).Succeeded);
        var again = Assert.Throws<ChatWireCryptoException>(() => bob.OpenDeviceSeal(sealedBlob, _conversation, 1, seed.ChainId, alice.UserId, alice.DeviceId, alice.Certificate.DhKey));
        Assert.Equal(CryptoError.NoKeyForChain, again.Error);
    }

    [Fact]
    public void OpenLinkPayload_FromOtherDeviceOfUser_GetsAccountAndHistoryKeys()
    {
        var user = Guid.CreateVersion7();
        using var first = NewStore("first", user);
        using var second = NewStore("second", user);
        var ask = AccountSigningKey.Generate();
        first.ImportAccountKey(ask);
        first.CreateHistoryKey();
        first.SetAccountSignature(first.Certificate.ApproveWith(ask).AccountSignature, ask.PublicKey);
        var bundle = new PrekeyBundle(user, second.DeviceId, second.Certificate.SigningKey, second.Certificate.DhKey, second.RotateSignedPrekey(), null);

        var payload = first.SealLinkPayload(bundle);
        second.OpenLinkPayload(payload, first.DeviceId, first.Certificate.DhKey, ask.PublicKey);

        Assert.Equal(ask.PublicKey, second.AccountKey!.PublicKey);
        Assert.Equal(first.HistoryKeys[0].PrivateKey, second.HistoryKeys[0].PrivateKey);
        Assert.True(first.Certificate.Verify(ask.PublicKey));
    }

    // A payload whose account key is not the one the directory publishes (a device of mine turned, or a server
    // that published another key) is refused whole: nothing in it is kept.
    [Fact]
    public void OpenLinkPayload_AccountKeyNotThePublishedOne_RefusedAndNothingKept()
    {
        var user = Guid.CreateVersion7();
        using var first = NewStore("first", user);
        using var second = NewStore("second", user);
        first.ImportAccountKey(AccountSigningKey.Generate());
        first.CreateHistoryKey();
        var bundle = new PrekeyBundle(user, second.DeviceId, second.Certificate.SigningKey, second.Certificate.DhKey, second.RotateSignedPrekey(), null);
        var payload = first.SealLinkPayload(bundle);

        var refused = Assert.Throws<ChatWireCryptoException>(() =>
            second.OpenLinkPayload(payload, first.DeviceId, first.Certificate.DhKey, AccountSigningKey.Generate().PublicKey));

        Assert.Equal(CryptoError.BadSignature, refused.Error);
        Assert.Null(second.AccountKey);
        Assert.Empty(second.HistoryKeys);
    }

    [Fact]
    public void RestoreFromRecoveryBackup_NewProfile_SameKeys()
    {
        var user = Guid.CreateVersion7();
        using var first = NewStore("first", user);
        first.ImportAccountKey(AccountSigningKey.Generate());
        first.CreateHistoryKey();
        var recoveryKey = RecoveryKey.Generate();
        var backup = first.CreateRecoveryBackup(recoveryKey);
        using var restored = NewStore("restored", user);

        restored.RestoreFromRecoveryBackup(RecoveryKey.TryParse(recoveryKey.Format())!, backup);

        Assert.Equal(first.AccountKey!.PublicKey, restored.AccountKey!.PublicKey);
        Assert.Equal(first.HistoryKeys.Select(key => key.PublicKey), restored.HistoryKeys.Select(key => key.PublicKey));
    }

    [Fact]
    public void AcceptDeviceList_LowerVersionAfterReopen_Rollback()
    {
        var ask = AccountSigningKey.Generate();
        var other = Guid.CreateVersion7();
        using (var store = NewStore("alice"))
        {
            store.AcceptDeviceList(SignedDeviceList.Create(ask, other, 7, []), ask.PublicKey);
        }

        using var reopened = DeviceKeyStore.Open(Path.Combine(_root, "alice"));
        var error = Assert.Throws<ChatWireCryptoException>(() => reopened.AcceptDeviceList(SignedDeviceList.Create(ask, other, 6, []), ask.PublicKey));

        Assert.Equal(CryptoError.Rollback, error.Error);
        Assert.Equal(7UL, reopened.DeviceListVersionSeen(other));
    }

    [Fact]
    public void RotateSignedPrekey_ManyTimes_KeepsNewestThreeOnly()
    {
        using var store = NewStore("alice");

        var prekeys = Enumerable.Range(0, 5).Select(_ => store.RotateSignedPrekey()).ToList();

        Assert.Equal(prekeys[^1].PrekeyId, store.CurrentSignedPrekey!.PrekeyId);
        Assert.All(prekeys, prekey => Assert.True(prekey.Verify(store.DeviceId, store.Certificate.SigningKey)));
        Assert.Equal(5, prekeys.Select(prekey => prekey.PrekeyId).Distinct().Count());
    }

    [Fact]
    public void EncryptMessage_StateCannotBeWritten_ThrowsAndNextMessageStartsNewChain()
    {
        using var alice = NewStore("alice");
        var first = alice.EncryptMessage(Message(1));
        var file = Path.Combine(_root, "alice", "outbound", _conversation.ToString("N") + ".json");
        File.Delete(file);
        Directory.CreateDirectory(file);

        Assert.ThrowsAny<IOException>(() => alice.EncryptMessage(Message(1)));
        Directory.Delete(file);
        var next = alice.EncryptMessage(Message(1));

        Assert.NotNull(next.NewChainSeed);
        Assert.NotEqual(first.ChainId, next.ChainId);
    }

    [Fact]
    public void ImportSeed_SameChainOtherSigningKey_WrongSender()
    {
        using var bob = NewStore("bob");
        var seed = SeedSealTests.Seed();
        bob.ImportSeed(seed);

        var error = Assert.Throws<ChatWireCryptoException>(() => bob.ImportSeed(seed with { SigningPublicKey = Primitives.GenerateEd25519().PublicKey }));

        Assert.Equal(CryptoError.WrongSender, error.Error);
        Assert.False(bob.ImportSeed(seed));
    }

    [Fact]
    public void TryDecrypt_SameMessageIdOnNewChain_Replay()
    {
        using var alice = NewStore("alice");
        using var bob = NewStore("bob");
        var message = Message(1);
        var first = alice.EncryptMessage(message);
        alice.RetireOutboundChain(_conversation);
        var second = alice.EncryptMessage(message);
        bob.ImportSeed(first.NewChainSeed!);
        bob.ImportSeed(second.NewChainSeed!);

        Assert.True(bob.TryDecrypt(first.Envelope, _conversation).Succeeded);
        Assert.Equal(CryptoError.Replay, bob.TryDecrypt(second.Envelope, _conversation).Error);
    }

    private DeviceKeyStore NewStore(string name, Guid? userId = null)
    {
        var store = DeviceKeyStore.Open(Path.Combine(_root, name));
        store.CreateDeviceKeys(userId ?? Guid.CreateVersion7(), Guid.CreateVersion7());
        return store;
    }

    private OutgoingMessage Message(ulong epoch) => new(_conversation, epoch, Guid.CreateVersion7(), EnvelopeContentType.Message, "hi"u8.ToArray());
}
