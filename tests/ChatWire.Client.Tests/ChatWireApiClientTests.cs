using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using ChatWire.Client.Internal;
using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// The SDK's HTTP client against the real gateway: every answer and every refusal below comes from it.
public sealed class ChatWireApiClientTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const string Password = "correct horse battery";

    private TestServer Server => fixture.Server;

    [Fact]
    public async Task Signup_CreatesAccount_KeepsToken_AndOmitsAbsentOptionalFields()
    {
        var recorder = new RecordingHandler();
        using var api = new ChatWireApiClient(Server.ApiBaseAddress, recorder);
        var username = NewName();

        var result = await api.SignupAsync(new SignupRequest(username, Password, DisplayName: "Alice"));
        var me = await api.GetMeAsync();
        var session = Assert.Single(await api.ListSessionsAsync());

        Assert.Equal(username, result.Username);
        Assert.Equal("Alice", result.DisplayName);
        Assert.False(string.IsNullOrEmpty(result.SessionToken));
        Assert.Equal(result.SessionToken, api.SessionToken);
        Assert.NotNull(result.ExpiresAt);
        Assert.True(result.ExpiresAt > DateTimeOffset.UtcNow);
        Assert.Equal((result.UserId, result.DeviceId, "Alice"), (me.UserId, me.DeviceId, me.DisplayName));
        Assert.Equal(result.DeviceId, session.DeviceId);
        Assert.True(session.Current);
        using var body = JsonDocument.Parse(recorder.Requests[0].Body!);
        Assert.Equal("Alice", body.RootElement.GetProperty("display_name").GetString());
        Assert.False(body.RootElement.TryGetProperty("device_name", out _));
    }

    [Fact]
    public async Task Signup_UsernameTaken_ThrowsAlreadyExistsWith409()
    {
        using var api = new ChatWireApiClient(Server.ApiBaseAddress);
        var username = NewName();
        await api.SignupAsync(new SignupRequest(username, Password));

        var ex = await Assert.ThrowsAsync<ChatWireException>(() => api.SignupAsync(new SignupRequest(username, "another password")));

        Assert.Equal(ErrorCode.AlreadyExists, ex.Code);
        Assert.Equal("ALREADY_EXISTS", ex.Name);
        Assert.Equal(409, ex.HttpStatus);
        Assert.Equal("That username is taken.", ex.Message);
        Assert.Null(ex.RetryAfter);
    }

    [Fact]
    public async Task Login_WrongPassword_ThrowsInvalidCredentialsWith401()
    {
        var user = await Server.SignupAsync();
        using var api = new ChatWireApiClient(Server.ApiBaseAddress);

        var ex = await Assert.ThrowsAsync<ChatWireException>(() => api.LoginAsync(new LoginRequest(user.Username, "not the password")));

        Assert.Equal(ErrorCode.InvalidCredentials, ex.Code);
        Assert.Equal("INVALID_CREDENTIALS", ex.Name);
        Assert.Equal(401, ex.HttpStatus);
        Assert.Equal("Unknown username or wrong password.", ex.Message);
        Assert.Null(api.SessionToken);
    }

    [Fact]
    public async Task Login_KeepsToken_AndSendsItAsBearerButNotToServerInfo()
    {
        var user = await Server.SignupAsync();
        var recorder = new RecordingHandler();
        using var api = new ChatWireApiClient(Server.ApiBaseAddress, recorder);

        var result = await api.LoginAsync(new LoginRequest(user.Username, user.Password, "laptop"));
        var me = await api.GetMeAsync();
        await api.GetServerInfoAsync();
        var sessions = await api.ListSessionsAsync();

        Assert.Equal(result.SessionToken, api.SessionToken);
        Assert.Equal((user.UserId, result.DeviceId), (me.UserId, me.DeviceId));
        Assert.NotEqual(user.DeviceId, result.DeviceId);
        Assert.Equal("laptop", Assert.Single(sessions, session => session.Current).DeviceName);
        Assert.Equal(2, sessions.Count);
        Assert.Null(recorder.Requests[0].Authorization);
        Assert.Equal($"Bearer {result.SessionToken}", recorder.Requests[1].Authorization);
        Assert.Null(recorder.Requests[2].Authorization);
    }

    [Fact]
    public async Task Call_WithoutToken_ThrowsNotAuthenticated()
    {
        using var api = new ChatWireApiClient(Server.ApiBaseAddress);

        var ex = await Assert.ThrowsAsync<ChatWireException>(() => api.GetMeAsync());

        Assert.Equal(ErrorCode.NotAuthenticated, ex.Code);
        Assert.Equal(401, ex.HttpStatus);
    }

    [Fact]
    public async Task Call_NotAMember_ThrowsWithCodeNameStatusAndDetail()
    {
        var owner = await Server.SignupAsync();
        var (teamId, _) = await owner.CreateTeamAsync("Private club");
        var outsider = await Server.SignupAsync();
        using var api = Api(outsider);

        var ex = await Assert.ThrowsAsync<ChatWireException>(() => api.ListMembersAsync(teamId));

        Assert.Equal(ErrorCode.NotAMember, ex.Code);
        Assert.Equal("NOT_A_MEMBER", ex.Name);
        Assert.Equal(403, ex.HttpStatus);
        Assert.Equal("You are not a member of this team.", ex.Message);
        Assert.Null(ex.RetryAfter);
    }

    [Fact]
    public async Task Call_RateLimited_CarriesTheServersRetryAfter()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Auth:AttemptsPerIpPerMinute"] = "2" });
        using var api = new ChatWireApiClient(server.ApiBaseAddress);
        var login = new LoginRequest("nobody-" + Guid.NewGuid().ToString("N")[..8], "some password");

        for (var attempt = 0; attempt < 2; attempt++)
        {
            var refused = await Assert.ThrowsAsync<ChatWireException>(() => api.LoginAsync(login));
            Assert.Equal(ErrorCode.InvalidCredentials, refused.Code);
        }

        var ex = await Assert.ThrowsAsync<ChatWireException>(() => api.LoginAsync(login));

        Assert.Equal(ErrorCode.RateLimited, ex.Code);
        Assert.Equal("RATE_LIMITED", ex.Name);
        Assert.Equal(429, ex.HttpStatus);
        Assert.Equal("Too many attempts; retry later.", ex.Message);
        Assert.NotNull(ex.RetryAfter);
        Assert.InRange(ex.RetryAfter.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task Teams_CreateInviteJoinList_AndARevokedInviteIsGone()
    {
        var alice = await Server.SignupAsync();
        var bob = await Server.SignupAsync();
        var carol = await Server.SignupAsync();
        using var aliceApi = Api(alice);
        using var bobApi = Api(bob);
        using var carolApi = Api(carol);

        var team = await aliceApi.CreateTeamAsync("Acme");
        var invite = await aliceApi.CreateInviteAsync(team.TeamId);
        var joined = await bobApi.JoinTeamAsync(invite.InviteCode);
        var bobsTeams = await bobApi.ListTeamsAsync();
        await aliceApi.RevokeInviteAsync(team.TeamId, invite.InviteId);
        var invites = await aliceApi.ListInvitesAsync(team.TeamId);
        var gone = await Assert.ThrowsAsync<ChatWireException>(() => carolApi.JoinTeamAsync(invite.InviteCode));

        Assert.Equal(("Acme", "owner", false), (team.Name, team.Role, team.Muted));
        Assert.Equal(team.TeamId, invite.TeamId);
        Assert.InRange(invite.ExpiresAt, DateTimeOffset.UtcNow.AddDays(6), DateTimeOffset.UtcNow.AddDays(8));
        Assert.Equal(new TeamSummary(team.TeamId, "Acme", "member", false, false), joined);
        Assert.Equal([joined], bobsTeams);
        Assert.True(Assert.Single(invites).Revoked);
        Assert.Equal((ErrorCode.InviteInvalid, 410), (gone.Code, gone.HttpStatus));
        Assert.Empty(await carolApi.ListTeamsAsync());
    }

    [Fact]
    public async Task Teams_MuteUnmuteAndLeave()
    {
        var alice = await Server.SignupAsync();
        var bob = await Server.SignupAsync();
        using var aliceApi = Api(alice);
        using var bobApi = Api(bob);
        var team = await aliceApi.CreateTeamAsync("Acme");
        await bobApi.JoinTeamAsync((await aliceApi.CreateInviteAsync(team.TeamId)).InviteCode);

        await bobApi.MuteTeamAsync(team.TeamId);
        var muted = Assert.Single(await bobApi.ListTeamsAsync()).Muted;
        await bobApi.UnmuteTeamAsync(team.TeamId);
        var unmuted = Assert.Single(await bobApi.ListTeamsAsync()).Muted;
        await bobApi.LeaveTeamAsync(team.TeamId);

        Assert.True(muted);
        Assert.False(unmuted);
        Assert.Empty(await bobApi.ListTeamsAsync());
        Assert.False(Assert.Single(await aliceApi.ListTeamsAsync()).Muted);
    }

    [Fact]
    public async Task Channels_CreateListJoin_PrivateOnlyByBeingAdded()
    {
        var alice = await Server.SignupAsync();
        var bob = await Server.SignupAsync();
        using var aliceApi = Api(alice);
        using var bobApi = Api(bob);
        var team = await aliceApi.CreateTeamAsync("Acme");
        await bobApi.JoinTeamAsync((await aliceApi.CreateInviteAsync(team.TeamId)).InviteCode);

        var ops = await aliceApi.CreateChannelAsync(team.TeamId, "Ops");
        var secret = await aliceApi.CreateChannelAsync(team.TeamId, "secret", isPrivate: true);
        var before = await bobApi.ListChannelsAsync(team.TeamId);
        await bobApi.JoinChannelAsync(ops.ConversationId);
        var forbidden = await Assert.ThrowsAsync<ChatWireException>(() => bobApi.JoinChannelAsync(secret.ConversationId));
        await aliceApi.AddChannelMemberAsync(secret.ConversationId, bob.UserId);
        var after = await bobApi.ListChannelsAsync(team.TeamId);
        var duplicate = await Assert.ThrowsAsync<ChatWireException>(() => aliceApi.CreateChannelAsync(team.TeamId, "ops"));

        Assert.Equal(new ChannelInfo(ops.ConversationId, team.TeamId, "ops", "public"), ops);
        Assert.Equal("private", secret.Type);
        Assert.Equal([("general", true), ("ops", false)], before.Select(channel => (channel.Name, channel.Member)));
        Assert.Equal((ErrorCode.Forbidden, 403), (forbidden.Code, forbidden.HttpStatus));
        Assert.Equal([("general", true), ("ops", true), ("secret", true)], after.OrderBy(channel => channel.Name, StringComparer.Ordinal).Select(channel => (channel.Name, channel.Member)));
        Assert.Equal((ErrorCode.AlreadyExists, 409), (duplicate.Code, duplicate.HttpStatus));
    }

    [Fact]
    public async Task DirectConversations_ByNameOrId_AreFoundAgain_AndListed()
    {
        var alice = await Server.SignupAsync();
        var bob = await Server.SignupAsync();
        var carol = await Server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        await carol.JoinAsync(await alice.InviteAsync(teamId));
        using var api = Api(alice);

        var dm = await api.OpenDirectConversationAsync([bob.Username]);
        var again = await api.OpenDirectConversationAsync([bob.UserId.ToString()]);
        var group = await api.OpenDirectConversationAsync([bob.Username, carol.UserId.ToString()]);
        var stranger = await Server.SignupAsync();
        var notFound = await Assert.ThrowsAsync<ChatWireException>(() => api.OpenDirectConversationAsync([stranger.Username]));
        var conversations = await api.ListConversationsAsync();

        Assert.Equal("dm", dm.Type);
        Assert.Equal(new[] { alice.UserId, bob.UserId }.Order(), dm.Members.Order());
        Assert.Equal(dm.ConversationId, again.ConversationId);
        Assert.Equal("group", group.Type);
        Assert.Equal(new[] { alice.UserId, bob.UserId, carol.UserId }.Order(), group.Members.Order());
        Assert.Equal((ErrorCode.NotFound, 404), (notFound.Code, notFound.HttpStatus));
        // A new DM holds its two members' joins (seq 1 and 2), a new group its three.
        Assert.Contains(conversations, conversation => conversation.ConversationId == dm.ConversationId && conversation.Type == "dm" && conversation.TeamId is null && conversation.LastSeq == 2);
        Assert.Contains(conversations, conversation => conversation.ConversationId == group.ConversationId && conversation.LastSeq == 3);
        Assert.Contains(conversations, conversation => conversation.ConversationId == group.ConversationId && conversation.Members!.Count == 3);
        Assert.Contains(conversations, conversation => conversation is { Type: "public", Name: "general" } && conversation.TeamId == teamId);
    }

    [Fact]
    public async Task ListMembers_PrefixAndLimit_GoInTheQuery()
    {
        var alice = await Server.SignupAsync(displayName: "Al Bundy");
        var bob = await Server.SignupAsync(displayName: "Al Borland");
        var carol = await Server.SignupAsync(displayName: "Carol");
        var (teamId, _) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        await carol.JoinAsync(await alice.InviteAsync(teamId));
        var recorder = new RecordingHandler();
        using var api = new ChatWireApiClient(Server.ApiBaseAddress, recorder) { SessionToken = alice.Token };

        var everyone = await api.ListMembersAsync(teamId);
        var prefixed = await api.ListMembersAsync(teamId, "al b");
        var limited = await api.ListMembersAsync(teamId, "al b", 1);

        Assert.Equal(3, everyone.Count);
        Assert.Equal(["Al Borland", "Al Bundy"], prefixed.Select(member => member.DisplayName).Order(StringComparer.Ordinal));
        Assert.Single(limited);
        Assert.Equal("owner", Assert.Single(everyone, member => member.UserId == alice.UserId).Role);
        Assert.Equal($"/v1/teams/{teamId}/members?prefix=al%20b&limit=1", recorder.Requests[^1].PathAndQuery);
    }

    [Fact]
    public async Task Sessions_RevokeOneDevice_ThenLogout_EndsBothTokens()
    {
        var user = await Server.SignupAsync();
        var laptop = await Server.LoginAsync(user, "laptop");
        using var api = Api(user);
        using var laptopApi = Api(laptop);

        var sessions = await api.ListSessionsAsync();
        await api.RevokeSessionAsync(laptop.DeviceId);
        var revoked = await Assert.ThrowsAsync<ChatWireException>(() => laptopApi.GetMeAsync());
        var remaining = await api.ListSessionsAsync();
        await api.LogoutAsync();
        api.SessionToken = user.Token;
        var loggedOut = await Assert.ThrowsAsync<ChatWireException>(() => api.GetMeAsync());

        Assert.Equal(2, sessions.Count);
        Assert.Equal(user.DeviceId, Assert.Single(sessions, session => session.Current).DeviceId);
        Assert.Equal((ErrorCode.SessionRevoked, "SESSION_REVOKED", 401), (revoked.Code, revoked.Name, revoked.HttpStatus));
        Assert.Equal(user.DeviceId, Assert.Single(remaining).DeviceId);
        Assert.Equal(ErrorCode.SessionRevoked, loggedOut.Code);
    }

    [Fact]
    public async Task ChangePassword_OldPasswordStopsWorking_OtherSessionsEnd()
    {
        var user = await Server.SignupAsync();
        var other = await Server.LoginAsync(user);
        using var api = Api(user);
        using var otherApi = Api(other);
        using var anonymous = new ChatWireApiClient(Server.ApiBaseAddress);

        var wrong = await Assert.ThrowsAsync<ChatWireException>(() => api.ChangePasswordAsync("not the password", "a new password"));
        await api.ChangePasswordAsync(user.Password, "a new password");

        Assert.Equal(ErrorCode.InvalidCredentials, wrong.Code);
        Assert.Equal(ErrorCode.SessionRevoked, (await Assert.ThrowsAsync<ChatWireException>(() => otherApi.GetMeAsync())).Code);
        Assert.Equal(user.UserId, (await api.GetMeAsync()).UserId);
        await Assert.ThrowsAsync<ChatWireException>(() => anonymous.LoginAsync(new LoginRequest(user.Username, user.Password)));
        Assert.Equal(user.UserId, (await anonymous.LoginAsync(new LoginRequest(user.Username, "a new password"))).UserId);
    }

    [Fact]
    public async Task GetServerInfo_DescribesTheRunningServer()
    {
        using var api = new ChatWireApiClient(Server.ApiBaseAddress);

        var info = await api.GetServerInfoAsync();

        Assert.Equal("chatwire", info.Server);
        Assert.Equal(new ServerEndpoint("127.0.0.1", Server.TcpEndPoint.Port), info.Endpoints.Tcp);
        Assert.Equal(new ServerEndpoint("127.0.0.1", Server.TlsEndPoint.Port), info.Endpoints.Tls);
        Assert.Equal(new ServerEndpoint("127.0.0.1", Server.NoiseEndPoint.Port), info.Endpoints.Noise);
        Assert.Equal(NoiseKeys.ToHex(Server.NoisePublicKey), info.NoiseStaticPublicKey);
        Assert.Equal(ProtocolLimits.Default.MaxHistoryLimit, info.Limits.MaxHistoryLimit);
        Assert.Equal(ProtocolLimits.DefaultMaxContentLength, info.Limits.MaxContentLength);
        Assert.Equal(30_000, info.Limits.HeartbeatIntervalMs);
        Assert.Equal([(int)ProtocolLimits.CurrentVersion], info.ProtocolVersions);
    }

    [Fact]
    public async Task FromServerInfo_ChoosesNoise_ThenTcp_UnlessTlsPreferredOrTheOnlyOne()
    {
        using var api = new ChatWireApiClient(Server.ApiBaseAddress);
        var info = await api.GetServerInfoAsync();
        var deviceId = Guid.CreateVersion7();

        var noise = ChatWireConnectionOptions.FromServerInfo(info, "tok", deviceId);
        info = info with { Endpoints = info.Endpoints with { Noise = null } };
        var plain = ChatWireConnectionOptions.FromServerInfo(info, "tok", deviceId);
        var secure = ChatWireConnectionOptions.FromServerInfo(info, "tok", deviceId, preferTls: true);
        var tlsOnly = ChatWireConnectionOptions.FromServerInfo(info with { Endpoints = info.Endpoints with { Tcp = null } }, "tok", deviceId);

        Assert.Equal((Server.NoiseEndPoint.Port, ChatWireTransport.Noise, false), (noise.Port, noise.Transport, info.ReceivedOverHttps));
        Assert.Equal(Server.NoisePublicKey, noise.NoiseServerKey!.Value.ToArray());
        Assert.Equal(("127.0.0.1", Server.TcpEndPoint.Port, false), (plain.Host, plain.Port, plain.UseTls));
        Assert.Equal((Server.TlsEndPoint.Port, true), (secure.Port, secure.UseTls));
        Assert.Equal((Server.TlsEndPoint.Port, true), (tlsOnly.Port, tlsOnly.UseTls));
        Assert.Equal(deviceId, plain.DeviceId);
        Assert.Throws<InvalidOperationException>(() =>
            ChatWireConnectionOptions.FromServerInfo(info with { Endpoints = new ServerEndpoints(null, null, null) }, "tok", deviceId));
    }

    // Answers without a code (a proxy's, or an empty body) still map to a code by status. Pure: no response involved.
    [Theory]
    [InlineData(HttpStatusCode.BadRequest, ErrorCode.ValidationFailed)]
    [InlineData(HttpStatusCode.Unauthorized, ErrorCode.NotAuthenticated)]
    [InlineData(HttpStatusCode.NotFound, ErrorCode.NotFound)]
    [InlineData(HttpStatusCode.Conflict, ErrorCode.AlreadyExists)]
    [InlineData(HttpStatusCode.Gone, ErrorCode.InviteInvalid)]
    [InlineData(HttpStatusCode.TooManyRequests, ErrorCode.RateLimited)]
    [InlineData(HttpStatusCode.ServiceUnavailable, ErrorCode.ServerBusy)]
    [InlineData(HttpStatusCode.BadGateway, ErrorCode.InternalError)]
    public void CodeForStatus_MapsEachStatusToTheSharedCode(HttpStatusCode status, ErrorCode expected)
    {
        Assert.Equal(expected, ProblemDetailsReader.CodeForStatus(status));
    }

    // Retry-After as an HTTP date (the gateway sends seconds; a proxy may send a date). Pure.
    [Fact]
    public void ReadRetryAfter_DateOrDelta_BecomesADelay()
    {
        var now = new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

        Assert.Equal(TimeSpan.FromSeconds(7), ProblemDetailsReader.ReadRetryAfter(new RetryConditionHeaderValue(TimeSpan.FromSeconds(7)), now));
        Assert.Equal(TimeSpan.FromMinutes(2), ProblemDetailsReader.ReadRetryAfter(new RetryConditionHeaderValue(now.AddMinutes(2)), now));
        Assert.Equal(TimeSpan.Zero, ProblemDetailsReader.ReadRetryAfter(new RetryConditionHeaderValue(now.AddMinutes(-2)), now));
        Assert.Null(ProblemDetailsReader.ReadRetryAfter(null, now));
    }

    private static string NewName() => "u" + Guid.NewGuid().ToString("N")[..12];

    private ChatWireApiClient Api(TestUser user) => new(Server.ApiBaseAddress) { SessionToken = user.Token };
}
