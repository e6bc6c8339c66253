using ChatWire.Client.Secure;
using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// Recovery and revocation through the real in-process gateway: a user who lost her only device restores her keys on
// a new login with the recovery key from signup, reads the old history and is read by others again; what a device
// sent before it was revoked or lost stays readable on devices that come later.
public sealed class SecureRecoveryTests(ServerFixture fixture) : IClassFixture<ServerFixture>, IDisposable
{
    private readonly string _keyDirectory = Path.Combine(Path.GetTempPath(), "chatwire-recover-" + Guid.NewGuid().ToString("N"));
    private readonly List<IDisposable> _owned = [];

    private TestServer Server => fixture.Server;

    [Fact]
    public async Task Recover_AfterLosingTheOnlyDevice_ReadsOldHistoryAndIsReadByOthers()
    {
        var (alice, bob, general, recoveryKey) = await TwoUsersAsync();
        var fromAlice = await SendAsync(alice, general, "alice before losing her phone");
        var fromBob = await SendAsync(bob, general, "bob before alice lost her phone");

        // The old device and its store are gone; only the server still lists it (its session and keys).
        var newLogin = NewDevice(await Server.LoginAsync(alice.User, "new phone"));
        await newLogin.Secure.RecoverAsync(newLogin.User.UserId, newLogin.User.DeviceId, recoveryKey.ToLowerInvariant());
        var keys = await newLogin.Api.GetUserKeysAsync(alice.User.UserId);
        var old = await MessagesAsync(newLogin, general);
        var afterRecovery = await SendAsync(newLogin, general, "alice is back");
        var seenByBob = (await MessagesAsync(bob, general)).Single(e => e.EventId == afterRecovery);

        Assert.Equal(newLogin.User.DeviceId, Assert.Single(keys.DeviceList!.Devices).DeviceId);
        Assert.Equal(2u, keys.HistoryKey!.Generation);
        // The lost device is a former device now: its certificate still verifies, for epochs before the current one.
        Assert.Equal(alice.User.DeviceId, Assert.Single(keys.FormerDevices!).DeviceId);
        Assert.Equal("alice before losing her phone", (await newLogin.Secure.DecryptAsync(old.Single(e => e.EventId == fromAlice))).Text);
        Assert.Equal("bob before alice lost her phone", (await newLogin.Secure.DecryptAsync(old.Single(e => e.EventId == fromBob))).Text);
        Assert.Equal("alice is back", (await bob.Secure.DecryptAsync(seenByBob)).Text);
        Assert.DoesNotContain(await newLogin.Api.ListSessionsAsync(), session => session.DeviceId == alice.User.DeviceId);
    }

    [Fact]
    public async Task RevokeDevice_ThenLinkANewDevice_NewDeviceReadsWhatTheRevokedDeviceSent()
    {
        var (alice, bob, general, _) = await TwoUsersAsync();
        var phone = await LinkDeviceAsync(alice, "phone");
        var fromPhone = await SendAsync(phone, general, "sent from the phone before it was stolen");

        await alice.Secure.RevokeDeviceAsync(phone.User.DeviceId);
        var afterRevocation = await SendAsync(alice, general, "after the revocation");
        var tablet = await LinkDeviceAsync(alice, "tablet");
        var history = await MessagesAsync(tablet, general);

        Assert.Equal("sent from the phone before it was stolen", (await tablet.Secure.DecryptAsync(history.Single(e => e.EventId == fromPhone))).Text);
        Assert.Equal("after the revocation", (await tablet.Secure.DecryptAsync(history.Single(e => e.EventId == afterRevocation))).Text);
        Assert.Equal("sent from the phone before it was stolen", (await bob.Secure.DecryptAsync(history.Single(e => e.EventId == fromPhone))).Text);
        var keys = await tablet.Api.GetUserKeysAsync(alice.User.UserId);
        Assert.Equal(phone.User.DeviceId, Assert.Single(keys.FormerDevices!).DeviceId);
        Assert.DoesNotContain(keys.DeviceList!.Devices, entry => entry.DeviceId == phone.User.DeviceId);
    }

    [Fact]
    public async Task Recover_AfterARevocation_BackupWasRefreshedWithTheNewHistoryKey()
    {
        var (alice, bob, general, recoveryKey) = await TwoUsersAsync();
        var phone = await LinkDeviceAsync(alice, "phone");
        await alice.Secure.RevokeDeviceAsync(phone.User.DeviceId);

        // Sealed to alice's history key generation 2, which only the backup refreshed at the revocation holds.
        var fromBob = await SendAsync(bob, general, "bob, sealed to generation 2");
        var newLogin = NewDevice(await Server.LoginAsync(alice.User, "new phone"));
        await newLogin.Secure.RecoverAsync(newLogin.User.UserId, newLogin.User.DeviceId, recoveryKey);
        var keys = await newLogin.Api.GetUserKeysAsync(alice.User.UserId);
        var history = await MessagesAsync(newLogin, general);

        Assert.Equal("bob, sealed to generation 2", (await newLogin.Secure.DecryptAsync(history.Single(e => e.EventId == fromBob))).Text);
        Assert.Equal(3u, keys.HistoryKey!.Generation);
    }

