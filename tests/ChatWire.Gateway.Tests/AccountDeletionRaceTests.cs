using System.Net;
using System.Reflection;
using ChatWire.Storage.Directory;
using ChatWire.Storage.Keys;
using ChatWire.Testing;
using Microsoft.Extensions.DependencyInjection;
using static ChatWire.Gateway.Tests.HttpApiTests;

namespace ChatWire.Gateway.Tests;

// An account deleted between a request's session check and its write: the deletion cleared the account's keys and
// recovery backup, and the write, arriving after, must not store them again. The store below makes the account a
// tombstone just before the chosen call, which is the moment an operator's DELETE /admin/v1/users/{user} can land in.
public sealed class AccountDeletionRaceTests
{
    [Fact]
    public async Task SetRecoveryBackup_AccountDeletedBeforeItIsStored_SessionRevoked_NothingStored()
    {
        var proxy = DispatchProxy.Create<IKeyDirectoryStore, DeleteAccountFirst>();
        var store = (DeleteAccountFirst)(object)proxy;
        await using var server = await TestServer.StartAsync(replaceServices: services =>
        {
            store.Set((IKeyDirectoryStore)services.Last(d => d.ServiceType == typeof(IKeyDirectoryStore)).ImplementationInstance!);
            services.AddSingleton(proxy);
        });
        var alice = await server.SignupAsync();
        store.Arm(alice.UserId);

        var put = await alice.SendAsync(HttpMethod.Put, "v1/keys/recovery-backup", new { backup = Convert.ToBase64String([1, 2, 3]) });

        await AssertProblemAsync(put, HttpStatusCode.Unauthorized, 2005, "SESSION_REVOKED");
        Assert.Null(await store.Inner.GetRecoveryBackupAsync(alice.UserId));
    }

    // Makes the armed account a tombstone once, just before the first recovery backup write after arming, then
    // behaves as the real store.
    public class DeleteAccountFirst : DispatchProxy
    {
        private object? _armed;

        public IKeyDirectoryStore Inner { get; private set; } = null!;

        public void Set(IKeyDirectoryStore inner) => Inner = inner;

        public void Arm(Guid userId) => Volatile.Write(ref _armed, userId);

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
            targetMethod!.Name == nameof(IKeyDirectoryStore.SetRecoveryBackupAsync) && Interlocked.Exchange(ref _armed, null) is Guid userId
                ? DeleteThenAsync(targetMethod, args, userId)
                : targetMethod.Invoke(Inner, args);

        private async Task DeleteThenAsync(MethodInfo method, object?[]? args, Guid userId)
        {
            Assert.True(await ((IAccountAdminStore)Inner).MarkUserDeletedAsync(userId, DateTimeOffset.UtcNow));
            await (Task)method.Invoke(Inner, args)!;
        }
    }
}
