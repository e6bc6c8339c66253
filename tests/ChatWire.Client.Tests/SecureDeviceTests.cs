using ChatWire.Client.Secure;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;
using ChatWire.Client.Tests.Infrastructure;

namespace ChatWire.Client.Tests;

// Device setup, linking, revocation and safety numbers through the SDK's Secure layer against the real gateway
// and its key directory: every key the tests see was published, fetched and verified over HTTP.
public sealed class SecureDeviceTests(ServerFixture fixture) : IClassFixture<ServerFixture>, IDisposable
{
    private readonly string _keyDirectory = Path.Combine(Path.GetTempPath(), "chatwire-keys-" + Guid.NewGuid().ToString("N"));

    private TestServer Server => fixture.Server;

    [Fact]
    public async Task SetUpDevice_FirstDevice_IsApprovedWithRecoveryKey()
    {
        var alice = await Server.SignupAsync();
        using var device = Device(alice, out var api);

        var result = await device.SetUpDeviceAsync(alice.UserId, alice.DeviceId);
        var keys = await api.GetUserKeysAsync(alice.UserId);

        Assert.True(result.Approved);
        Assert.True(result.FirstDevice);
        Assert.NotNull(result.RecoveryKey);
        Assert.Matches("^[A-Z2-7]{5}-[A-Z2-7]{5}$", result.LinkCode);
        Assert.Equal(alice.DeviceId, Assert.Single(keys.DeviceList!.Devices).DeviceId);
        Assert.Equal(1u, keys.HistoryKey!.Generation);
        Assert.NotNull(await api.GetRecoveryBackupAsync());
    }

    [Fact]
    public async Task ApproveDevice_ByItsCode_SecondDeviceGetsTheKeys()
    {
        var alice = await Server.SignupAsync();
        using var first = Device(alice, out _);
        await first.SetUpDeviceAsync(alice.UserId, alice.DeviceId);
        var laptop = await Server.LoginAsync(alice, "laptop");
        using var second = Device(laptop, out _);

        var pending = await second.SetUpDeviceAsync(laptop.UserId, laptop.DeviceId);
        var approvedBefore = await second.SyncOwnKeysAsync();
        var approvedDevice = await first.ApproveDeviceAsync(pending.LinkCode.ToLowerInvariant());
        var approvedAfter = await second.SyncOwnKeysAsync();
        var devices = await first.ListDevicesAsync();

        Assert.False(pending.Approved);
        Assert.False(pending.FirstDevice);
        Assert.False(approvedBefore);
        Assert.Equal(laptop.DeviceId, approvedDevice.DeviceId);
        Assert.True(approvedAfter);
        Assert.All(devices, device => Assert.Equal("approved", device.State));
        Assert.True(Assert.Single(devices, device => device.Current).DeviceId == alice.DeviceId);
    }

    [Fact]
    public async Task WaitForApproval_ReturnsOnceAnotherDeviceApproves()
    {
        var alice = await Server.SignupAsync();
        using var first = Device(alice, out _);
        await first.SetUpDeviceAsync(alice.UserId, alice.DeviceId);
        var laptop = await Server.LoginAsync(alice, "laptop");
        using var second = Device(laptop, out _);
        var pending = await second.SetUpDeviceAsync(laptop.UserId, laptop.DeviceId);

        var waiting = second.WaitForApprovalAsync(TimeSpan.FromMilliseconds(50));
        await Task.Delay(200);
        Assert.False(waiting.IsCompleted);
        await first.ApproveDeviceAsync(pending.LinkCode);
        await waiting.WaitAsync(Patience.Default);

        Assert.True(await second.SyncOwnKeysAsync());
        await second.WaitForApprovalAsync().WaitAsync(Patience.Default);
    }