    [Fact]
    public async Task Recover_BackupMissingTheNewestGeneration_CompletesAboveIt()
    {
        var (alice, bob, general, recoveryKey) = await TwoUsersAsync();
        var stale = (await alice.Api.GetRecoveryBackupAsync())!;
        var phone = await LinkDeviceAsync(alice, "phone");
        await alice.Secure.RevokeDeviceAsync(phone.User.DeviceId);
        var fromBob = await SendAsync(bob, general, "bob, sealed to generation 2");

        // As if the refresh after the revocation never reached the server: the backup holds generation 1 only.
        await alice.Api.PutRecoveryBackupAsync(stale);
        var newLogin = NewDevice(await Server.LoginAsync(alice.User, "new phone"));
        await newLogin.Secure.RecoverAsync(newLogin.User.UserId, newLogin.User.DeviceId, recoveryKey);
        var keys = await newLogin.Api.GetUserKeysAsync(alice.User.UserId);
        var afterRecovery = await SendAsync(bob, general, "bob, after the recovery");
        var history = await MessagesAsync(newLogin, general);

        Assert.Equal(3u, keys.HistoryKey!.Generation);
        Assert.Null((await newLogin.Secure.DecryptAsync(history.Single(e => e.EventId == fromBob))).Text);
        Assert.Equal("bob, after the recovery", (await newLogin.Secure.DecryptAsync(history.Single(e => e.EventId == afterRecovery))).Text);
    }

    [Fact]
    public async Task Recover_WrongRecoveryKey_ThrowsAndChangesNothing()
    {
        var (alice, _, _, recoveryKey) = await TwoUsersAsync();
        var newLogin = NewDevice(await Server.LoginAsync(alice.User, "new phone"));
        var before = await newLogin.Api.GetUserKeysAsync(alice.User.UserId);
        var wrong = RecoveryKeyOtherThan(recoveryKey);

        var ex = await Assert.ThrowsAsync<SecureMessagingException>(() => newLogin.Secure.RecoverAsync(newLogin.User.UserId, newLogin.User.DeviceId, wrong));
        var malformed = await Assert.ThrowsAsync<SecureMessagingException>(() => newLogin.Secure.RecoverAsync(newLogin.User.UserId, newLogin.User.DeviceId, "not a key"));
        var after = await newLogin.Api.GetUserKeysAsync(alice.User.UserId);

        Assert.Equal(SecureFailure.RecoveryKeyMismatch, ex.Failure);
        Assert.Equal(SecureFailure.RecoveryKeyMismatch, malformed.Failure);
        Assert.Equal(before.DeviceList!.Version, after.DeviceList!.Version);
        Assert.Equal(alice.User.DeviceId, Assert.Single(after.DeviceList.Devices).DeviceId);
        Assert.Equal(1u, after.HistoryKey!.Generation);
        Assert.Contains(await newLogin.Api.ListSessionsAsync(), session => session.DeviceId == alice.User.DeviceId);
        Assert.False(await newLogin.Secure.SyncOwnKeysAsync());
    }

    public void Dispose()
    {
        foreach (var owned in _owned)
        {
            owned.Dispose();
        }

        if (Directory.Exists(_keyDirectory))
        {
            Directory.Delete(_keyDirectory, recursive: true);
        }
    }

    // The same key with its first character changed: well-formed, but not the one that seals the backup.
    private static string RecoveryKeyOtherThan(string recoveryKey) =>
        (recoveryKey[0] == 'A' ? "B" : "A") + recoveryKey[1..];

    private async Task<(Device Alice, Device Bob, Guid General, string RecoveryKey)> TwoUsersAsync()
    {
        var alice = NewDevice(await Server.SignupAsync());
        var bob = NewDevice(await Server.SignupAsync());
        var setUp = await alice.Secure.SetUpDeviceAsync(alice.User.UserId, alice.User.DeviceId);
        await bob.Secure.SetUpDeviceAsync(bob.User.UserId, bob.User.DeviceId);
        var (teamId, general) = await alice.User.CreateTeamAsync();
        await bob.User.JoinAsync(await alice.User.InviteAsync(teamId));
        return (alice, bob, general, setUp.RecoveryKey!);
    }

    // A second device of the user, approved by the first.
    private async Task<Device> LinkDeviceAsync(Device trusted, string name)
    {
        var device = NewDevice(await Server.LoginAsync(trusted.User, name));
        await trusted.Secure.ApproveDeviceAsync((await device.Secure.SetUpDeviceAsync(device.User.UserId, device.User.DeviceId)).LinkCode);
        Assert.True(await device.Secure.SyncOwnKeysAsync());
        return device;
    }

    private static async Task<Guid> SendAsync(Device device, Guid conversationId, string text)
    {
        await using var connection = await Sdk.ConnectAsync(device.User);
        return (await device.Secure.SendTextAsync(connection, conversationId, text)).Sent.MessageId;
    }

    private static async Task<IReadOnlyList<ConversationEvent>> MessagesAsync(Device device, Guid conversationId)
    {
        await using var connection = await Sdk.ConnectAsync(device.User);
        return Sdk.Messages(await connection.GetHistoryAsync(conversationId, 0, HistoryDirection.Before, 200));
    }

    private Device NewDevice(TestUser user)
    {
        var api = new ChatWireApiClient(Server.ApiBaseAddress) { SessionToken = user.Token };
        var secure = new SecureClient(api, Path.Combine(_keyDirectory, user.DeviceId.ToString("N")));
        _owned.Add(secure);
        _owned.Add(api);
        return new Device(user, api, secure);
    }

    private sealed record Device(TestUser User, ChatWireApiClient Api, SecureClient Secure);
}
