using System.Net;
using System.Text.Json;
using ChatWire.Testing;
using static ChatWire.Gateway.Tests.HttpApiTests;

namespace ChatWire.Gateway.Tests;

// Teams, invites, channels and DMs over HTTP, including every way a non-member is refused.
public sealed class TeamsApiTests
{
    [Fact]
    public async Task CreateTeam_CreatorIsOwnerWithGeneralChannel()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();

        var (teamId, general) = await alice.CreateTeamAsync("Acme");
        var teams = (await alice.CallAsync(HttpMethod.Get, "v1/teams")).GetProperty("teams").EnumerateArray().ToList();
        var channels = (await alice.CallAsync(HttpMethod.Get, $"v1/teams/{teamId}/channels")).GetProperty("channels").EnumerateArray().ToList();

        var team = Assert.Single(teams);
        Assert.Equal(("Acme", "owner", false), (team.GetProperty("name").GetString(), team.GetProperty("role").GetString(), team.GetProperty("muted").GetBoolean()));
        var channel = Assert.Single(channels);
        Assert.Equal((general, "general", "public", true), (channel.GetProperty("conversation_id").GetGuid(), channel.GetProperty("name").GetString(), channel.GetProperty("type").GetString(), channel.GetProperty("member").GetBoolean()));
    }

    [Fact]
    public async Task CreateTeam_EmptyName_ValidationFailed()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();

        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Post, "v1/teams", new { name = "  " }), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }

    [Fact]
    public async Task JoinByInvite_AddsMemberToTeamAndGeneral_TwiceIsHarmless()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var (teamId, general) = await alice.CreateTeamAsync();
        var code = await alice.InviteAsync(teamId);

        var joined = await bob.CallAsync(HttpMethod.Post, $"v1/invites/{code}/join");
        var again = await bob.CallAsync(HttpMethod.Post, $"v1/invites/{code}/join");
        var channels = (await bob.CallAsync(HttpMethod.Get, $"v1/teams/{teamId}/channels")).GetProperty("channels").EnumerateArray();

        Assert.Equal((teamId, "member"), (joined.GetProperty("team_id").GetGuid(), joined.GetProperty("role").GetString()));
        Assert.Equal(teamId, again.GetProperty("team_id").GetGuid());
        Assert.Contains(channels, c => c.GetProperty("conversation_id").GetGuid() == general && c.GetProperty("member").GetBoolean());
        Assert.Equal(22, code.Length);
    }

    [Fact]
    public async Task JoinByInvite_UnknownRevokedOrExpired_InviteInvalid()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();
        var revoked = await alice.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/invites", new { });
        var expiring = await alice.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/invites", new { expires_in_seconds = 1 });
        await alice.CallAsync(HttpMethod.Delete, $"v1/teams/{teamId}/invites/{revoked.GetProperty("invite_id").GetGuid()}");
        await Task.Delay(1_200);

        foreach (var code in new[] { "AAAAAAAAAAAAAAAAAAAAAA", "short", revoked.GetProperty("invite_code").GetString(), expiring.GetProperty("invite_code").GetString() })
        {
            await AssertProblemAsync(await bob.SendAsync(HttpMethod.Post, $"v1/invites/{code}/join"), HttpStatusCode.Gone, 4005, "INVITE_INVALID");
        }

        Assert.Empty((await bob.CallAsync(HttpMethod.Get, "v1/teams")).GetProperty("teams").EnumerateArray());
    }

    [Fact]
    public async Task JoinByInvite_TooManyAttempts_RateLimited()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Auth:AttemptsPerAccountPerMinute"] = "3" });
        var bob = await server.SignupAsync();

        for (var i = 0; i < 3; i++)
        {
            await bob.SendAsync(HttpMethod.Post, "v1/invites/AAAAAAAAAAAAAAAAAAAAAA/join");
        }

        await AssertProblemAsync(await bob.SendAsync(HttpMethod.Post, "v1/invites/AAAAAAAAAAAAAAAAAAAAAA/join"), HttpStatusCode.TooManyRequests, 3001, "RATE_LIMITED");
    }

    [Fact]
    public async Task Invites_ListAndRevoke_OwnerOnly()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        await AssertProblemAsync(await bob.SendAsync(HttpMethod.Post, $"v1/teams/{teamId}/invites", new { }), HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        await alice.CallAsync(HttpMethod.Patch, $"v1/teams/{teamId}", new { members_can_invite = true });
        var bobsInvite = await bob.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/invites", new { });

        var list = (await alice.CallAsync(HttpMethod.Get, $"v1/teams/{teamId}/invites")).GetProperty("invites").EnumerateArray().ToList();

        Assert.Equal(2, list.Count);
        await AssertProblemAsync(await bob.SendAsync(HttpMethod.Get, $"v1/teams/{teamId}/invites"), HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        await AssertProblemAsync(await bob.SendAsync(HttpMethod.Delete, $"v1/teams/{teamId}/invites/{bobsInvite.GetProperty("invite_id").GetGuid()}"), HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Delete, $"v1/teams/{teamId}/invites/{Guid.CreateVersion7()}"), HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Post, $"v1/teams/{teamId}/invites", new { expires_in_seconds = 0 }), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }

    [Fact]
    public async Task MuteUnmuteLeave_PerMember()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));

        Assert.Equal(HttpStatusCode.NoContent, (await bob.SendAsync(HttpMethod.Put, $"v1/teams/{teamId}/mute")).StatusCode);
        Assert.True(Single(await bob.CallAsync(HttpMethod.Get, "v1/teams")).GetProperty("muted").GetBoolean());
        Assert.False(Single(await alice.CallAsync(HttpMethod.Get, "v1/teams")).GetProperty("muted").GetBoolean());
        Assert.Equal(HttpStatusCode.NoContent, (await bob.SendAsync(HttpMethod.Delete, $"v1/teams/{teamId}/mute")).StatusCode);
        Assert.False(Single(await bob.CallAsync(HttpMethod.Get, "v1/teams")).GetProperty("muted").GetBoolean());
        Assert.Equal(HttpStatusCode.NoContent, (await bob.SendAsync(HttpMethod.Post, $"v1/teams/{teamId}/leave")).StatusCode);
        Assert.Empty((await bob.CallAsync(HttpMethod.Get, "v1/teams")).GetProperty("teams").EnumerateArray());
        await AssertProblemAsync(await bob.SendAsync(HttpMethod.Put, $"v1/teams/{teamId}/mute"), HttpStatusCode.Forbidden, 4001, "NOT_A_MEMBER");

        static JsonElement Single(JsonElement list) => Assert.Single(list.GetProperty("teams").EnumerateArray().ToList());
    }

    [Fact]
    public async Task Members_PrefixSearch_ForMentionCandidates()
    {
        await using var server = await TestServer.StartAsync();
        var owner = await server.SignupAsync("olivia");
        var (teamId, _) = await owner.CreateTeamAsync();
        var code = await owner.InviteAsync(teamId);
        foreach (var name in new[] { "alex", "alexandra", "bob" })
        {
            await (await server.SignupAsync(name)).JoinAsync(code);
        }

        await (await server.SignupAsync("ezola", displayName: "\u00C9mile Zola")).JoinAsync(code);

        var al = (await owner.CallAsync(HttpMethod.Get, $"v1/teams/{teamId}/members?prefix=AL")).GetProperty("members").EnumerateArray().Select(m => m.GetProperty("username").GetString()).ToList();
        var limited = (await owner.CallAsync(HttpMethod.Get, $"v1/teams/{teamId}/members?limit=2")).GetProperty("members").GetArrayLength();

        Assert.Equal(["alex", "alexandra"], al);
        Assert.Equal(2, limited);
        await AssertProblemAsync(await owner.SendAsync(HttpMethod.Get, $"v1/teams/{teamId}/members?limit=0"), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        foreach (var control in new[] { "%00", "al%07", "al%C2%85" })
        {
            await AssertProblemAsync(await owner.SendAsync(HttpMethod.Get, $"v1/teams/{teamId}/members?prefix={control}"), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        }

        Assert.Empty((await owner.CallAsync(HttpMethod.Get, $"v1/teams/{teamId}/members?prefix=%C3%85")).GetProperty("members").EnumerateArray());

        // A prefix in another normal form than the names (E and a combining acute, where the name holds É) finds them.
        var decomposed = (await owner.CallAsync(HttpMethod.Get, $"v1/teams/{teamId}/members?prefix=E%CC%81mi")).GetProperty("members").EnumerateArray().Select(m => m.GetProperty("username").GetString());
        Assert.Equal(["ezola"], decomposed);

        // Each parameter once: which of two a server would take is a guess.
        await AssertProblemAsync(await owner.SendAsync(HttpMethod.Get, $"v1/teams/{teamId}/members?prefix=al&prefix=bo"), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(await owner.SendAsync(HttpMethod.Get, $"v1/teams/{teamId}/members?limit=2&limit=3"), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }

    [Fact]
    public async Task OtherTeamsResources_NonMember_RefusedEverywhere()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var mallory = await server.SignupAsync();
        var (teamId, general) = await alice.CreateTeamAsync();
        var secret = (await alice.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "secret", @private = true })).GetProperty("conversation_id").GetGuid();

        (HttpMethod, string, object?)[] calls =
        [
            (HttpMethod.Get, $"v1/teams/{teamId}/members", null),
            (HttpMethod.Get, $"v1/teams/{teamId}/channels", null),
            (HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "mine" }),
            (HttpMethod.Post, $"v1/teams/{teamId}/invites", new { }),
            (HttpMethod.Get, $"v1/teams/{teamId}/invites", null),
            (HttpMethod.Post, $"v1/teams/{teamId}/leave", null),
            (HttpMethod.Put, $"v1/teams/{teamId}/mute", null),
            (HttpMethod.Post, $"v1/channels/{general}/join", null),
            (HttpMethod.Post, $"v1/channels/{secret}/join", null),
            (HttpMethod.Post, $"v1/channels/{general}/members", new { user_id = mallory.UserId }),
        ];
        foreach (var (method, path, body) in calls)
        {
            var response = await mallory.SendAsync(method, path, body);
            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{method} {path} answered {(int)response.StatusCode}");
            await AssertProblemAsync(response, HttpStatusCode.Forbidden, 4001, "NOT_A_MEMBER");
        }

        await AssertProblemAsync(await mallory.SendAsync(HttpMethod.Post, "v1/dms", new { users = new[] { alice.Username } }), HttpStatusCode.NotFound, 4002, "NOT_FOUND");
    }

    [Fact]
    public async Task Channels_PublicAndPrivate_VisibilityJoinAndAdd()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));

        var open = await alice.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "Random" });
        var secret = (await alice.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "secret", @private = true })).GetProperty("conversation_id").GetGuid();
        var bobSees = Names(await bob.CallAsync(HttpMethod.Get, $"v1/teams/{teamId}/channels"));

        Assert.Equal(("random", "public"), (open.GetProperty("name").GetString(), open.GetProperty("type").GetString()));
        Assert.Equal(["general", "random"], bobSees);
        await AssertProblemAsync(await bob.SendAsync(HttpMethod.Post, $"v1/channels/{secret}/join"), HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "random" }), HttpStatusCode.Conflict, 4004, "ALREADY_EXISTS");
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "has space" }), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");

        Assert.Equal(HttpStatusCode.NoContent, (await alice.SendAsync(HttpMethod.Post, $"v1/channels/{secret}/members", new { user_id = bob.UserId })).StatusCode);
        Assert.Equal(["general", "random", "secret"], Names(await bob.CallAsync(HttpMethod.Get, $"v1/teams/{teamId}/channels")));
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Post, $"v1/channels/{secret}/members", new { user_id = Guid.CreateVersion7() }), HttpStatusCode.NotFound, 4002, "NOT_FOUND");

        static List<string?> Names(JsonElement list) => list.GetProperty("channels").EnumerateArray().Select(c => c.GetProperty("name").GetString()).Order().ToList();
    }

    [Fact]
    public async Task DirectMessages_SameSetReturnsSameConversation()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var carol = await server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();
        var code = await alice.InviteAsync(teamId);
        await bob.JoinAsync(code);
        await carol.JoinAsync(code);

        var dm = await alice.OpenDmAsync(bob.Username);
        var sameFromBob = await bob.OpenDmAsync(alice.UserId.ToString());
        var group = await alice.CallAsync(HttpMethod.Post, "v1/dms", new { users = new[] { bob.Username, carol.Username } });
        var conversations = (await carol.CallAsync(HttpMethod.Get, "v1/conversations")).GetProperty("conversations").EnumerateArray().ToList();

        Assert.Equal(dm, sameFromBob);
        Assert.Equal("group", group.GetProperty("type").GetString());
        Assert.Equal(3, group.GetProperty("members").GetArrayLength());
        Assert.Contains(conversations, c => c.GetProperty("type").GetString() == "group" && c.GetProperty("members").GetArrayLength() == 3);
        Assert.Contains(conversations, c => c.GetProperty("type").GetString() == "public" && c.GetProperty("name").GetString() == "general");
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Post, "v1/dms", new { users = new[] { alice.Username } }), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Post, "v1/dms", new { users = Enumerable.Range(0, 8).Select(i => $"x{i}").ToArray() }), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Post, "v1/dms", new { users = new[] { "no-such-user" } }), HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Post, "v1/dms", new { users = new string?[] { null } }), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Post, "v1/dms", new { users = new[] { " " } }), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }
}