    [Fact]
    public async Task WaitForApproval_OverAConnection_WokenByTheServersPush()
    {
        var alice = await Server.SignupAsync();
        using var first = Device(alice, out _);
        await first.SetUpDeviceAsync(alice.UserId, alice.DeviceId);
        await using var phoneConnection = await Sdk.ConnectAsync(alice);
        var phoneEvents = new EventLog(phoneConnection);
        var laptop = await Server.LoginAsync(alice, "laptop");
        using var second = Device(laptop, out _);
        await using var laptopConnection = await Sdk.ConnectAsync(laptop);
        var laptopEvents = new EventLog(laptopConnection);
        var pending = await second.SetUpDeviceAsync(laptop.UserId, laptop.DeviceId);

        // A fallback check an hour away: within the test's bounds only a push can end the wait.
        var waiting = second.WaitForApprovalAsync(laptopConnection, TimeSpan.FromHours(1));
        var registered = await phoneEvents.NextOfAsync<OwnKeysChanged>();
        Assert.False(waiting.IsCompleted);
        await first.ApproveDeviceAsync(pending.LinkCode);
        await waiting.WaitAsync(Patience.Default);

        Assert.Equal(new OwnKeysChanged(KeyChange.DeviceRegistered, laptop.DeviceId), registered);
        Assert.True(await second.SyncOwnKeysAsync());
        var laptopSaw = new List<OwnKeysChanged>();
        while (!laptopSaw.Contains(new OwnKeysChanged(KeyChange.LinkPayload, laptop.DeviceId)))
        {
            laptopSaw.Add(await laptopEvents.NextOfAsync<OwnKeysChanged>());
        }

        Assert.Contains(new OwnKeysChanged(KeyChange.DeviceRegistered, laptop.DeviceId), laptopSaw);
        Assert.Contains(new OwnKeysChanged(KeyChange.DeviceList, null), laptopSaw);
    }

