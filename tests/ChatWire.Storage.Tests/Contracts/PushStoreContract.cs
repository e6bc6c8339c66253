using System.Security.Cryptography;
using ChatWire.Storage.Directory;
using ChatWire.Storage.Push;

namespace ChatWire.Storage.Tests.Contracts;

/// <summary>Every IPushStore adapter's behaviour, written once; an adapter's class supplies a fresh directory store.</summary>
public abstract class PushStoreContract : IAsyncLifetime
{
    protected static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_795_000_000_123);

    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(10);

    private IDirectoryStore? _store;

    private IDirectoryStore Directory => _store ?? throw new InvalidOperationException("The store is not created yet.");

    private IPushStore Store => (IPushStore)Directory;

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

    [Fact]
    public async Task SetPushTokenAsync_Reregistered_ReplacesTheDevicesToken()
    {
        var (user, device) = await AddDeviceAsync();
        await Store.SetPushTokenAsync(new PushTokenRecord(device, user, PushProvider.Apns, "aa01", T0));
        var second = new PushTokenRecord(device, user, PushProvider.Webhook, "https://example.com/hook", T0.AddMinutes(1));

        await Store.SetPushTokenAsync(second);

        Assert.Equal(second, await Store.GetPushTokenAsync(device));
        Assert.Equal([second], await Store.ListPushTokensAsync(user));
    }

    [Fact]
    public async Task SetPushTokenAsync_TheLongestTokenTheApiTakes_StoredWhole()
    {
        // 4,096 characters: the longest FCM registration token the HTTP API accepts (docs/http-api.md, push).
        var (user, device) = await AddDeviceAsync();
        var token = new PushTokenRecord(device, user, PushProvider.Fcm, string.Concat(Enumerable.Repeat("aZ0_-:.9", 512)), T0);

        await Store.SetPushTokenAsync(token);

        Assert.Equal(token, await Store.GetPushTokenAsync(device));
    }

    [Fact]
    public async Task ListPushTokensAsync_SeveralDevices_OnlyTheUsersLiveOnes()
    {
        var (user, first) = await AddDeviceAsync();
        var second = await AddSessionAsync(user);
        var (other, otherDevice) = await AddDeviceAsync();
        var a = new PushTokenRecord(first, user, PushProvider.Apns, "aa01", T0);
        var b = new PushTokenRecord(second, user, PushProvider.Fcm, "fcm-token", T0.AddSeconds(1));
        await Store.SetPushTokenAsync(a);
        await Store.SetPushTokenAsync(b);
        await Store.SetPushTokenAsync(new PushTokenRecord(otherDevice, other, PushProvider.Apns, "bb02", T0));

        Assert.Equal([a, b], await Store.ListPushTokensAsync(user));
    }

    [Fact]
    public async Task RevokeDeviceSessionAsync_Registered_TokenDeletedWithTheSession()
    {
        var (user, device) = await AddDeviceAsync();
        var kept = await AddSessionAsync(user);
        await Store.SetPushTokenAsync(new PushTokenRecord(device, user, PushProvider.Apns, "aa01", T0));
        await Store.SetPushTokenAsync(new PushTokenRecord(kept, user, PushProvider.Apns, "aa02", T0));

        Assert.True(await Directory.RevokeDeviceSessionAsync(user, device, T0));

        Assert.Null(await Store.GetPushTokenAsync(device));
        Assert.NotNull(await Store.GetPushTokenAsync(kept));
    }

    [Fact]
    public async Task RevokeAllDeviceSessionsAsync_Registered_EveryRevokedDevicesTokenDeleted()
    {
        var (user, first) = await AddDeviceAsync();
        var second = await AddSessionAsync(user);
        await Store.SetPushTokenAsync(new PushTokenRecord(first, user, PushProvider.Apns, "aa01", T0));
        await Store.SetPushTokenAsync(new PushTokenRecord(second, user, PushProvider.Fcm, "f", T0));

        await Directory.RevokeAllDeviceSessionsAsync(user, exceptDeviceId: null, T0);

        Assert.Null(await Store.GetPushTokenAsync(first));
        Assert.Null(await Store.GetPushTokenAsync(second));
    }

    [Fact]
    public async Task DeletePushTokenIfAsync_TokenReplacedMeanwhile_KeepsTheNewOne()
    {
        var (user, device) = await AddDeviceAsync();
        await Store.SetPushTokenAsync(new PushTokenRecord(device, user, PushProvider.Apns, "new", T0));

        Assert.False(await Store.DeletePushTokenIfAsync(device, "old"));
        Assert.NotNull(await Store.GetPushTokenAsync(device));
        Assert.True(await Store.DeletePushTokenIfAsync(device, "new"));
        Assert.Null(await Store.GetPushTokenAsync(device));
        Assert.False(await Store.DeletePushTokenAsync(device));
    }

    [Fact]
    public async Task FilterUsersWithPushTokensAsync_Mixed_OnlyUsersWithALiveRegistration()
    {
        var (registered, device) = await AddDeviceAsync();
        var (revoked, revokedDevice) = await AddDeviceAsync();
        var (unregistered, _) = await AddDeviceAsync();
        await Store.SetPushTokenAsync(new PushTokenRecord(device, registered, PushProvider.Apns, "aa01", T0));
        await Store.SetPushTokenAsync(new PushTokenRecord(await AddSessionAsync(registered), registered, PushProvider.Fcm, "f", T0));
        await Store.SetPushTokenAsync(new PushTokenRecord(revokedDevice, revoked, PushProvider.Apns, "aa02", T0));
        await Directory.RevokeDeviceSessionAsync(revoked, revokedDevice, T0);

        var found = await Store.FilterUsersWithPushTokensAsync([registered, revoked, unregistered, Guid.NewGuid()]);

        Assert.Equal([registered], found);
    }

    [Fact]
    public async Task GetPushPreferencesAsync_NeverSet_Default()
    {
        var preferences = await Store.GetPushPreferencesAsync(Guid.NewGuid());

        Assert.Equal(PushLevel.MentionsAndDirect, preferences.Level);
        Assert.Null(preferences.DoNotDisturbUntil);
        Assert.Empty(preferences.Conversations);
    }

    [Fact]
    public async Task SetPushPreferencesAsync_WithConversationLevels_ReadBackAndOverridesApply()
    {
        var user = Guid.NewGuid();
        var quiet = Guid.NewGuid();
        var loud = Guid.NewGuid();
        await Store.SetConversationPushLevelAsync(user, quiet, PushLevel.None);
        await Store.SetConversationPushLevelAsync(user, loud, PushLevel.All);
        await Store.SetPushPreferencesAsync(user, PushLevel.MentionsAndDirect, T0.AddHours(8));

        var preferences = await Store.GetPushPreferencesAsync(user);

        Assert.Equal(T0.AddHours(8), preferences.DoNotDisturbUntil);
        Assert.Equal(PushLevel.None, preferences.LevelIn(quiet));
        Assert.Equal(PushLevel.All, preferences.LevelIn(loud));
        Assert.Equal(PushLevel.MentionsAndDirect, preferences.LevelIn(Guid.NewGuid()));

        await Store.SetConversationPushLevelAsync(user, loud, null);
        Assert.Equal(PushLevel.MentionsAndDirect, (await Store.GetPushPreferencesAsync(user)).LevelIn(loud));
    }

    [Fact]
    public async Task GetPushLevelsAsync_ManyUsers_EachUsersLevelInTheConversation()
    {
        var conversation = Guid.NewGuid();
        var users = Enumerable.Range(0, 700).Select(_ => Guid.NewGuid()).ToList();
        await Store.SetPushPreferencesAsync(users[1], PushLevel.All, null);
        await Store.SetPushPreferencesAsync(users[2], PushLevel.All, T0);
        await Store.SetConversationPushLevelAsync(users[2], conversation, PushLevel.None);
        await Store.SetConversationPushLevelAsync(users[650], conversation, PushLevel.All);
        await Store.SetConversationPushLevelAsync(users[3], Guid.NewGuid(), PushLevel.All);

        var levels = await Store.GetPushLevelsAsync(users, conversation);

        Assert.Equal(700, levels.Count);
        Assert.Equal((PushLevel.MentionsAndDirect, (DateTimeOffset?)null), levels[users[0]]);
        Assert.Equal((PushLevel.All, (DateTimeOffset?)null), levels[users[1]]);
        Assert.Equal((PushLevel.None, (DateTimeOffset?)T0), levels[users[2]]);
        Assert.Equal(PushLevel.MentionsAndDirect, levels[users[3]].Level);
        Assert.Equal(PushLevel.All, levels[users[650]].Level);
    }

    [Fact]
    public async Task EnqueuePushesAsync_BurstInOneConversation_FoldsIntoOneWithCountAndNewestMessage()
    {
        var user = Guid.NewGuid();
        var conversation = Guid.NewGuid();
        var first = Pending(user, conversation, 1, T0);
        var newest = Pending(user, conversation, 3, T0.AddSeconds(2)) with { Reason = PushReason.Mention };
        await Store.EnqueuePushesAsync([first, Pending(user, conversation, 2, T0.AddSeconds(1)), newest], MaxDelay);
        await Store.EnqueuePushesAsync([Pending(user, Guid.NewGuid(), 1, T0.AddSeconds(30))], MaxDelay);

        var due = await Store.ListDuePushesAsync(T0.AddSeconds(5), 10);

        Assert.Equal([newest with { Count = 3 }], due);
    }

    [Fact]
    public async Task EnqueuePushesAsync_SteadyStream_DueNoLaterThanMaxDelayAfterTheFirst()
    {
        var user = Guid.NewGuid();
        var conversation = Guid.NewGuid();
        await Store.EnqueuePushesAsync([Pending(user, conversation, 1, T0)], MaxDelay);
        await Store.EnqueuePushesAsync([Pending(user, conversation, 2, T0.AddSeconds(25))], MaxDelay);

        Assert.Empty(await Store.ListDuePushesAsync(T0.AddSeconds(9), 10));
        Assert.Equal(T0 + MaxDelay, Assert.Single(await Store.ListDuePushesAsync(T0.AddSeconds(10), 10)).DueAt);
    }

    [Fact]
    public async Task EnqueuePushesAsync_OlderThanTheWaitingOne_ChangesNothing()
    {
        var user = Guid.NewGuid();
        var conversation = Guid.NewGuid();
        var waiting = Pending(user, conversation, 5, T0);
        await Store.EnqueuePushesAsync([waiting], MaxDelay);

        await Store.EnqueuePushesAsync([Pending(user, conversation, 4, T0.AddSeconds(1))], MaxDelay);

        Assert.Equal([waiting], await Store.ListDuePushesAsync(T0.AddMinutes(1), 10));
    }

    [Fact]
    public async Task CompletePushAsync_FoldedOverSinceRead_KeptForTheNewMessageCountingOnlyIt()
    {
        var user = Guid.NewGuid();
        var conversation = Guid.NewGuid();
        await Store.EnqueuePushesAsync([Pending(user, conversation, 1, T0), Pending(user, conversation, 2, T0)], MaxDelay);
        var read = Assert.Single(await Store.ListDuePushesAsync(T0, 10));
        await Store.EnqueuePushesAsync([Pending(user, conversation, 3, T0.AddSeconds(1))], MaxDelay);

        Assert.False(await Store.CompletePushAsync(user, conversation, read.MessageId, read.Count));
        var newest = Assert.Single(await Store.ListDuePushesAsync(T0.AddMinutes(1), 10));
        Assert.Equal((3UL, 1), (newest.Seq, newest.Count));
        Assert.True(await Store.CompletePushAsync(user, conversation, newest.MessageId, newest.Count));
        Assert.Empty(await Store.ListDuePushesAsync(T0.AddMinutes(1), 10));
    }

    [Fact]
    public async Task ListDuePushesAsync_SeveralDue_EarliestFirstUpToTheLimit()
    {
        var pushes = Enumerable.Range(0, 5).Select(i => Pending(Guid.NewGuid(), Guid.NewGuid(), 1, T0.AddSeconds(5 - i))).ToList();
        await Store.EnqueuePushesAsync(pushes, MaxDelay);

        var due = await Store.ListDuePushesAsync(T0.AddSeconds(4), 3);

        Assert.Equal([pushes[4], pushes[3], pushes[2]], due);
    }

    // The store queue sends one notification per user at a time: the users it is sending to are left out, and the
    // others' come up in their place, in due order.
    [Fact]
    public async Task ListDuePushesAsync_ExceptUsers_TheirsLeftOutOthersInTheirPlace()
    {
        var busy = Guid.NewGuid();
        var other = Guid.NewGuid();
        var busyFirst = Pending(busy, Guid.NewGuid(), 1, T0);
        var busySecond = Pending(busy, Guid.NewGuid(), 1, T0.AddSeconds(1));
        var othersFirst = Pending(other, Guid.NewGuid(), 1, T0.AddSeconds(2));
        var othersSecond = Pending(other, Guid.NewGuid(), 1, T0.AddSeconds(3));
        var third = Pending(Guid.NewGuid(), Guid.NewGuid(), 1, T0.AddSeconds(4));
        await Store.EnqueuePushesAsync([busyFirst, busySecond, othersFirst, othersSecond, third], MaxDelay);

        Assert.Equal([othersFirst, othersSecond], await Store.ListDuePushesAsync(T0.AddMinutes(1), 2, [busy]));
        Assert.Equal([third], await Store.ListDuePushesAsync(T0.AddMinutes(1), 10, [busy, other]));
        Assert.Equal([busyFirst, busySecond], await Store.ListDuePushesAsync(T0.AddMinutes(1), 2, []));
    }

    [Fact]
    public async Task RecordPushSentAsync_SamePairTwice_SecondFalse()
    {
        var device = Guid.NewGuid();
        var message = Guid.NewGuid();

        Assert.True(await Store.RecordPushSentAsync(device, message, T0));
        Assert.False(await Store.RecordPushSentAsync(device, message, T0.AddSeconds(1)));
        Assert.True(await Store.WasPushSentAsync(device, message));
        Assert.False(await Store.WasPushSentAsync(Guid.NewGuid(), message));
    }

    [Fact]
    public async Task PrunePushSentAsync_Older_Forgotten()
    {
        var device = Guid.NewGuid();
        var old = Guid.NewGuid();
        var recent = Guid.NewGuid();
        await Store.RecordPushSentAsync(device, old, T0);
        await Store.RecordPushSentAsync(device, recent, T0.AddHours(2));

        Assert.Equal(1, await Store.PrunePushSentAsync(T0.AddHours(1)));

        Assert.False(await Store.WasPushSentAsync(device, old));
        Assert.True(await Store.WasPushSentAsync(device, recent));
    }

    private static PendingPush Pending(Guid user, Guid conversation, ulong seq, DateTimeOffset dueAt) =>
        new(user, conversation, Guid.NewGuid(), seq, Guid.NewGuid(), PushReason.Direct, 1, dueAt);

    private async Task<(Guid User, Guid Device)> AddDeviceAsync()
    {
        var user = new UserRecord(Guid.NewGuid(), "u" + Guid.NewGuid().ToString("N")[..12], "User", "hash", T0);
        await Directory.CreateUserAsync(user);
        return (user.Id, await AddSessionAsync(user.Id));
    }

    private async Task<Guid> AddSessionAsync(Guid user)
    {
        var device = Guid.NewGuid();
        await Directory.CreateDeviceSessionAsync(new DeviceSessionRecord(device, user, "phone", RandomNumberGenerator.GetBytes(32), T0, T0, null));
        return device;
    }
}
