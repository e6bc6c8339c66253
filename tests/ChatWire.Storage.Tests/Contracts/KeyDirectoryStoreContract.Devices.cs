using ChatWire.Storage.Keys;

namespace ChatWire.Storage.Tests.Contracts;

// Prekeys and device revocation.
public abstract partial class KeyDirectoryStoreContract
{
    [Fact]
    public async Task SetSignedPrekeyAsync_Twice_ReplacesThePrevious()
    {
        var alice = await AddUserAsync("alice");
        var phone = await AddDeviceAsync(alice, "phone");
        await Keys.SetSignedPrekeyAsync(new SignedPrekeyRecord(phone.DeviceId, 1, Bytes(), Bytes(64), T0));
        var second = new SignedPrekeyRecord(phone.DeviceId, 2, Bytes(), Bytes(64), T0.AddDays(7));

        await Keys.SetSignedPrekeyAsync(second);

        var stored = await Keys.GetSignedPrekeyAsync(phone.DeviceId);
        Assert.NotNull(stored);
        Assert.Equal(second.PublicKey, stored.PublicKey);
        Assert.Equal(second.Signature, stored.Signature);
        Assert.Equal((2, T0.AddDays(7)), (stored.PrekeyId, stored.CreatedAt));
        Assert.Null(await Keys.GetSignedPrekeyAsync(Guid.NewGuid()));
    }

    [Fact]
    public async Task AddOneTimePrekeysAsync_IdAlreadyStored_IgnoredAndCountReturned()
    {
        var alice = await AddUserAsync("alice");
        var phone = await AddDeviceAsync(alice, "phone");
        var first = new OneTimePrekeyRecord(1, Bytes());
        Assert.Equal(2, await Keys.AddOneTimePrekeysAsync(phone.DeviceId, [first, new OneTimePrekeyRecord(2, Bytes())]));

        Assert.Equal(3, await Keys.AddOneTimePrekeysAsync(phone.DeviceId, [new OneTimePrekeyRecord(1, Bytes()), new OneTimePrekeyRecord(3, Bytes())]));

        Assert.Equal(3, await Keys.CountOneTimePrekeysAsync(phone.DeviceId));
        Assert.Equal(first.PublicKey, (await Keys.ClaimOneTimePrekeyAsync(phone.DeviceId))!.PublicKey);
        Assert.Equal(0, await Keys.CountOneTimePrekeysAsync(Guid.NewGuid()));
    }

    // Regression: the limit counted every id of an upload, so a retry of one that had filled the device failed.
    [Fact]
    public async Task AddOneTimePrekeysAsync_RetriedAtMaxHeld_IdsAlreadyHeldDoNotCount()
    {
        var alice = await AddUserAsync("alice");
        var phone = await AddDeviceAsync(alice, "phone");
        List<OneTimePrekeyRecord> Range(int from, int count) => Enumerable.Range(from, count).Select(id => new OneTimePrekeyRecord(id, Bytes())).ToList();
        Assert.Equal(10, await Keys.AddOneTimePrekeysAsync(phone.DeviceId, Range(1, 10), maxHeld: 10));

        var retried = await Keys.AddOneTimePrekeysAsync(phone.DeviceId, Range(1, 5), maxHeld: 10);
        var oneNewAmongThem = await Keys.AddOneTimePrekeysAsync(phone.DeviceId, Range(9, 3), maxHeld: 10);

        Assert.Equal(10, retried);
        Assert.Null(oneNewAmongThem);
        Assert.Equal(10, await Keys.CountOneTimePrekeysAsync(phone.DeviceId));
    }

    // Regression: the endpoint counted, then added, in two transactions; concurrent uploads all passed the count.
    [Fact]
    public async Task AddOneTimePrekeysAsync_ConcurrentUploadsAtMaxHeld_NeverPassItTogether()
    {
        var alice = await AddUserAsync("alice");
        var phone = await AddDeviceAsync(alice, "phone");
        Assert.Equal(2, await Keys.AddOneTimePrekeysAsync(phone.DeviceId, [new OneTimePrekeyRecord(1, Bytes()), new OneTimePrekeyRecord(2, Bytes())], maxHeld: 20));

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(batch => Keys.AddOneTimePrekeysAsync(
            phone.DeviceId, Enumerable.Range(100 + (batch * 10), 5).Select(id => new OneTimePrekeyRecord(id, Bytes())).ToList(), maxHeld: 20)));

