using System.Security.Cryptography;
using System.Text;
using ChatWire.Storage.Directory;

namespace ChatWire.Storage.Tests.Contracts;

/// <summary>
/// Every IDirectoryStore adapter's behaviour, written once. An adapter's test class derives from this and
/// supplies a fresh, empty store; nothing here may depend on one adapter.
/// </summary>
public abstract partial class DirectoryStoreContract : IAsyncLifetime
{
    // Millisecond precision: the resolution every adapter keeps.
    protected static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_795_000_000_123);

    private IDirectoryStore? _store;

    protected IDirectoryStore Store => _store ?? throw new InvalidOperationException("The store is not created yet.");

    /// <summary>A new, empty store for one test.</summary>
    protected abstract Task<IDirectoryStore> CreateStoreAsync();

    /// <summary>Releases what <see cref="CreateStoreAsync"/> created.</summary>
    protected abstract Task DisposeStoreAsync(IDirectoryStore store);

    public async Task InitializeAsync() => _store = await CreateStoreAsync();

    public async Task DisposeAsync()
    {
        if (_store is not null)
        {
            await DisposeStoreAsync(_store);
        }
    }

    // Users

    [Fact]
    public async Task CreateUserAsync_NewUser_ReadableByIdAndName()
    {
        var user = await AddUserAsync("alice", "Alice Liddell");

        Assert.Equal(user, await Store.GetUserAsync(user.Id));
        Assert.Equal(user, await Store.FindUserByNameAsync("alice"));
    }

    [Fact]
    public async Task FindUserByNameAsync_OtherCase_FindsUser()
    {
        var user = await AddUserAsync("Alice");

        Assert.Equal(user, await Store.FindUserByNameAsync("aLICE"));
    }

    [Fact]
    public async Task FindUserByNameAsync_Unknown_ReturnsNull()
    {
        await AddUserAsync("alice");

        Assert.Null(await Store.FindUserByNameAsync("bob"));
        Assert.Null(await Store.GetUserAsync(Guid.NewGuid()));
    }

    [Fact]
    public async Task CreateUserAsync_UsernameTakenInOtherCase_ThrowsDuplicateKey()
    {
        await AddUserAsync("alice");

        await Assert.ThrowsAsync<DuplicateKeyException>(() => AddUserAsync("ALICE"));
    }

    [Fact]
    public async Task UpdatePasswordHashAsync_ExistingUser_ReplacesHash()
    {
        var user = await AddUserAsync("alice");

        await Store.UpdatePasswordHashAsync(user.Id, "$argon2id$new");

        Assert.Equal(user with { PasswordHash = "$argon2id$new" }, await Store.GetUserAsync(user.Id));
    }

    // Device sessions

    [Fact]
    public async Task CreateDeviceSessionAsync_NewSession_FoundByTokenHashAndDeviceId()
    {
        var user = await AddUserAsync("alice");
        var session = await AddSessionAsync(user, "laptop");

        AssertSession(session, await Store.FindSessionByTokenHashAsync(Hash("token-laptop")));
        AssertSession(session, await Store.GetDeviceSessionAsync(session.DeviceId));
    }

    [Fact]
    public async Task FindSessionByTokenHashAsync_UnknownHash_ReturnsNull()
    {
        var user = await AddUserAsync("alice");
        await AddSessionAsync(user, "laptop");

        Assert.Null(await Store.FindSessionByTokenHashAsync(Hash("token-other")));
        Assert.Null(await Store.GetDeviceSessionAsync(Guid.NewGuid()));
    }

    [Fact]
    public async Task CreateDeviceSessionAsync_TokenHashTaken_ThrowsDuplicateKey()
    {
        var user = await AddUserAsync("alice");
        var first = await AddSessionAsync(user, "laptop");

        await Assert.ThrowsAsync<DuplicateKeyException>(() => Store.CreateDeviceSessionAsync(
            first with { DeviceId = Guid.NewGuid(), DeviceName = "phone" }));
    }

    [Fact]
    public async Task TouchDeviceSessionAsync_LaterTime_UpdatesLastUsedAt()
    {
        var user = await AddUserAsync("alice");
        var session = await AddSessionAsync(user, "laptop");

        await Store.TouchDeviceSessionAsync(session.DeviceId, T0.AddMinutes(5));

        var touched = await Store.GetDeviceSessionAsync(session.DeviceId);
        Assert.NotNull(touched);
        Assert.Equal(T0.AddMinutes(5), touched.LastUsedAt);
        Assert.Equal(session.CreatedAt, touched.CreatedAt);
    }

    [Fact]
    public async Task ListDeviceSessionsAsync_OneRevoked_ReturnsLiveSessionsOldestFirst()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var phone = await AddSessionAsync(alice, "phone", createdAt: T0.AddMinutes(2));
        var laptop = await AddSessionAsync(alice, "laptop", createdAt: T0.AddMinutes(1));
        var tablet = await AddSessionAsync(alice, "tablet", createdAt: T0.AddMinutes(3));
        await AddSessionAsync(bob, "bob-phone");
        Assert.True(await Store.RevokeDeviceSessionAsync(alice.Id, tablet.DeviceId, T0.AddMinutes(4)));

        var sessions = await Store.ListDeviceSessionsAsync(alice.Id);

        Assert.Equal([laptop.DeviceId, phone.DeviceId], sessions.Select(s => s.DeviceId));
        Assert.All(sessions, s => Assert.Null(s.RevokedAt));
    }

    [Fact]
    public async Task RevokeDeviceSessionAsync_OwnLiveSession_RevokesOnceAndStaysFindable()
    {
        var user = await AddUserAsync("alice");
        var session = await AddSessionAsync(user, "laptop");

        Assert.True(await Store.RevokeDeviceSessionAsync(user.Id, session.DeviceId, T0.AddHours(1)));
        Assert.False(await Store.RevokeDeviceSessionAsync(user.Id, session.DeviceId, T0.AddHours(2)));

        // The caller sees a revoked token as revoked rather than unknown.
        var found = await Store.FindSessionByTokenHashAsync(Hash("token-laptop"));
        Assert.NotNull(found);
        Assert.Equal(T0.AddHours(1), found.RevokedAt);
    }

    [Fact]
    public async Task RevokeDeviceSessionAsync_OtherUsersDevice_ReturnsFalseAndLeavesItLive()
    {
        var alice = await AddUserAsync("alice");
        var mallory = await AddUserAsync("mallory");
        var session = await AddSessionAsync(alice, "laptop");

        Assert.False(await Store.RevokeDeviceSessionAsync(mallory.Id, session.DeviceId, T0.AddHours(1)));

        var found = await Store.GetDeviceSessionAsync(session.DeviceId);
        Assert.NotNull(found);
        Assert.Null(found.RevokedAt);
    }

    [Fact]
    public async Task RevokeAllDeviceSessionsAsync_ExceptOne_RevokesTheOtherLiveSessionsAndReturnsThem()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var current = await AddSessionAsync(alice, "current");
        var phone = await AddSessionAsync(alice, "phone");
        var tablet = await AddSessionAsync(alice, "tablet");
        var old = await AddSessionAsync(alice, "old");
        var bobs = await AddSessionAsync(bob, "bob-phone");
        Assert.True(await Store.RevokeDeviceSessionAsync(alice.Id, old.DeviceId, T0.AddHours(1)));

        var revoked = await Store.RevokeAllDeviceSessionsAsync(alice.Id, current.DeviceId, T0.AddHours(2));

        Assert.Equal(
            new[] { phone.DeviceId, tablet.DeviceId }.Order(),
            revoked.Order());
        Assert.Equal([current.DeviceId], (await Store.ListDeviceSessionsAsync(alice.Id)).Select(s => s.DeviceId));
        Assert.Equal([bobs.DeviceId], (await Store.ListDeviceSessionsAsync(bob.Id)).Select(s => s.DeviceId));
        Assert.Equal(T0.AddHours(1), (await Store.GetDeviceSessionAsync(old.DeviceId))!.RevokedAt);
    }

    [Fact]
    public async Task RevokeAllDeviceSessionsAsync_NoException_RevokesEverySession()
    {
        var alice = await AddUserAsync("alice");
        var laptop = await AddSessionAsync(alice, "laptop");
        var phone = await AddSessionAsync(alice, "phone");

        var revoked = await Store.RevokeAllDeviceSessionsAsync(alice.Id, null, T0.AddHours(1));

        Assert.Equal(new[] { laptop.DeviceId, phone.DeviceId }.Order(), revoked.Order());
        Assert.Empty(await Store.ListDeviceSessionsAsync(alice.Id));
    }

    protected async Task<UserRecord> AddUserAsync(string username, string? displayName = null)
    {
        var user = new UserRecord(Guid.NewGuid(), username, displayName ?? username, "$argon2id$" + username, T0);
        await Store.CreateUserAsync(user);
        return user;
    }

    protected async Task<DeviceSessionRecord> AddSessionAsync(UserRecord user, string deviceName, DateTimeOffset? createdAt = null)
    {
        var time = createdAt ?? T0;
        var session = new DeviceSessionRecord(Guid.NewGuid(), user.Id, deviceName, Hash("token-" + deviceName), time, time, null);
        await Store.CreateDeviceSessionAsync(session);
        return session;
    }

    protected static byte[] Hash(string text) => SHA256.HashData(Encoding.UTF8.GetBytes(text));

    // Records holding byte[] compare the arrays by reference, so sessions and invites compare field by field.
    private static void AssertSession(DeviceSessionRecord expected, DeviceSessionRecord? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.TokenHash, actual.TokenHash);
        Assert.Equal(expected with { TokenHash = Array.Empty<byte>() }, actual with { TokenHash = Array.Empty<byte>() });
    }
}