    [Fact]
    public async Task NextOwnKeysChange_ConnectionDisposed_Faults()
    {
        var alice = await Server.SignupAsync();
        var connection = await Sdk.ConnectAsync(alice);
        var waiting = connection.NextOwnKeysChangeAsync();

        await connection.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting.WaitAsync(Patience.Default));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => connection.NextOwnKeysChangeAsync());
    }

    [Fact]
    public async Task ApproveDevice_WrongCode_ThrowsLinkCodeMismatch()
    {
        var alice = await Server.SignupAsync();
        using var first = Device(alice, out _);
        await first.SetUpDeviceAsync(alice.UserId, alice.DeviceId);
        var laptop = await Server.LoginAsync(alice, "laptop");
        using var second = Device(laptop, out _);
        await second.SetUpDeviceAsync(laptop.UserId, laptop.DeviceId);

        var ex = await Assert.ThrowsAsync<SecureMessagingException>(() => first.ApproveDeviceAsync("AAAAA-AAAAA"));

        Assert.Equal(SecureFailure.LinkCodeMismatch, ex.Failure);
        Assert.Contains((await first.ListDevicesAsync()), device => device.DeviceId == laptop.DeviceId && device.State == "pending");
    }

    [Fact]
    public async Task RevokeDevice_LeavesTheListAndBumpsTheHistoryKey()
    {
        var alice = await Server.SignupAsync();
        using var first = Device(alice, out var api);
        await first.SetUpDeviceAsync(alice.UserId, alice.DeviceId);
        var laptop = await Server.LoginAsync(alice, "laptop");
        var phone = await Server.LoginAsync(alice, "phone");
        using var second = Device(laptop, out _);
        using var third = Device(phone, out _);
        await first.ApproveDeviceAsync((await second.SetUpDeviceAsync(laptop.UserId, laptop.DeviceId)).LinkCode);
        await first.ApproveDeviceAsync((await third.SetUpDeviceAsync(phone.UserId, phone.DeviceId)).LinkCode);
        await second.SyncOwnKeysAsync();

        await first.RevokeDeviceAsync(phone.DeviceId);
        var keys = await api.GetUserKeysAsync(alice.UserId);
        var secondStillApproved = await second.SyncOwnKeysAsync();

        Assert.DoesNotContain(keys.DeviceList!.Devices, entry => entry.DeviceId == phone.DeviceId);
        Assert.Equal(2, keys.DeviceList.Devices.Count);
        Assert.Equal(2u, keys.HistoryKey!.Generation);
        Assert.True(secondStillApproved);
        Assert.DoesNotContain(await first.ListDevicesAsync(), device => device.DeviceId == phone.DeviceId);
    }

    [Fact]
    public async Task TopUpPrekeys_StockBelowTheLowWaterMark_UploadsANewBatch()
    {
        var alice = await Server.SignupAsync();
        var bob = await Server.SignupAsync();
        var carol = await Server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        await carol.JoinAsync(await alice.InviteAsync(teamId));
        using var device = Device(alice, out var api);
        await device.SetUpDeviceAsync(alice.UserId, alice.DeviceId);
        using var bobApi = new ChatWireApiClient(Server.ApiBaseAddress) { SessionToken = bob.Token };
        using var carolApi = new ChatWireApiClient(Server.ApiBaseAddress) { SessionToken = carol.Token };

        // 81 of the first 100 claimed, by two team-mates (each may claim 60 a minute): 19 left.
        for (var i = 0; i < 81; i++)
        {
            await (i < 50 ? bobApi : carolApi).ClaimPrekeyAsync(alice.UserId, alice.DeviceId);
        }

        var beforeTopUp = (await api.GetMyDeviceKeysAsync()).OneTimePrekeysRemaining;
        var afterTopUp = await device.TopUpPrekeysAsync();
        var unchanged = await device.TopUpPrekeysAsync();

        Assert.Equal(19, beforeTopUp);
        Assert.Equal(119, afterTopUp);
        Assert.Equal(119, unchanged);
        Assert.Equal(119, (await api.GetMyDeviceKeysAsync()).OneTimePrekeysRemaining);
    }

    [Fact]
    public void DeviceFor_FormerDevice_OnlyForEpochsBeforeTheCurrentOne()
    {
        var listed = new VerifiedDevice(Guid.NewGuid(), [1], [2], null);
        var former = new VerifiedFormerDevice(Guid.NewGuid(), [3], [4], DateTimeOffset.UnixEpoch);
        var user = new VerifiedUser(Guid.NewGuid(), [0], null, 2, [listed], KeyChanged: false, [former]);

        Assert.Equal([3], user.DeviceFor(former.DeviceId, epoch: 4, currentEpoch: 5)!.Value.SigningKey);
        Assert.Null(user.DeviceFor(former.DeviceId, epoch: 5, currentEpoch: 5));
        Assert.Null(user.DeviceFor(former.DeviceId, epoch: 6, currentEpoch: 5));
        Assert.Equal([2], user.DeviceFor(listed.DeviceId, epoch: 5, currentEpoch: 5)!.Value.DhKey);
        Assert.Null(user.DeviceFor(Guid.NewGuid(), epoch: 1, currentEpoch: 5));
    }

    [Fact]
    public async Task SafetyNumber_BothSides_SeeTheSameNumber()
    {
        var alice = await Server.SignupAsync();
        var bob = await Server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        using var aliceDevice = Device(alice, out _);
        using var bobDevice = Device(bob, out _);
        await aliceDevice.SetUpDeviceAsync(alice.UserId, alice.DeviceId);
        await bobDevice.SetUpDeviceAsync(bob.UserId, bob.DeviceId);

        var seenByAlice = await aliceDevice.SafetyNumberAsync(bob.UserId);
        var seenByBob = await bobDevice.SafetyNumberAsync(alice.UserId);

        Assert.Equal(seenByAlice, seenByBob);
        Assert.Equal(60, seenByAlice.Count(char.IsAsciiDigit));
    }

    [Fact]
    public async Task MarkVerified_WithTheNumberBothSee_ThenAChangedKeyRefusesSending_UntilVerifiedAgainOrCleared()
    {
        var alice = await Server.SignupAsync();
        var bob = await Server.SignupAsync();
        var (teamId, general) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        // Opened per call, as the CLI does: every send starts a chain and seals its key to the members anew.
        using var aliceDevice = Device(alice, out _, new SecureClientOptions { HoldStore = false });
        using var bobDevice = Device(bob, out _);
        await aliceDevice.SetUpDeviceAsync(alice.UserId, alice.DeviceId);
        await bobDevice.SetUpDeviceAsync(bob.UserId, bob.DeviceId);
        await using var connection = await Sdk.ConnectAsync(alice);
        await using var bobConnection = await Sdk.ConnectAsync(bob);
        var number = await bobDevice.SafetyNumberAsync(alice.UserId);

        Assert.Equal(UserVerification.Unverified, await aliceDevice.VerificationAsync(bob.UserId));
        var wrong = await Assert.ThrowsAsync<SecureMessagingException>(() => aliceDevice.MarkVerifiedAsync(bob.UserId, (number[0] == '1' ? "2" : "1") + number[1..]));
        Assert.Equal(SecureFailure.SafetyNumberMismatch, wrong.Failure);
        Assert.Equal(UserVerification.Unverified, await aliceDevice.VerificationAsync(bob.UserId));
        await aliceDevice.MarkVerifiedAsync(bob.UserId, number.Replace(" ", string.Empty, StringComparison.Ordinal));
        Assert.Equal(UserVerification.Verified, await aliceDevice.VerificationAsync(bob.UserId));
        Assert.Empty((await aliceDevice.SendTextAsync(connection, general, "to bob, verified")).Warnings);
        await Assert.ThrowsAsync<ArgumentException>(() => aliceDevice.MarkVerifiedAsync(alice.UserId, number));

        // The key Alice verified is no longer the one the directory serves for Bob (an account reset, or a server
        // substituting keys): no chain's key is sealed to it, so sending stops, every time; the number to compare is
        // the one of the served key.
        PinAnotherAccountKey(alice, bob.UserId);
        Assert.Equal(UserVerification.KeyChangedSinceVerified, await aliceDevice.VerificationAsync(bob.UserId));
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var refused = await Assert.ThrowsAsync<SecureMessagingException>(() => aliceDevice.SendTextAsync(connection, general, "not to a changed key"));
            Assert.Equal(SecureFailure.KeyChanged, refused.Failure);
        }

        // A new chain of Bob's is not read either: its key is signed by the changed key, and the reason says so.
        var fromBob = (await bobDevice.SendTextAsync(bobConnection, general, "from bob's new key")).Sent.Seq;
        var sealedByBob = Sdk.Messages(await connection.GetHistoryAsync(general, 0, HistoryDirection.Before, 200)).Single(m => m.Seq == fromBob);
        var unread = await aliceDevice.DecryptAsync(sealedByBob);
        Assert.Null(unread.Plaintext);
        Assert.Contains("E2E_KEY_CHANGED", unread.FailureReason, StringComparison.Ordinal);

        var shownNow = await aliceDevice.SafetyNumberAsync(bob.UserId);
        Assert.Equal(number, shownNow);
        await aliceDevice.MarkVerifiedAsync(bob.UserId, shownNow);
        Assert.Equal(UserVerification.Verified, await aliceDevice.VerificationAsync(bob.UserId));
        Assert.Empty((await aliceDevice.SendTextAsync(connection, general, "verified again")).Warnings);
        Assert.Equal("from bob's new key", (await aliceDevice.DecryptAsync(sealedByBob)).Text);

        // Or the mark is cleared: the changed key is accepted at the next use, with a warning. Looking at the
        // number or the mark before that does not take the warning away.
        PinAnotherAccountKey(alice, bob.UserId);
        await aliceDevice.ClearVerificationAsync(bob.UserId);
        await aliceDevice.SafetyNumberAsync(bob.UserId);
        Assert.Equal(UserVerification.Unverified, await aliceDevice.VerificationAsync(bob.UserId));
        var accepted = await aliceDevice.SendTextAsync(connection, general, "accepted unverified");
        Assert.Contains(accepted.Warnings, warning => warning.Contains(bob.UserId.ToString(), StringComparison.Ordinal));
        Assert.Equal(UserVerification.Unverified, await aliceDevice.VerificationAsync(bob.UserId));

        // An unverified key change first seen while reading is a warning there too, once.
        PinAnotherAccountKey(alice, bob.UserId);
        var dm = await bob.OpenDmAsync(alice.Username);
        var inDm = (await bobDevice.SendTextAsync(bobConnection, dm, "a new chain, in our DM")).Sent.Seq;
        var dmMessage = Sdk.Messages(await connection.GetHistoryAsync(dm, 0, HistoryDirection.Before, 200)).Single(m => m.Seq == inDm);
        var read = await aliceDevice.DecryptAsync(dmMessage);
        Assert.Equal("a new chain, in our DM", read.Text);
        Assert.Contains(read.Warnings, warning => warning.Contains(bob.UserId.ToString(), StringComparison.Ordinal));
        Assert.Empty((await aliceDevice.SendTextAsync(connection, dm, "no second warning")).Warnings);
    }

    // What Alice's device pinned for the user becomes another account key, still marked as it was: as if the
    // directory had served that key when she verified.
    private void PinAnotherAccountKey(TestUser owner, Guid userId)
    {
        var path = Path.Combine(_keyDirectory, owner.DeviceId.ToString("N"), "trust.json");
        var trust = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
        var pin = trust["pins"]!.AsObject().Single(entry => Guid.Parse(entry.Key) == userId).Value!;
        pin["account_key"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        File.WriteAllText(path, trust.ToJsonString());
    }

    public void Dispose()
    {
        if (Directory.Exists(_keyDirectory))
        {
            Directory.Delete(_keyDirectory, recursive: true);
        }
    }

    private SecureClient Device(TestUser user, out ChatWireApiClient api, SecureClientOptions? options = null)
    {
        api = new ChatWireApiClient(Server.ApiBaseAddress) { SessionToken = user.Token };
        return new SecureClient(api, Path.Combine(_keyDirectory, user.DeviceId.ToString("N")), options: options);
    }
}