        Assert.Equal(3, results.Count(r => r is not null));
        Assert.Equal(17, await Keys.CountOneTimePrekeysAsync(phone.DeviceId));
        Assert.Null(await Keys.AddOneTimePrekeysAsync(phone.DeviceId, [new OneTimePrekeyRecord(3, Bytes()), new OneTimePrekeyRecord(4, Bytes()), new OneTimePrekeyRecord(5, Bytes()), new OneTimePrekeyRecord(6, Bytes())], maxHeld: 20));
        Assert.Equal(17, await Keys.CountOneTimePrekeysAsync(phone.DeviceId));
    }

    [Fact]
    public async Task ClaimOneTimePrekeyAsync_ThreeKeys_LowestIdFirstEachOnceThenNull()
    {
        var alice = await AddUserAsync("alice");
        var phone = await AddDeviceAsync(alice, "phone");
        var other = await AddDeviceAsync(alice, "laptop");
        await Keys.AddOneTimePrekeysAsync(phone.DeviceId, [new OneTimePrekeyRecord(7, Bytes()), new OneTimePrekeyRecord(3, Bytes()), new OneTimePrekeyRecord(5, Bytes())]);
        await Keys.AddOneTimePrekeysAsync(other.DeviceId, [new OneTimePrekeyRecord(1, Bytes())]);

        var claimed = new List<int?>();
        for (var i = 0; i < 4; i++)
        {
            claimed.Add((await Keys.ClaimOneTimePrekeyAsync(phone.DeviceId))?.PrekeyId);
        }

        Assert.Equal([3, 5, 7, null], claimed);
        Assert.Equal(1, await Keys.CountOneTimePrekeysAsync(other.DeviceId));
    }

    [Fact]
    public async Task ClaimOneTimePrekeyAsync_TwentyConcurrentClaimsOnTenKeys_TenDistinctKeysAndTenNulls()
    {
        var alice = await AddUserAsync("alice");
        var phone = await AddDeviceAsync(alice, "phone");
        await Keys.AddOneTimePrekeysAsync(phone.DeviceId, Enumerable.Range(1, 10).Select(id => new OneTimePrekeyRecord(id, Bytes())).ToList());

        var claims = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() => Keys.ClaimOneTimePrekeyAsync(phone.DeviceId))));

        Assert.Equal(Enumerable.Range(1, 10), claims.OfType<OneTimePrekeyRecord>().Select(k => k.PrekeyId).Order());
        Assert.Equal(10, claims.Count(k => k is null));
        Assert.Equal(0, await Keys.CountOneTimePrekeysAsync(phone.DeviceId));
    }

    [Fact]
    public async Task SetSignedPrekeyAsync_DeviceWithoutKeys_StoresNothing()
    {
        var alice = await AddUserAsync("alice");
        var session = await AddSessionAsync(alice, "phone");

        await Keys.SetSignedPrekeyAsync(new SignedPrekeyRecord(session.DeviceId, 1, Bytes(), Bytes(64), T0));

        Assert.Null(await Keys.GetSignedPrekeyAsync(session.DeviceId));
        Assert.Equal(0, await Keys.AddOneTimePrekeysAsync(session.DeviceId, [new OneTimePrekeyRecord(1, Bytes())]));
    }

    [Fact]
    public async Task RevokeDeviceKeysAsync_Device_KeysPrekeysPayloadGoneHistoryKeyUnusableAndEpochsBumped()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var laptop = await AddDeviceAsync(alice, "laptop");
        var phone = await AddDeviceAsync(alice, "phone");
        await GiveDeviceEverythingAsync(phone, laptop);
        await AddHistoryKeyAsync(alice, 1);
        var direct = await AddDirectAsync(alice, bob);
        var before = await Keys.GetConversationKeyStateAsync(direct.Id);

        await Keys.RevokeDeviceKeysAsync(alice.Id, phone.DeviceId, T0.AddHours(1));

        await AssertRevokedAsync(phone);
        Assert.NotNull(await Keys.GetDeviceKeysAsync(laptop.DeviceId));
        Assert.Equal(before.Epoch + 1, (await Keys.GetConversationKeyStateAsync(direct.Id)).Epoch);
        Assert.True(await Keys.AddHistoryKeyAsync(HistoryKey(alice, 2)));
        Assert.Equal(2, (await Keys.GetHistoryKeyAsync(alice.Id))!.Generation);
    }

    [Fact]
    public async Task RevokeDeviceSessionAsync_DeviceWithKeys_RevokesItsKeysInTheSameCall()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var laptop = await AddDeviceAsync(alice, "laptop");
        var phone = await AddDeviceAsync(alice, "phone");
        await GiveDeviceEverythingAsync(phone, laptop);
        await AddHistoryKeyAsync(alice, 1);
        Assert.True(await Keys.SetDeviceListAsync(DeviceList(alice, 1, laptop, phone)));
        var direct = await AddDirectAsync(alice, bob);
        var before = await Keys.GetConversationKeyStateAsync(direct.Id);

        Assert.True(await Directory.RevokeDeviceSessionAsync(alice.Id, phone.DeviceId, T0.AddHours(1)));

        await AssertRevokedAsync(phone);
        Assert.Equal(before with { Epoch = before.Epoch + 1, RosterVersion = before.RosterVersion + 1 }, await Keys.GetConversationKeyStateAsync(direct.Id));
        Assert.Equal([laptop.DeviceId], (await Keys.ListDeviceKeysAsync(alice.Id)).Select(k => k.DeviceId));
        var roster = await Keys.GetDistributionRosterAsync(direct.Id);
        Assert.Equal([laptop.DeviceId], roster.Members.Single(m => m.UserId == alice.Id).ListedDevices);
        Assert.False(await Keys.SetDeviceKeysAsync(phone));
    }

    [Fact]
    public async Task RevokeDeviceSessionAsync_ApprovedDevice_KeptAsFormerDeviceWithItsRevocationTime()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var laptop = await AddDeviceAsync(alice, "laptop", approved: true);
        var phone = await AddDeviceAsync(alice, "phone", approved: true);
        var tablet = await AddDeviceAsync(alice, "tablet", approved: true);
        var pending = await AddDeviceAsync(alice, "pending");
        await AddDeviceAsync(bob, "bob-phone", approved: true);

        Assert.True(await Directory.RevokeDeviceSessionAsync(alice.Id, phone.DeviceId, T0.AddHours(1)));
        await Keys.RevokeDeviceKeysAsync(alice.Id, tablet.DeviceId, T0.AddHours(2));
        Assert.True(await Directory.RevokeDeviceSessionAsync(alice.Id, pending.DeviceId, T0.AddHours(3)));

        // Newest revocation first; a device never approved never sent anything anyone could read, so it is not kept.
        var former = await Keys.ListFormerDeviceKeysAsync(alice.Id, limit: 10);
        Assert.Equal([tablet.DeviceId, phone.DeviceId], former.Select(f => f.Keys.DeviceId));
        AssertDeviceKeys(phone, former[1].Keys);
        Assert.Equal(T0.AddHours(1), former[1].RevokedAt);
        Assert.Equal(T0.AddHours(2), former[0].RevokedAt);
        Assert.Equal([tablet.DeviceId], (await Keys.ListFormerDeviceKeysAsync(alice.Id, limit: 1)).Select(f => f.Keys.DeviceId));
        Assert.Empty(await Keys.ListFormerDeviceKeysAsync(bob.Id, limit: 10));

        // Still revoked everywhere else: not listed, no keys, no prekeys.
        Assert.Null(await Keys.GetDeviceKeysAsync(phone.DeviceId));
        Assert.Equal([laptop.DeviceId], (await Keys.ListDeviceKeysAsync(alice.Id)).Select(k => k.DeviceId));
        Assert.Equal(0, await Keys.AddOneTimePrekeysAsync(phone.DeviceId, [new OneTimePrekeyRecord(1, Bytes())]));
    }

    [Fact]
    public async Task GetHighestHistoryKeyGenerationAsync_AfterRevocation_StillTheHighestEverPublished()
    {
        var alice = await AddUserAsync("alice");
        var laptop = await AddDeviceAsync(alice, "laptop", approved: true);
        var phone = await AddDeviceAsync(alice, "phone", approved: true);
        Assert.Equal(0, await Keys.GetHighestHistoryKeyGenerationAsync(alice.Id));
        await AddHistoryKeyAsync(alice, 1);
        await AddHistoryKeyAsync(alice, 3);

        await Keys.RevokeDeviceKeysAsync(alice.Id, phone.DeviceId, T0.AddHours(1));

        Assert.Null(await Keys.GetHistoryKeyAsync(alice.Id));
        Assert.Equal(3, await Keys.GetHighestHistoryKeyGenerationAsync(alice.Id));
        Assert.NotNull(await Keys.GetDeviceKeysAsync(laptop.DeviceId));
    }

    [Fact]
    public async Task RevokeDeviceSessionAsync_DeviceWithoutKeys_LeavesKeyStateAlone()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        await AddHistoryKeyAsync(alice, 1);
        var session = await AddSessionAsync(alice, "old-client");
        var direct = await AddDirectAsync(alice, bob);
        var before = await Keys.GetConversationKeyStateAsync(direct.Id);

        Assert.True(await Directory.RevokeDeviceSessionAsync(alice.Id, session.DeviceId, T0.AddHours(1)));

        Assert.Equal(before, await Keys.GetConversationKeyStateAsync(direct.Id));
        Assert.Equal(1, (await Keys.GetHistoryKeyAsync(alice.Id))!.Generation);
    }

    [Fact]
    public async Task RevokeAllDeviceSessionsAsync_ExceptOne_RevokesTheOthersKeysAndBumpsEpochsOnce()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var laptop = await AddDeviceAsync(alice, "laptop");
        var phone = await AddDeviceAsync(alice, "phone");
        var tablet = await AddDeviceAsync(alice, "tablet");
        await GiveDeviceEverythingAsync(phone, laptop);
        await GiveDeviceEverythingAsync(tablet, laptop);
        await AddHistoryKeyAsync(alice, 1);
        var direct = await AddDirectAsync(alice, bob);
        var before = await Keys.GetConversationKeyStateAsync(direct.Id);

        var revoked = await Directory.RevokeAllDeviceSessionsAsync(alice.Id, laptop.DeviceId, T0.AddHours(1));

        Assert.Equal(new[] { phone.DeviceId, tablet.DeviceId }.Order(), revoked.Order());
        await AssertRevokedAsync(phone);
        await AssertRevokedAsync(tablet);
        Assert.Equal([laptop.DeviceId], (await Keys.ListDeviceKeysAsync(alice.Id)).Select(k => k.DeviceId));
        Assert.Equal(before.Epoch + 1, (await Keys.GetConversationKeyStateAsync(direct.Id)).Epoch);
    }

    private async Task GiveDeviceEverythingAsync(DeviceKeysRecord device, DeviceKeysRecord linkedFrom)
    {
        await Keys.SetSignedPrekeyAsync(new SignedPrekeyRecord(device.DeviceId, 1, Bytes(), Bytes(64), T0));
        await Keys.AddOneTimePrekeysAsync(device.DeviceId, [new OneTimePrekeyRecord(1, Bytes()), new OneTimePrekeyRecord(2, Bytes())]);
        await Keys.SetLinkPayloadAsync(device.DeviceId, linkedFrom.DeviceId, Bytes(80), T0);
    }

    // What a revoked device leaves: nothing of its own, and its user's history keys unusable.
    private async Task AssertRevokedAsync(DeviceKeysRecord device)
    {
        Assert.Null(await Keys.GetDeviceKeysAsync(device.DeviceId));
        Assert.Null(await Keys.FindDeviceByLinkCodeAsync(device.UserId, device.LinkCode));
        Assert.DoesNotContain(device.DeviceId, (await Keys.ListDeviceKeysAsync(device.UserId)).Select(k => k.DeviceId));
        Assert.Null(await Keys.GetSignedPrekeyAsync(device.DeviceId));
        Assert.Equal(0, await Keys.CountOneTimePrekeysAsync(device.DeviceId));
        Assert.Null(await Keys.ClaimOneTimePrekeyAsync(device.DeviceId));
        Assert.Null(await Keys.GetLinkPayloadAsync(device.DeviceId));
        Assert.Null(await Keys.GetHistoryKeyAsync(device.UserId));
        Assert.False(await Keys.SetDeviceCertificateAsync(device.DeviceId, 2, Bytes(64)));
    }
}
