using System.Net;
using System.Reflection;
using ChatWire.Storage.Directory;
using ChatWire.Testing;
using Microsoft.Extensions.DependencyInjection;
using static ChatWire.Gateway.Tests.HttpApiTests;

namespace ChatWire.Gateway.Tests;

// A team deleted between a request's checks and its write: the write finds no team (a foreign key with no parent)
// and the request gets its documented refusal, not 500. The store below deletes the team just before the chosen
// call, which is the moment a concurrent DELETE /v1/teams/{id} can land in.
public sealed class TeamDeletionRaceTests
{
    [Fact]
    public async Task JoinByInvite_TeamDeletedAfterTheInviteWasRead_InviteInvalid_NothingStored()
    {
        var (server, store) = await StartAsync(nameof(IDirectoryStore.FindInviteByCodeHashAsync));
        await using var _ = server;
        var (alice, teamId) = await TeamAsync(server);
        var code = (await alice.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/invites", new { })).GetProperty("invite_code").GetString();
        var bob = await server.SignupAsync();
        store.Arm(teamId);

        var join = await bob.SendAsync(HttpMethod.Post, $"v1/invites/{code}/join");

        await AssertProblemAsync(join, HttpStatusCode.Gone, 4005, "INVITE_INVALID");
        Assert.Equal(0, (await bob.CallAsync(HttpMethod.Get, "v1/teams")).GetProperty("teams").GetArrayLength());
    }

    [Fact]
    public async Task CreateInvite_TeamDeletedBeforeItIsStored_NotFound_NotAnInternalError()
    {
        var (server, store) = await StartAsync(nameof(IDirectoryStore.CreateInviteAsync));
        await using var _ = server;
        var (alice, teamId) = await TeamAsync(server);
        store.Arm(teamId);

        var invite = await alice.SendAsync(HttpMethod.Post, $"v1/teams/{teamId}/invites", new { });

        await AssertProblemAsync(invite, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
    }

    // The deletion lands just after the channel's row was stored, and takes it with the team.
    [Fact]
    public async Task CreateChannel_TeamDeletedJustAfterItIsStored_NotFound_NotCreated()
    {
        var (server, store) = await StartAsync(nameof(IDirectoryStore.CreateConversationAsync));
        await using var _ = server;
        var (alice, teamId) = await TeamAsync(server);
        store.Arm(teamId);

        var create = await alice.SendAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "late" });

        await AssertProblemAsync(create, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        Assert.Equal(0, (await alice.CallAsync(HttpMethod.Get, "v1/teams")).GetProperty("teams").GetArrayLength());
    }

    private static async Task<(TestServer Server, DeleteTeamFirst Store)> StartAsync(string method)
    {
        var proxy = DispatchProxy.Create<IDirectoryStore, DeleteTeamFirst>();
        var server = await TestServer.StartAsync(replaceServices: services =>
        {
            ((DeleteTeamFirst)(object)proxy).Set((IDirectoryStore)services.Last(d => d.ServiceType == typeof(IDirectoryStore)).ImplementationInstance!, method);
            services.AddSingleton(proxy);
        });
        return (server, (DeleteTeamFirst)(object)proxy);
    }

    private static async Task<(TestUser Owner, Guid TeamId)> TeamAsync(TestServer server)
    {
        var alice = await server.SignupAsync();
        var team = await alice.CallAsync(HttpMethod.Post, "v1/teams", new { name = "Doomed" });
        return (alice, team.GetProperty("team_id").GetGuid());
    }

    // Deletes the armed team once, just before the first call of the chosen method after arming (or, for the invite
    // lookup and the conversation's insert, just after it answered), then behaves as the real store.
    public class DeleteTeamFirst : DispatchProxy
    {
        private IDirectoryStore _inner = null!;
        private string _method = "";
        private object? _armed;

        public void Set(IDirectoryStore inner, string method) => (_inner, _method) = (inner, method);

        public void Arm(Guid teamId) => Volatile.Write(ref _armed, teamId);

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod!.Name != _method || Interlocked.Exchange(ref _armed, null) is not Guid teamId)
            {
                return targetMethod.Invoke(_inner, args);
            }

            return targetMethod.Name switch
            {
                nameof(IDirectoryStore.FindInviteByCodeHashAsync) => ThenDeleteAsync((Task<InviteRecord?>)targetMethod.Invoke(_inner, args)!, teamId),
                nameof(IDirectoryStore.CreateConversationAsync) => StoreThenDeleteAsync(targetMethod, args, teamId),
                _ => DeleteThenAsync(targetMethod, args, teamId),
            };
        }

        private async Task StoreThenDeleteAsync(MethodInfo method, object?[]? args, Guid teamId)
        {
            await (Task)method.Invoke(_inner, args)!;
            Assert.True(await _inner.DeleteTeamAsync(teamId));
        }

        private async Task<InviteRecord?> ThenDeleteAsync(Task<InviteRecord?> read, Guid teamId)
        {
            var invite = await read;
            Assert.True(await _inner.DeleteTeamAsync(teamId));
            return invite;
        }

        private async Task DeleteThenAsync(MethodInfo method, object?[]? args, Guid teamId)
        {
            Assert.True(await _inner.DeleteTeamAsync(teamId));
            await (Task)method.Invoke(_inner, args)!;
        }
    }
}
