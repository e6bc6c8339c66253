using System.Security.Cryptography;
using ChatWire.Storage.Directory;
using ChatWire.Storage.Keys;

namespace ChatWire.Storage.Tests.Contracts;

/// <summary>
/// Every IKeyDirectoryStore adapter's behaviour, written once. The adapter's directory store is also its key
/// directory (key state moves with membership in one transaction), so the test class supplies one store that is
/// both. Nothing here may depend on one adapter.
/// </summary>
public abstract partial class KeyDirectoryStoreContract : IAsyncLifetime
{
    protected static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_795_000_000_123);

    private IDirectoryStore? _store;

    protected IDirectoryStore Directory => _store ?? throw new InvalidOperationException("The store is not created yet.");

    protected IKeyDirectoryStore Keys => (IKeyDirectoryStore)Directory;

    /// <summary>A new, empty store for one test, implementing both ports.</summary>
    protected abstract Task<IDirectoryStore> CreateStoreAsync();

    protected abstract Task DisposeStoreAsync(IDirectoryStore store);

    public async Task InitializeAsync() => _store = await CreateStoreAsync();

    public async Task DisposeAsync()
    {
        if (_store is not null)
        {
            await DisposeStoreAsync(_store);
        }
    }

    // Account keys

    [Fact]
    public async Task SetAccountKeyAsync_Absent_StoresVersionOne()
    {
        var alice = await AddUserAsync("alice");
        var key = Bytes();

        var stored = await Keys.SetAccountKeyAsync(alice.Id, key, reset: false, T0);

        AssertAccountKey(new AccountKeyRecord(alice.Id, key, 1, T0), stored);
        AssertAccountKey(stored, await Keys.GetAccountKeyAsync(alice.Id));
        Assert.Null(await Keys.GetAccountKeyAsync(Guid.NewGuid()));
    }

    [Fact]
    public async Task SetAccountKeyAsync_SameKeyAgain_ChangesNothing()
    {
        var alice = await AddUserAsync("alice");
        var key = Bytes();
        await Keys.SetAccountKeyAsync(alice.Id, key, reset: false, T0);

        var again = await Keys.SetAccountKeyAsync(alice.Id, (byte[])key.Clone(), reset: true, T0.AddHours(1));

        AssertAccountKey(new AccountKeyRecord(alice.Id, key, 1, T0), again);
    }

    [Fact]
    public async Task SetAccountKeyAsync_OtherKeyWithoutReset_ReturnsTheStoredKeyUnchanged()
    {
        var alice = await AddUserAsync("alice");
        var key = Bytes();
        await Keys.SetAccountKeyAsync(alice.Id, key, reset: false, T0);

        var refused = await Keys.SetAccountKeyAsync(alice.Id, Bytes(), reset: false, T0.AddHours(1));

        AssertAccountKey(new AccountKeyRecord(alice.Id, key, 1, T0), refused);
        AssertAccountKey(refused, await Keys.GetAccountKeyAsync(alice.Id));
    }

    [Fact]
    public async Task SetAccountKeyAsync_OtherKeyWithReset_NextVersionDropsWhatTheOldKeySignedAndBumpsEpochs()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        await Keys.SetAccountKeyAsync(alice.Id, Bytes(), reset: false, T0);
        var laptop = await AddDeviceAsync(alice, "laptop", approved: true);
        await AddHistoryKeyAsync(alice, 1);
        Assert.True(await Keys.SetDeviceListAsync(DeviceList(alice, 1, laptop)));
        var direct = await AddDirectAsync(alice, bob);
        var before = await Keys.GetConversationKeyStateAsync(direct.Id);
        var newKey = Bytes();

        var stored = await Keys.SetAccountKeyAsync(alice.Id, newKey, reset: true, T0.AddHours(1));

        AssertAccountKey(new AccountKeyRecord(alice.Id, newKey, 2, T0.AddHours(1)), stored);
        AssertAccountKey(stored, await Keys.GetAccountKeyAsync(alice.Id));
        Assert.Null(await Keys.GetHistoryKeyAsync(alice.Id));
        Assert.Null(await Keys.GetDeviceListAsync(alice.Id));
        Assert.Null((await Keys.GetDeviceKeysAsync(laptop.DeviceId))!.AccountSignature);
        Assert.Equal(before with { Epoch = before.Epoch + 1, RosterVersion = before.RosterVersion + 1 }, await Keys.GetConversationKeyStateAsync(direct.Id));

        // The old generation is still one the user had; the next one is usable again, and a new list may start over.
        Assert.False(await Keys.AddHistoryKeyAsync(HistoryKey(alice, 1)));
        Assert.True(await Keys.AddHistoryKeyAsync(HistoryKey(alice, 2)));
        Assert.Equal(2, (await Keys.GetHistoryKeyAsync(alice.Id))!.Generation);
        Assert.True(await Keys.SetDeviceListAsync(DeviceList(alice, 1, laptop)));
    }

    // History keys

    [Fact]
    public async Task AddHistoryKeyAsync_HigherGeneration_BecomesNewestAndBumpsRosters()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var direct = await AddDirectAsync(alice, bob);
        var first = HistoryKey(alice, 1);
        var second = HistoryKey(alice, 3);

        Assert.True(await Keys.AddHistoryKeyAsync(first));
        AssertHistoryKey(first, await Keys.GetHistoryKeyAsync(alice.Id));
        Assert.True(await Keys.AddHistoryKeyAsync(second));

        AssertHistoryKey(second, await Keys.GetHistoryKeyAsync(alice.Id));
        Assert.Null(await Keys.GetHistoryKeyAsync(bob.Id));
        Assert.Equal(new ConversationKeyState(direct.Id, 1, 3, E2eMode.History), await Keys.GetConversationKeyStateAsync(direct.Id));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(1)]
    public async Task AddHistoryKeyAsync_GenerationNotAbove_RefusedAndNothingStored(int generation)
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var direct = await AddDirectAsync(alice, bob);
        var current = HistoryKey(alice, 2);
        await Keys.AddHistoryKeyAsync(current);

        Assert.False(await Keys.AddHistoryKeyAsync(HistoryKey(alice, generation)));

        AssertHistoryKey(current, await Keys.GetHistoryKeyAsync(alice.Id));
        Assert.Equal(2, (await Keys.GetConversationKeyStateAsync(direct.Id)).RosterVersion);
    }

    // Device keys

    [Fact]
    public async Task SetDeviceKeysAsync_SameKeysTwice_TrueAndStoredOnce()
    {
        var alice = await AddUserAsync("alice");
        var session = await AddSessionAsync(alice, "laptop");
        var keys = DeviceKeys(session, "ABCDE12345");

        Assert.True(await Keys.SetDeviceKeysAsync(keys));
        Assert.True(await Keys.SetDeviceKeysAsync(keys with { SigningKey = (byte[])keys.SigningKey.Clone(), DhKey = (byte[])keys.DhKey.Clone() }));

        AssertDeviceKeys(keys, await Keys.GetDeviceKeysAsync(session.DeviceId));
        Assert.Single(await Keys.ListDeviceKeysAsync(alice.Id));
    }

    [Fact]
    public async Task SetDeviceKeysAsync_OtherKeysForTheDevice_FalseAndKeepsTheFirst()
    {
        var alice = await AddUserAsync("alice");
        var session = await AddSessionAsync(alice, "laptop");
        var keys = DeviceKeys(session, "ABCDE12345");
        await Keys.SetDeviceKeysAsync(keys);

        Assert.False(await Keys.SetDeviceKeysAsync(keys with { DhKey = Bytes() }));
        Assert.False(await Keys.SetDeviceKeysAsync(keys with { SigningKey = Bytes() }));

        AssertDeviceKeys(keys, await Keys.GetDeviceKeysAsync(session.DeviceId));
        Assert.Null(await Keys.GetDeviceKeysAsync(Guid.NewGuid()));
    }

    [Fact]
    public async Task FindDeviceByLinkCodeAsync_OtherCaseWithDash_FindsTheUsersDeviceOnly()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var keys = DeviceKeys(await AddSessionAsync(alice, "laptop"), "ABCDE23456");
        await Keys.SetDeviceKeysAsync(keys);

        AssertDeviceKeys(keys, await Keys.FindDeviceByLinkCodeAsync(alice.Id, "abcde-23456"));
        AssertDeviceKeys(keys, await Keys.FindDeviceByLinkCodeAsync(alice.Id, "ABCDE23456"));
        Assert.Null(await Keys.FindDeviceByLinkCodeAsync(bob.Id, "ABCDE23456"));
        Assert.Null(await Keys.FindDeviceByLinkCodeAsync(alice.Id, "ABCDE23457"));
    }

    [Fact]
    public async Task ListDeviceKeysAsync_SeveralDevices_OldestFirstAndTheUsersOnly()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var phone = await AddDeviceAsync(alice, "phone", createdAtMs: 2_000);
        var laptop = await AddDeviceAsync(alice, "laptop", createdAtMs: 1_000);
        await AddDeviceAsync(bob, "bob-phone");

        Assert.Equal([laptop.DeviceId, phone.DeviceId], (await Keys.ListDeviceKeysAsync(alice.Id)).Select(k => k.DeviceId));
    }

    [Fact]
    public async Task SetDeviceCertificateAsync_DeviceWithKeys_StoresTheAccountSignature()
    {
        var alice = await AddUserAsync("alice");
        var phone = await AddDeviceAsync(alice, "phone");
        var signature = Bytes(64);

        Assert.True(await Keys.SetDeviceCertificateAsync(phone.DeviceId, 2, signature));

        AssertDeviceKeys(phone with { CertificateVersion = 2, AccountSignature = signature }, await Keys.GetDeviceKeysAsync(phone.DeviceId));
        Assert.False(await Keys.SetDeviceCertificateAsync(Guid.NewGuid(), 1, signature));
    }

    // Device lists

    [Fact]
    public async Task SetDeviceListAsync_HigherVersion_ReplacesTheListAndBumpsRosters()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var direct = await AddDirectAsync(alice, bob);
        var laptop = await AddDeviceAsync(alice, "laptop");
        var phone = await AddDeviceAsync(alice, "phone");
        Assert.True(await Keys.SetDeviceListAsync(DeviceList(alice, 1, laptop)));
        var second = DeviceList(alice, 2, phone, laptop);

        Assert.True(await Keys.SetDeviceListAsync(second));

        AssertDeviceList(second, await Keys.GetDeviceListAsync(alice.Id));
        Assert.Null(await Keys.GetDeviceListAsync(bob.Id));
        Assert.Equal(3, (await Keys.GetConversationKeyStateAsync(direct.Id)).RosterVersion);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(4)]
    public async Task SetDeviceListAsync_VersionNotAbove_RollbackRefused(long version)
    {
        var alice = await AddUserAsync("alice");
        var laptop = await AddDeviceAsync(alice, "laptop");
        var phone = await AddDeviceAsync(alice, "phone");
        var current = DeviceList(alice, 5, laptop, phone);
        await Keys.SetDeviceListAsync(current);

        Assert.False(await Keys.SetDeviceListAsync(DeviceList(alice, version, laptop)));

        AssertDeviceList(current, await Keys.GetDeviceListAsync(alice.Id));
    }

    // Linking and recovery

    [Fact]
    public async Task SetLinkPayloadAsync_TwiceThenDelete_ServesTheLatestUntilDeleted()
    {
        var alice = await AddUserAsync("alice");
        var laptop = await AddDeviceAsync(alice, "laptop");
        var phone = await AddDeviceAsync(alice, "phone");
        var tablet = await AddDeviceAsync(alice, "tablet");
        await Keys.SetLinkPayloadAsync(phone.DeviceId, laptop.DeviceId, Bytes(), T0);
        var latest = Bytes(100);

        await Keys.SetLinkPayloadAsync(phone.DeviceId, tablet.DeviceId, latest, T0.AddMinutes(1));

        var stored = await Keys.GetLinkPayloadAsync(phone.DeviceId);
        Assert.Equal(tablet.DeviceId, stored!.Value.FromDeviceId);
        Assert.Equal(latest, stored.Value.Payload);
        Assert.Null(await Keys.GetLinkPayloadAsync(laptop.DeviceId));
        Assert.True(await Keys.DeleteLinkPayloadAsync(phone.DeviceId));
        Assert.False(await Keys.DeleteLinkPayloadAsync(phone.DeviceId));
        Assert.Null(await Keys.GetLinkPayloadAsync(phone.DeviceId));
    }

    [Fact]
    public async Task SetRecoveryBackupAsync_Twice_ServesTheLatest()
    {
        var alice = await AddUserAsync("alice");
        var latest = Bytes(200);
        await Keys.SetRecoveryBackupAsync(alice.Id, Bytes(200), T0);

        await Keys.SetRecoveryBackupAsync(alice.Id, latest, T0.AddDays(1));

        Assert.Equal(latest, await Keys.GetRecoveryBackupAsync(alice.Id));
        Assert.Null(await Keys.GetRecoveryBackupAsync(Guid.NewGuid()));
    }

    // An account's deletion clears its keys, device list and recovery backup. A write of any of them that arrives
    // after it (in flight when the operator deleted the account) is refused, so nothing of the account is stored again.
    [Fact]
    public async Task KeyWrites_ForADeletedAccount_RefusedAndNothingStored()
    {
        var alice = await AddUserAsync("alice");
        var laptop = await AddDeviceAsync(alice, "laptop");
        var tablet = await AddDeviceAsync(alice, "tablet");
        var phone = await AddSessionAsync(alice, "phone");
        await Keys.SetLinkPayloadAsync(tablet.DeviceId, laptop.DeviceId, Bytes(100), T0);
        Assert.True(await ((IAccountAdminStore)Directory).MarkUserDeletedAsync(alice.Id, T0));
        Assert.Null(await Keys.GetLinkPayloadAsync(tablet.DeviceId));

        await Assert.ThrowsAsync<AccountDeletedException>(() => Keys.SetRecoveryBackupAsync(alice.Id, Bytes(100), T0));
        await Assert.ThrowsAsync<AccountDeletedException>(() => Keys.SetAccountKeyAsync(alice.Id, Bytes(), reset: false, T0));
        await Assert.ThrowsAsync<AccountDeletedException>(() => Keys.SetDeviceListAsync(DeviceList(alice, 1, laptop)));
        await Assert.ThrowsAsync<AccountDeletedException>(() => Keys.AddHistoryKeyAsync(HistoryKey(alice, 1)));
        await Assert.ThrowsAsync<AccountDeletedException>(() => Keys.SetDeviceKeysAsync(DeviceKeys(phone, "0123456789")));
        await Assert.ThrowsAsync<AccountDeletedException>(() => Keys.SetLinkPayloadAsync(tablet.DeviceId, laptop.DeviceId, Bytes(100), T0));

        Assert.Null(await Keys.GetRecoveryBackupAsync(alice.Id));
        Assert.Null(await Keys.GetAccountKeyAsync(alice.Id));
        Assert.Null(await Keys.GetDeviceListAsync(alice.Id));
        Assert.Equal(0, await Keys.GetHighestHistoryKeyGenerationAsync(alice.Id));
        Assert.Null(await Keys.GetDeviceKeysAsync(phone.DeviceId));
        Assert.Null(await Keys.GetLinkPayloadAsync(tablet.DeviceId));
    }

    // A payload for a device revoked meanwhile (its keys went with its session) is not stored: nobody could take it.
    [Fact]
    public async Task SetLinkPayloadAsync_DeviceRevokedMeanwhile_NothingStored()
    {
        var alice = await AddUserAsync("alice");
        var laptop = await AddDeviceAsync(alice, "laptop");
        var tablet = await AddDeviceAsync(alice, "tablet");
        await Keys.RevokeDeviceKeysAsync(alice.Id, tablet.DeviceId, T0);

        await Keys.SetLinkPayloadAsync(tablet.DeviceId, laptop.DeviceId, Bytes(100), T0);

        Assert.Null(await Keys.GetLinkPayloadAsync(tablet.DeviceId));
    }

    protected async Task<UserRecord> AddUserAsync(string username)
    {
        var user = new UserRecord(Guid.NewGuid(), username, username, "$argon2id$" + username, T0);
        await Directory.CreateUserAsync(user);
        return user;
    }

    protected async Task<DeviceSessionRecord> AddSessionAsync(UserRecord user, string deviceName)
    {
        var session = new DeviceSessionRecord(Guid.NewGuid(), user.Id, deviceName, Bytes(), T0, T0, null);
        await Directory.CreateDeviceSessionAsync(session);
        return session;
    }

    /// <summary>A session with registered keys; approved: with an account signature.</summary>
    protected async Task<DeviceKeysRecord> AddDeviceAsync(UserRecord user, string deviceName, long createdAtMs = 1_000, bool approved = false)
    {
        var session = await AddSessionAsync(user, deviceName);
        var code = Convert.ToHexString(session.DeviceId.ToByteArray())[..10];
        var keys = DeviceKeys(session, code, createdAtMs) with { AccountSignature = approved ? Bytes(64) : null };
        Assert.True(await Keys.SetDeviceKeysAsync(keys));
        return keys;
    }

    protected async Task<HistoryKeyRecord> AddHistoryKeyAsync(UserRecord user, int generation)
    {
        var key = HistoryKey(user, generation);
        Assert.True(await Keys.AddHistoryKeyAsync(key));
        return key;
    }

    protected async Task<TeamRecord> AddTeamAsync(UserRecord owner, string name)
    {
        var team = new TeamRecord(Guid.NewGuid(), name, owner.Id, T0);
        await Directory.CreateTeamAsync(team);
        return team;
    }

    protected async Task<ConversationRecord> AddChannelAsync(TeamRecord team, UserRecord creator, string name, params UserRecord[] members)
    {
        var channel = new ConversationRecord(Guid.NewGuid(), ConversationKind.PublicChannel, team.Id, name, null, creator.Id, T0);
        await Directory.CreateConversationAsync(channel, members.Select(m => m.Id).ToArray());
        return channel;
    }

    protected async Task<ConversationRecord> AddDirectAsync(UserRecord a, UserRecord b)
    {
        var direct = new ConversationRecord(Guid.NewGuid(), ConversationKind.DirectMessage, null, null, $"{a.Id:N}:{b.Id:N}", a.Id, T0);
        await Directory.CreateConversationAsync(direct, [a.Id, b.Id]);
        return direct;
    }

    protected static DeviceKeysRecord DeviceKeys(DeviceSessionRecord session, string linkCode, long createdAtMs = 1_000) =>
        new(session.DeviceId, session.UserId, Bytes(), Bytes(), createdAtMs, Bytes(64), linkCode, 1, null);

    protected static HistoryKeyRecord HistoryKey(UserRecord user, int generation) => new(user.Id, generation, Bytes(), Bytes(64), T0);

    protected static DeviceListRecord DeviceList(UserRecord user, long version, params DeviceKeysRecord[] devices) =>
        new(user.Id, version, devices.Select(d => new DeviceListEntry(d.DeviceId, Bytes())).ToList(), Bytes(64), T0);

    protected static byte[] Bytes(int length = 32) => RandomNumberGenerator.GetBytes(length);

    // Records holding byte[] compare the arrays by reference: these compare them by content.
    protected static void AssertAccountKey(AccountKeyRecord expected, AccountKeyRecord? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.SigningKey, actual.SigningKey);
        Assert.Equal(expected with { SigningKey = [] }, actual with { SigningKey = [] });
    }

    protected static void AssertHistoryKey(HistoryKeyRecord expected, HistoryKeyRecord? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.PublicKey, actual.PublicKey);
        Assert.Equal(expected.Signature, actual.Signature);
        Assert.Equal(expected with { PublicKey = [], Signature = [] }, actual with { PublicKey = [], Signature = [] });
    }

    protected static void AssertDeviceKeys(DeviceKeysRecord expected, DeviceKeysRecord? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.SigningKey, actual.SigningKey);
        Assert.Equal(expected.DhKey, actual.DhKey);
        Assert.Equal(expected.SelfSignature, actual.SelfSignature);
        Assert.Equal(expected.AccountSignature, actual.AccountSignature);
        Assert.Equal(
            expected with { SigningKey = [], DhKey = [], SelfSignature = [], AccountSignature = null },
            actual with { SigningKey = [], DhKey = [], SelfSignature = [], AccountSignature = null });
    }

    protected static void AssertDeviceList(DeviceListRecord expected, DeviceListRecord? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal((expected.UserId, expected.Version, expected.UpdatedAt), (actual.UserId, actual.Version, actual.UpdatedAt));
        Assert.Equal(expected.Signature, actual.Signature);
        Assert.Equal(expected.Entries.Select(e => (e.DeviceId, Convert.ToHexString(e.CertificateHash))), actual.Entries.Select(e => (e.DeviceId, Convert.ToHexString(e.CertificateHash))));
    }
}
