using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using ChatWire.Storage.Directory;
using ChatWire.Testing;
using Microsoft.Extensions.DependencyInjection;
using static ChatWire.Gateway.Tests.HttpApiTests;

namespace ChatWire.Gateway.Tests;

// The operator's management API (/admin/v1 on the management listener, Admin:Token): accounts and teams.
public sealed class AdminApiTests
{
    private const string Token = "admin-token-for-tests-0123456789abcdef";

    private static readonly Dictionary<string, string?> WithToken = new() { ["Admin:Token"] = Token };

    [Fact]
    public async Task AdminApi_WithoutToken_Off_WrongToken_Refused_OnApiListener_NotFound()
    {
        await using var off = await TestServer.StartAsync();
        await using var on = await TestServer.StartAsync(WithToken);

        var whenOff = await off.Management.SendAsync(Request(HttpMethod.Get, "admin/v1/users", Token));
        var missing = await on.Management.SendAsync(Request(HttpMethod.Get, "admin/v1/users", token: null));
        var wrong = await on.Management.SendAsync(Request(HttpMethod.Get, "admin/v1/users", Token + "x"));
        var onApiListener = await on.Http.SendAsync(Request(HttpMethod.Get, "admin/v1/users", Token));

        await AssertProblemAsync(whenOff, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        await AssertProblemAsync(missing, HttpStatusCode.Unauthorized, 2001, "NOT_AUTHENTICATED");
        await AssertProblemAsync(wrong, HttpStatusCode.Unauthorized, 2003, "INVALID_TOKEN");
        await AssertProblemAsync(onApiListener, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
    }

    [Fact]
    public async Task DisableThenEnable_LoginRefusedAndSessionsEnded_ThenLoginWorks()
    {
        await using var server = await TestServer.StartAsync(WithToken);
        var alice = await server.SignupAsync();

        var disabled = await AdminAsync(server, HttpMethod.Post, $"admin/v1/users/{alice.Username}/disable");
        var oldSession = await alice.SendAsync(HttpMethod.Get, "v1/me");
        var login = await server.Http.PostAsJsonAsync("v1/accounts/login", new { username = alice.Username, password = alice.Password });
        var wrongPassword = await server.Http.PostAsJsonAsync("v1/accounts/login", new { username = alice.Username, password = "not the password at all" });
        await AdminAsync(server, HttpMethod.Post, $"admin/v1/users/{alice.UserId}/enable");
        var again = await server.LoginAsync(alice);

        Assert.True(disabled.GetProperty("disabled").GetBoolean());
        Assert.Equal(0, disabled.GetProperty("active_sessions").GetInt32());

        // Times as everywhere in the API: UTC with exactly three fraction digits.
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", disabled.GetProperty("created_at").GetString());
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", disabled.GetProperty("disabled_at").GetString());
        await AssertProblemAsync(oldSession, HttpStatusCode.Unauthorized, 2005, "SESSION_REVOKED");
        await AssertProblemAsync(login, HttpStatusCode.Forbidden, 2009, "ACCOUNT_DISABLED");
        await AssertProblemAsync(wrongPassword, HttpStatusCode.Unauthorized, 2006, "INVALID_CREDENTIALS");
        Assert.Equal(HttpStatusCode.OK, (await again.SendAsync(HttpMethod.Get, "v1/me")).StatusCode);
    }

    [Fact]
    public async Task ResetPassword_OldOneFails_NewOneWorks_WeakOneRefused_SessionsEnded()
    {
        await using var server = await TestServer.StartAsync(WithToken);
        var alice = await server.SignupAsync();
        const string NewPassword = "a fresh long passphrase";

        var weak = await server.Management.SendAsync(Request(HttpMethod.Post, $"admin/v1/users/{alice.UserId}/password", Token, new { password = "short" }));
        var reset = await AdminAsync(server, HttpMethod.Post, $"admin/v1/users/{alice.UserId}/password", new { password = NewPassword });
        var oldPassword = await server.Http.PostAsJsonAsync("v1/accounts/login", new { username = alice.Username, password = alice.Password });
        var newLogin = await server.LoginAsync(alice with { Password = NewPassword });

        await AssertProblemAsync(weak, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        Assert.Equal(1, reset.GetProperty("revoked").GetInt32());
        await AssertProblemAsync(oldPassword, HttpStatusCode.Unauthorized, 2006, "INVALID_CREDENTIALS");
        Assert.Equal(HttpStatusCode.OK, (await newLogin.SendAsync(HttpMethod.Get, "v1/me")).StatusCode);
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Get, "v1/me"), HttpStatusCode.Unauthorized, 2005, "SESSION_REVOKED");
    }

    [Fact]
    public async Task DeleteUser_LastOwnerRefused_ThenTombstone_NameFree_ShownAsDeleted()
    {
        await using var server = await TestServer.StartAsync(WithToken);
        var alice = await server.SignupAsync(displayName: "Alice Liddell");
        var bob = await server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        var (soloTeam, _) = await alice.CreateTeamAsync("Alone");

        var refused = await server.Management.SendAsync(Request(HttpMethod.Delete, $"admin/v1/users/{alice.UserId}", Token));
        await alice.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/transfer", new { user_id = bob.UserId });
        var deleted = await AdminAsync(server, HttpMethod.Delete, $"admin/v1/users/{alice.UserId}");
        var seenByBob = await bob.CallAsync(HttpMethod.Get, $"v1/users?ids={alice.UserId}");
        var members = await bob.CallAsync(HttpMethod.Get, $"v1/teams/{teamId}/members");
        var sameName = await server.SignupAsync(alice.Username);
        var state = await AdminAsync(server, HttpMethod.Get, $"admin/v1/users/{alice.UserId}");
        var teams = await AdminAsync(server, HttpMethod.Get, "admin/v1/teams");
        var revokeDeleted = await server.Management.SendAsync(Request(HttpMethod.Post, $"admin/v1/users/{alice.UserId}/revoke-sessions", Token));

        await AssertProblemAsync(refused, HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        Assert.Equal(HttpStatusCode.OK, revokeDeleted.StatusCode);
        Assert.Equal(0, (await revokeDeleted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("revoked").GetInt32());
        Assert.Equal((1, 1), (deleted.GetProperty("teams_left").GetInt32(), deleted.GetProperty("teams_deleted").GetInt32()));
        var shown = Assert.Single(seenByBob.GetProperty("users").EnumerateArray());
        Assert.True(shown.GetProperty("deleted").GetBoolean());
        Assert.Equal("Deleted account", shown.GetProperty("display_name").GetString());
        Assert.Equal("deleted-" + alice.UserId.ToString("N"), shown.GetProperty("username").GetString());
        Assert.DoesNotContain(members.GetProperty("members").EnumerateArray(), m => m.GetProperty("user_id").GetGuid() == alice.UserId);
        Assert.NotEqual(alice.UserId, sameName.UserId);
        Assert.True(state.GetProperty("deleted").GetBoolean());
        Assert.DoesNotContain(teams.GetProperty("teams").EnumerateArray(), t => t.GetProperty("team_id").GetGuid() == soloTeam);
        Assert.Contains(teams.GetProperty("teams").EnumerateArray(), t => t.GetProperty("team_id").GetGuid() == teamId && t.GetProperty("members").GetInt32() == 1);
    }

    [Fact]
    public async Task ListUsers_PagesByUsername_AndRevokeSessions_CountsThem()
    {
        await using var server = await TestServer.StartAsync(WithToken);
        var users = new List<TestUser>();
        for (var i = 0; i < 3; i++)
        {
            users.Add(await server.SignupAsync("pager" + i));
        }

        await server.LoginAsync(users[0]);

        var first = await AdminAsync(server, HttpMethod.Get, "admin/v1/users?limit=2");
        var second = await AdminAsync(server, HttpMethod.Get, $"admin/v1/users?limit=2&after={first.GetProperty("next_after").GetString()}");
        var revoked = await AdminAsync(server, HttpMethod.Post, $"admin/v1/users/{users[0].Username}/revoke-sessions");
        var unknown = await server.Management.SendAsync(Request(HttpMethod.Post, "admin/v1/users/nobody-here/revoke-sessions", Token));

        Assert.Equal(["pager0", "pager1"], first.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("username").GetString()));
        Assert.Equal(["pager2"], second.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("username").GetString()));
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next_after").ValueKind);
        Assert.Equal(2, revoked.GetProperty("revoked").GetInt32());
        await AssertProblemAsync(unknown, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
    }

    // Identical deletes at the same moment: each may pass the "not deleted yet" check before any finishes, so only
    // the one whose tombstone or team deletion lands answers 200. An id in another form than the canonical one
    // (no dashes, braces) is looked up as a username: 404.
    [Fact]
    public async Task IdenticalDeletesAtOnce_OneSucceeds_OthersNotFound_AndOnlyCanonicalIds()
    {
        await using var server = await TestServer.StartAsync(WithToken);
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var (teamId, _) = await bob.CreateTeamAsync();

        var noDashes = await server.Management.SendAsync(Request(HttpMethod.Get, $"admin/v1/users/{alice.UserId:N}", Token));
        var braces = await server.Management.SendAsync(Request(HttpMethod.Get, $"admin/v1/users/{alice.UserId:B}", Token));
        var userDeletes = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => server.Management.SendAsync(Request(HttpMethod.Delete, $"admin/v1/users/{alice.UserId}", Token))));
        var teamDeletes = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => server.Management.SendAsync(Request(HttpMethod.Delete, $"admin/v1/teams/{teamId}", Token))));

        await AssertProblemAsync(noDashes, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        await AssertProblemAsync(braces, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        foreach (var deletes in new[] { userDeletes, teamDeletes })
        {
            Assert.Single(deletes, r => r.StatusCode == HttpStatusCode.OK);
            foreach (var refused in deletes.Where(r => r.StatusCode != HttpStatusCode.OK))
            {
                await AssertProblemAsync(refused, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
            }
        }
    }

    // Without the token nothing under /admin is answered but 401: not an unknown path's 404, a wrong method's 405
    // or a body's 413, which would tell which routes exist.
    [Fact]
    public async Task AdminApi_WithoutToken_401_BeforeRoutingOrBody()
    {
        await using var server = await TestServer.StartAsync(WithToken);

        var unknown = await server.Management.SendAsync(Request(HttpMethod.Get, "admin/v1/nonexistent", token: null));
        var wrongMethod = await server.Management.SendAsync(Request(HttpMethod.Put, "admin/v1/backup", token: null));
        var large = await server.Management.SendAsync(Request(HttpMethod.Post, "admin/v1/backup", token: null, new { directory = new string('x', 200_000) }));

        await AssertProblemAsync(unknown, HttpStatusCode.Unauthorized, 2001, "NOT_AUTHENTICATED");
        await AssertProblemAsync(wrongMethod, HttpStatusCode.Unauthorized, 2001, "NOT_AUTHENTICATED");
        await AssertProblemAsync(large, HttpStatusCode.Unauthorized, 2001, "NOT_AUTHENTICATED");
    }

    [Theory]
    [InlineData("/tmp/chatwire-backup-\u0000x")]
    [InlineData("/tmp/chatwire-backup-\rforged")]
    public async Task Backup_DirectoryWithAControlCharacter_ValidationFailed(string directory)
    {
        await using var server = await TestServer.StartAsync(WithToken);

        var response = await server.Management.SendAsync(Request(HttpMethod.Post, "admin/v1/backup", Token, new { directory }));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }

    // An operator's disable that lands after login checked the account but before its session exists: the
    // disable ends the sessions there are, not that one, so login reads the account again once its session is
    // stored and ends it itself. The store below runs the disable right after login's first read.
    [Fact]
    public async Task Login_RacingADisable_NoSessionSurvives()
    {
        DisableAfterFirstRead? proxy = null;
        await using var server = await TestServer.StartAsync(WithToken, replaceServices: services =>
        {
            var real = (IAccountAdminStore)services.Last(d => d.ServiceType == typeof(IAccountAdminStore)).ImplementationInstance!;
            proxy = (DisableAfterFirstRead)(object)System.Reflection.DispatchProxy.Create<IAccountAdminStore, DisableAfterFirstRead>();
            proxy.Inner = real;
            services.AddSingleton((IAccountAdminStore)(object)proxy);
        });
        var alice = await server.SignupAsync();
        proxy!.Arm();

        var login = await server.Http.PostAsJsonAsync("v1/accounts/login", new { username = alice.Username, password = alice.Password });
        var account = await AdminAsync(server, HttpMethod.Get, $"admin/v1/users/{alice.UserId}");

        Assert.False(proxy.Armed);
        await AssertProblemAsync(login, HttpStatusCode.Forbidden, 2009, "ACCOUNT_DISABLED");
        Assert.True(account.GetProperty("disabled").GetBoolean());
        Assert.Equal(0, account.GetProperty("active_sessions").GetInt32());
    }

    // A deletion ends the sessions, takes the account out of its teams, then makes it a tombstone. A login whose session
    // is stored after the first and whose last read of the account comes before the tombstone passes every check of
    // its own; the store below stores such a session just before the tombstone. It must not survive the deletion.
    [Fact]
    public async Task DeleteUser_ALoginBetweenTheRevocationAndTheTombstone_NoSessionSurvives()
    {
        SessionBeforeTombstone? proxy = null;
        await using var server = await TestServer.StartAsync(WithToken, replaceServices: services =>
        {
            var real = (IAccountAdminStore)services.Last(d => d.ServiceType == typeof(IAccountAdminStore)).ImplementationInstance!;
            proxy = (SessionBeforeTombstone)(object)System.Reflection.DispatchProxy.Create<IAccountAdminStore, SessionBeforeTombstone>();
            proxy.Inner = real;
            services.AddSingleton((IAccountAdminStore)(object)proxy);
        });
        var alice = await server.SignupAsync();

        await AdminAsync(server, HttpMethod.Delete, $"admin/v1/users/{alice.UserId}");
        using var me = new HttpRequestMessage(HttpMethod.Get, "v1/me");
        me.Headers.Authorization = new AuthenticationHeaderValue("Bearer", proxy!.Token);
        var answer = await server.Http.SendAsync(me);
        var revoked = await AdminAsync(server, HttpMethod.Post, $"admin/v1/users/{alice.UserId}/revoke-sessions");

        Assert.NotNull(proxy.Token);
        Assert.Equal(HttpStatusCode.Unauthorized, answer.StatusCode);
        Assert.Equal(0, revoked.GetProperty("revoked").GetInt32());
    }

    public class SessionBeforeTombstone : System.Reflection.DispatchProxy
    {
        public IAccountAdminStore Inner { get; set; } = null!;

        /// <summary>The session token stored just before the tombstone.</summary>
        public string? Token { get; private set; }

        protected override object? Invoke(System.Reflection.MethodInfo? targetMethod, object?[]? args) =>
            targetMethod!.Name == nameof(IAccountAdminStore.MarkUserDeletedAsync)
                ? StoreSessionThenMarkAsync((Guid)args![0]!, (DateTimeOffset)args[1]!)
                : targetMethod.Invoke(Inner, args);

        private async Task<bool> StoreSessionThenMarkAsync(Guid userId, DateTimeOffset at)
        {
            Token = ChatWire.Gateway.Accounts.SessionTokens.NewToken();
            var hash = ChatWire.Gateway.Accounts.SessionTokens.Hash(Token, ChatWire.Gateway.Accounts.SessionTokens.TokenBytes)!;
            await ((IDirectoryStore)Inner).CreateDeviceSessionAsync(new DeviceSessionRecord(Guid.CreateVersion7(), userId, "late login", hash, at, at, null));
            return await Inner.MarkUserDeletedAsync(userId, at);
        }
    }

    public class DisableAfterFirstRead : System.Reflection.DispatchProxy
    {
        public IAccountAdminStore Inner { get; set; } = null!;

        private int _armed;

        public bool Armed => Volatile.Read(ref _armed) == 1;

        public void Arm() => Volatile.Write(ref _armed, 1);

        protected override object? Invoke(System.Reflection.MethodInfo? targetMethod, object?[]? args)
        {
            var result = targetMethod!.Invoke(Inner, args);
            return targetMethod.Name == nameof(IAccountAdminStore.GetUserAdminAsync) && Interlocked.Exchange(ref _armed, 0) == 1
                ? ThenDisableAsync((Task<UserAdminRecord?>)result!, (Guid)args![0]!)
                : result;
        }

        private async Task<UserAdminRecord?> ThenDisableAsync(Task<UserAdminRecord?> read, Guid userId)
        {
            var record = await read;
            await Inner.SetUserDisabledAsync(userId, DateTimeOffset.UtcNow);
            await ((IDirectoryStore)Inner).RevokeAllDeviceSessionsAsync(userId, null, DateTimeOffset.UtcNow);
            return record;
        }
    }

    private static async Task<JsonElement> AdminAsync(TestServer server, HttpMethod method, string path, object? body = null)
    {
        var response = await server.Management.SendAsync(Request(method, path, Token, body));
        Assert.True(response.IsSuccessStatusCode, $"{method} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static HttpRequestMessage Request(HttpMethod method, string path, string? token, object? body = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        return request;
    }
}
