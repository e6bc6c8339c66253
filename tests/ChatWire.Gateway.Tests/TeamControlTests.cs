using System.Net;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;
using Microsoft.Extensions.DependencyInjection;
using static ChatWire.Gateway.Tests.HttpApiTests;

namespace ChatWire.Gateway.Tests;

// docs/http-api.md, "Teams": who may invite, remove and change roles; invites that die with their creator's
// membership; the last owner; DMs that need a shared team to send; caps and paged lists.
public sealed class TeamControlTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private TestServer Server => fixture.Server;

    [Fact]
    public async Task Invites_ByOwnersAndAdmins_OrEveryoneWhenTheTeamSaysSo_WithTheirCreator()
    {
        var (alice, bob, carol, teamId) = await TeamOfThreeAsync();

        await AssertProblemAsync(await bob.SendAsync(HttpMethod.Post, $"v1/teams/{teamId}/invites", new { }), HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        await alice.CallAsync(HttpMethod.Put, $"v1/teams/{teamId}/members/{bob.UserId}/role", new { role = "admin" });
        var bobs = await bob.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/invites", new { });
        await AssertProblemAsync(await carol.SendAsync(HttpMethod.Post, $"v1/teams/{teamId}/invites", new { }), HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        var team = await alice.CallAsync(HttpMethod.Patch, $"v1/teams/{teamId}", new { members_can_invite = true });
        var carols = await carol.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/invites", new { });
        var list = (await alice.CallAsync(HttpMethod.Get, $"v1/teams/{teamId}/invites")).GetProperty("invites").EnumerateArray().ToList();

        Assert.True(team.GetProperty("members_can_invite").GetBoolean());
        Assert.Equal(bob.UserId, list.Single(i => i.GetProperty("invite_id").GetGuid() == bobs.GetProperty("invite_id").GetGuid()).GetProperty("created_by").GetGuid());
        Assert.Equal(carol.UserId, list.Single(i => i.GetProperty("invite_id").GetGuid() == carols.GetProperty("invite_id").GetGuid()).GetProperty("created_by").GetGuid());
    }

    // members_can_mention_channel false: @channel and @here (group_mentions) are for owners and admins; a plain member
    // is refused FORBIDDEN and nothing is stored, while the same words without the group mention go through, and a
    // group DM (no team) is never restricted.
    [Fact]
    public async Task GroupMentions_KeptToOwnersAndAdmins_WhenTheTeamSaysSo()
    {
        var (alice, bob, carol, teamId) = await TeamOfThreeAsync();
        var general = (await alice.CallAsync(HttpMethod.Get, $"v1/teams/{teamId}/channels")).GetProperty("channels").EnumerateArray()
            .Single(c => c.GetProperty("name").GetString() == "general").GetProperty("conversation_id").GetGuid();
        var group = await alice.OpenDmAsync(bob.Username, carol.Username);
        await alice.CallAsync(HttpMethod.Put, $"v1/teams/{teamId}/members/{bob.UserId}/role", new { role = "admin" });
        await using var bobs = await RawClient.ConnectAuthenticatedAsync(bob);
        await using var carols = await RawClient.ConnectAuthenticatedAsync(carol);
        await carols.SendAsync(new Send(carols.NextRequestId(), general, Guid.CreateVersion7(), "text/plain", "@here lunch?"u8.ToArray()) { GroupMentions = GroupMentions.Here });
        await carols.ExpectAsync<SendAck>();

        var refusedByCarol = await carol.SendAsync(HttpMethod.Patch, $"v1/teams/{teamId}", new { members_can_mention_channel = false });
        var team = await alice.CallAsync(HttpMethod.Patch, $"v1/teams/{teamId}", new { members_can_mention_channel = false });
        var listed = (await carol.CallAsync(HttpMethod.Get, "v1/teams")).GetProperty("teams").EnumerateArray().Single(t => t.GetProperty("team_id").GetGuid() == teamId);

        await carols.SendAsync(new Send(41, general, Guid.CreateVersion7(), "text/plain", "@channel deploy!"u8.ToArray()) { GroupMentions = GroupMentions.Channel });
        var refused = await carols.ExpectErrorAsync();
        var plain = await carols.SendTextAsync(general, "deploy, everyone?");
        await bobs.SendAsync(new Send(42, general, Guid.CreateVersion7(), "text/plain", "@channel deploying"u8.ToArray()) { GroupMentions = GroupMentions.Channel });
        var byAdmin = await bobs.ExpectAsync<SendAck>();
        await carols.SendAsync(new Send(43, group, Guid.CreateVersion7(), "text/plain", "@here in the group"u8.ToArray()) { GroupMentions = GroupMentions.Here });
        var inGroup = await carols.ExpectAsync<SendAck>();

        await AssertProblemAsync(refusedByCarol, HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        Assert.False(listed.GetProperty("members_can_mention_channel").GetBoolean());
        Assert.False(team.GetProperty("members_can_mention_channel").GetBoolean());
        Assert.Equal((41u, ErrorCode.Forbidden), (refused.RequestId, refused.Code));
        Assert.Contains("@channel", refused.Message, StringComparison.Ordinal);
        Assert.Equal(plain.Seq + 1, byAdmin.Seq);
        Assert.Equal((42u, 43u), (byAdmin.RequestId, inGroup.RequestId));
    }

    // The stores keep @channel and @here as a mention of the nil id, so a nil id among mentions would count for every
    // member like an @channel, past the team's rule above: it is refused INVALID_FIELD, in any team, and nothing is stored.
    [Fact]
    public async Task AMentionOfTheNilId_IsRefused_NotAnAtChannelInDisguise()
    {
        var (alice, bob, carol, teamId) = await TeamOfThreeAsync();
        var general = (await alice.CallAsync(HttpMethod.Get, $"v1/teams/{teamId}/channels")).GetProperty("channels").EnumerateArray()
            .Single(c => c.GetProperty("name").GetString() == "general").GetProperty("conversation_id").GetGuid();
        await alice.CallAsync(HttpMethod.Patch, $"v1/teams/{teamId}", new { members_can_mention_channel = false });
        await using var carols = await RawClient.ConnectAuthenticatedAsync(carol);
        var before = await carols.SendTextAsync(general, "before");

        await carols.SendAsync(new Send(51, general, Guid.CreateVersion7(), "text/plain", "hey all"u8.ToArray()) { Mentions = [bob.UserId, Guid.Empty] });
        var refused = await carols.ExpectErrorAsync();
        var after = await carols.SendTextAsync(general, "after");

        Assert.Equal((51u, ErrorCode.InvalidField), (refused.RequestId, refused.Code));
        Assert.Contains("group_mentions", refused.Message, StringComparison.Ordinal);
        Assert.Equal(before.Seq + 1, after.Seq);
    }

    [Fact]
    public async Task ALeavingMembersInvites_AreRevoked()
    {
        var (alice, bob, _, teamId) = await TeamOfThreeAsync();
        await alice.CallAsync(HttpMethod.Patch, $"v1/teams/{teamId}", new { members_can_invite = true });
        var code = await bob.InviteAsync(teamId);

        await bob.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/leave");
        var dave = await Server.SignupAsync();

        await AssertProblemAsync(await dave.SendAsync(HttpMethod.Post, $"v1/invites/{code}/join"), HttpStatusCode.Gone, 4005, "INVITE_INVALID");
    }

    // A removal lasts: the invite the member joined with (or any made before the removal) no longer lets them in;
    // one made afterwards does. Someone who left on their own may use the old one again.
    [Fact]
    public async Task ARemovedMember_CannotRejoinWithAnOldInvite_ButWithANewOne()
    {
        var alice = await Server.SignupAsync();
        var bob = await Server.SignupAsync();
        var carol = await Server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();
        var old = await alice.InviteAsync(teamId);
        await bob.JoinAsync(old);
        await carol.JoinAsync(old);

        Assert.Equal(HttpStatusCode.NoContent, (await alice.SendAsync(HttpMethod.Delete, $"v1/teams/{teamId}/members/{bob.UserId}")).StatusCode);
        var refused = await bob.SendAsync(HttpMethod.Post, $"v1/invites/{old}/join");
        await carol.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/leave");
        var carolBack = await carol.SendAsync(HttpMethod.Post, $"v1/invites/{old}/join");
        var fresh = await alice.InviteAsync(teamId);
        var bobBack = await bob.SendAsync(HttpMethod.Post, $"v1/invites/{fresh}/join");

        await AssertProblemAsync(refused, HttpStatusCode.Gone, 4005, "INVITE_INVALID");
        Assert.Equal(HttpStatusCode.OK, carolBack.StatusCode);
        Assert.Equal(HttpStatusCode.OK, bobBack.StatusCode);
    }

    // Two owners remove each other at once: the one who stays was not removed, so an old invite still takes them
    // back after they later leave on their own (a refused removal notes nothing).
    [Fact]
    public async Task OwnersRemovingEachOther_TheOneWhoStays_IsNotBarredFromOldInvites()
    {
        var (alice, bob, carol, teamId) = await TeamOfThreeAsync();
        await alice.CallAsync(HttpMethod.Patch, $"v1/teams/{teamId}", new { members_can_invite = true });

        // Carol's: a leaver's own invites are revoked, and either owner may be the one who leaves.
        var old = await carol.InviteAsync(teamId);
        await alice.CallAsync(HttpMethod.Put, $"v1/teams/{teamId}/members/{bob.UserId}/role", new { role = "owner" });

        var answers = await Task.WhenAll(
            Task.Run(() => alice.SendAsync(HttpMethod.Delete, $"v1/teams/{teamId}/members/{bob.UserId}")),
            Task.Run(() => bob.SendAsync(HttpMethod.Delete, $"v1/teams/{teamId}/members/{alice.UserId}")));
        var stayed = answers[0].StatusCode == HttpStatusCode.NoContent ? alice : bob;
        await stayed.CallAsync(HttpMethod.Put, $"v1/teams/{teamId}/members/{carol.UserId}/role", new { role = "owner" });
        await stayed.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/leave");
        var back = await stayed.SendAsync(HttpMethod.Post, $"v1/invites/{old}/join");

        Assert.Equal([HttpStatusCode.NoContent, HttpStatusCode.Forbidden], answers.Select(a => a.StatusCode).Order());
        Assert.Equal(HttpStatusCode.OK, back.StatusCode);
    }

    [Fact]
    public async Task TheLastOwner_CannotLeaveOrStepDown_UntilAnotherOwnerExists()
    {
        var (alice, bob, _, teamId) = await TeamOfThreeAsync();

        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Post, $"v1/teams/{teamId}/leave"), HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Put, $"v1/teams/{teamId}/members/{alice.UserId}/role", new { role = "admin" }), HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        await AssertProblemAsync(await bob.SendAsync(HttpMethod.Put, $"v1/teams/{teamId}/members/{bob.UserId}/role", new { role = "owner" }), HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Put, $"v1/teams/{teamId}/members/{bob.UserId}/role", new { role = "king" }), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");

        await alice.CallAsync(HttpMethod.Put, $"v1/teams/{teamId}/members/{bob.UserId}/role", new { role = "owner" });
        await alice.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/leave");

        Assert.Equal("owner", Assert.Single((await bob.CallAsync(HttpMethod.Get, "v1/teams")).GetProperty("teams").EnumerateArray()).GetProperty("role").GetString());
    }

    // Two owners act at the same moment: both leave, both step down, demote each other, remove each other, or one
    // leaves while the other steps down. Exactly one request goes through, the other is FORBIDDEN, and the team
    // (which has a third member) keeps an owner.
    [Theory]
    [InlineData("leave", "leave")]
    [InlineData("step-down", "step-down")]
    [InlineData("demote-other", "demote-other")]
    [InlineData("remove-other", "remove-other")]
    [InlineData("leave", "step-down")]
    public async Task TwoOwnersAtOnce_ExactlyOneGoesThrough_TheTeamKeepsAnOwner(string first, string second)
    {
        for (var round = 0; round < 5; round++)
        {
            var (alice, bob, carol, teamId) = await TeamOfThreeAsync();
            await alice.CallAsync(HttpMethod.Put, $"v1/teams/{teamId}/members/{bob.UserId}/role", new { role = "owner" });

            var answers = await Task.WhenAll(Act(teamId, alice, bob, first), Act(teamId, bob, alice, second));
            var owners = (await carol.CallAsync(HttpMethod.Get, $"v1/teams/{teamId}/members?limit=10")).GetProperty("members").EnumerateArray()
                .Count(m => m.GetProperty("role").GetString() == "owner");

            Assert.Equal([HttpStatusCode.NoContent, HttpStatusCode.Forbidden], answers.Select(a => a.StatusCode).Order());
            Assert.Equal(1, owners);
        }

        static Task<HttpResponseMessage> Act(Guid teamId, TestUser actor, TestUser other, string what) => Task.Run(() => what switch
        {
            "leave" => actor.SendAsync(HttpMethod.Post, $"v1/teams/{teamId}/leave"),
            "step-down" => actor.SendAsync(HttpMethod.Put, $"v1/teams/{teamId}/members/{actor.UserId}/role", new { role = "member" }),
            "demote-other" => actor.SendAsync(HttpMethod.Put, $"v1/teams/{teamId}/members/{other.UserId}/role", new { role = "member" }),
            _ => actor.SendAsync(HttpMethod.Delete, $"v1/teams/{teamId}/members/{other.UserId}"),
        });
    }

    [Fact]
    public async Task RemovingAMember_TellsEveryDeviceAtOnce_AndTheirSendsStop()
    {
        var (alice, bob, carol, teamId) = await TeamOfThreeAsync();
        var general = (await alice.CallAsync(HttpMethod.Get, $"v1/teams/{teamId}/channels")).GetProperty("channels").EnumerateArray().Single().GetProperty("conversation_id").GetGuid();
        var random = (await alice.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "random" })).GetProperty("conversation_id").GetGuid();
        await carol.CallAsync(HttpMethod.Post, $"v1/channels/{random}/join");
        await using var carolPhone = await RawClient.ConnectAuthenticatedAsync(carol);
        await using var bobLaptop = await RawClient.ConnectAuthenticatedAsync(bob);

        // A member cannot remove anyone; an admin cannot remove an owner.
        await AssertProblemAsync(await carol.SendAsync(HttpMethod.Delete, $"v1/teams/{teamId}/members/{bob.UserId}"), HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        await alice.CallAsync(HttpMethod.Put, $"v1/teams/{teamId}/members/{bob.UserId}/role", new { role = "admin" });
        await AssertProblemAsync(await bob.SendAsync(HttpMethod.Delete, $"v1/teams/{teamId}/members/{alice.UserId}"), HttpStatusCode.Forbidden, 4003, "FORBIDDEN");

        Assert.Equal(HttpStatusCode.NoContent, (await bob.SendAsync(HttpMethod.Delete, $"v1/teams/{teamId}/members/{carol.UserId}")).StatusCode);

        // Carol's device hears MEMBER_LEFT in both channels, naming her; so does a remaining member. (The joins
        // made just before these connections authenticated may still reach them live: passed over.)
        var left = new[] { await ExpectLeftAsync(carolPhone), await ExpectLeftAsync(carolPhone) };
        Assert.All(left, e => Assert.Equal((EventKind.MemberLeft, carol.UserId, bob.UserId), (e.Kind, e.SubjectId, e.SenderUserId)));
        Assert.Equal([general, random], left.Select(e => e.ConversationId).Order());
        var seenByBob = await ExpectLeftAsync(bobLaptop);
        Assert.Equal((EventKind.MemberLeft, carol.UserId), (seenByBob.Kind, seenByBob.SubjectId));

        await carolPhone.SendAsync(new Send(carolPhone.NextRequestId(), general, Guid.CreateVersion7(), "text/plain", "still here?"u8.ToArray()));
        Assert.Equal(ErrorCode.NotAMember, (await carolPhone.ExpectErrorAsync()).Code);
        await AssertProblemAsync(await bob.SendAsync(HttpMethod.Delete, $"v1/teams/{teamId}/members/{carol.UserId}"), HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        await AssertProblemAsync(await bob.SendAsync(HttpMethod.Delete, $"v1/teams/{teamId}/members/{bob.UserId}"), HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
    }

    [Fact]
    public async Task ADirectMessage_NeedsASharedTeamToSend_ButItsHistoryStaysReadable()
    {
        var (alice, bob, _, teamId) = await TeamOfThreeAsync();
        var dm = await alice.OpenDmAsync(bob.Username);
        await using var aliceTcp = await RawClient.ConnectAuthenticatedAsync(alice);
        await aliceTcp.SendTextAsync(dm, "before");

        await bob.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/leave");
        await aliceTcp.SendAsync(new Send(aliceTcp.NextRequestId(), dm, Guid.CreateVersion7(), "text/plain", "after"u8.ToArray()));
        var refused = await ExpectErrorSkippingEventsAsync(aliceTcp);
        await using var bobTcp = await RawClient.ConnectAuthenticatedAsync(bob);
        await bobTcp.SendAsync(new History(bobTcp.NextRequestId(), dm, 0, HistoryDirection.After, 50));
        var history = await bobTcp.ExpectAsync<HistoryPage>();

        Assert.Equal(ErrorCode.Forbidden, refused.Code);
        Assert.Contains(history.Events, e => e.Kind == EventKind.Message && System.Text.Encoding.UTF8.GetString(e.Content.Span) == "before");
    }

    [Fact]
    public async Task Caps_OnTeamsOwned_ChannelsPerTeam_AndActiveInvites_AreQuotaExceeded()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:MaxTeamsOwnedPerUser"] = "1",
            ["Limits:MaxChannelsPerTeam"] = "2",
            ["Limits:MaxActiveInvitesPerTeam"] = "1",
        });
        var alice = await server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();

        var secondTeam = await alice.SendAsync(HttpMethod.Post, "v1/teams", new { name = "Another" });
        await alice.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "second" });
        var thirdChannel = await alice.SendAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "third" });
        var invite = await alice.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/invites", new { });
        var secondInvite = await alice.SendAsync(HttpMethod.Post, $"v1/teams/{teamId}/invites", new { });
        await alice.CallAsync(HttpMethod.Delete, $"v1/teams/{teamId}/invites/{invite.GetProperty("invite_id").GetGuid()}");
        var afterRevoking = await alice.SendAsync(HttpMethod.Post, $"v1/teams/{teamId}/invites", new { });

        await AssertProblemAsync(secondTeam, HttpStatusCode.Forbidden, 4011, "QUOTA_EXCEEDED");
        await AssertProblemAsync(thirdChannel, HttpStatusCode.Forbidden, 4011, "QUOTA_EXCEEDED");
        await AssertProblemAsync(secondInvite, HttpStatusCode.Forbidden, 4011, "QUOTA_EXCEEDED");
        Assert.Equal(HttpStatusCode.Created, afterRevoking.StatusCode);
    }

    // Team-mates cannot grow someone's list of group DMs without bound: a new group naming anyone already in the cap's
    // worth is refused, and so is one more from someone who created their share (group DMs cannot be left, so one
    // person alone must not be able to put others at the cap). The answer tells the caller only about themselves.
    // Groups that exist, and DMs, still open.
    [Fact]
    public async Task GroupConversations_CappedPerPersonAndPerCreator_NewGroupsOnly()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:MaxGroupConversationsPerUser"] = "3",
            ["Limits:MaxGroupConversationsCreatedPerUser"] = "2",
        });
        var alice = await server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();
        var code = await alice.InviteAsync(teamId);
        var (bob, carol, dave, erin) = (await server.SignupAsync(), await server.SignupAsync(), await server.SignupAsync(), await server.SignupAsync());
        foreach (var user in new[] { bob, carol, dave, erin })
        {
            await user.JoinAsync(code);
        }

        var first = await alice.OpenDmAsync(bob.Username, carol.Username);
        await alice.OpenDmAsync(bob.Username, dave.Username);
        await carol.OpenDmAsync(bob.Username, erin.Username);

        var byDave = await dave.SendAsync(HttpMethod.Post, "v1/dms", new { users = new[] { bob.Username, erin.Username } });
        var byBob = await bob.SendAsync(HttpMethod.Post, "v1/dms", new { users = new[] { carol.Username, dave.Username } });
        var thirdByAlice = await alice.SendAsync(HttpMethod.Post, "v1/dms", new { users = new[] { dave.Username, erin.Username } });
        var again = await carol.OpenDmAsync(alice.Username, bob.Username);
        var dm = await carol.OpenDmAsync(bob.Username);
        var withoutBob = await erin.OpenDmAsync(dave.Username, carol.Username);

        var refusedDave = await AssertProblemAsync(byDave, HttpStatusCode.Forbidden, 4011, "QUOTA_EXCEEDED");
        var refusedBob = await AssertProblemAsync(byBob, HttpStatusCode.Forbidden, 4011, "QUOTA_EXCEEDED");
        var refusedAlice = await AssertProblemAsync(thirdByAlice, HttpStatusCode.Forbidden, 4011, "QUOTA_EXCEEDED");
        Assert.StartsWith("Someone in this group is in 3 group conversations", refusedDave.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("You are in 3 group conversations", refusedBob.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("You have created 2 group conversations", refusedAlice.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(first, again);
        Assert.NotEqual(Guid.Empty, dm);
        Assert.NotEqual(Guid.Empty, withoutBob);
    }

    [Fact]
    public async Task Lists_ArePaged_WithACursor()
    {
        var alice = await Server.SignupAsync();
        var made = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            made.Add((await alice.CreateTeamAsync($"Team {i}")).TeamId);
        }

        var first = await alice.CallAsync(HttpMethod.Get, "v1/teams?limit=2");
        var cursor = first.GetProperty("next_cursor").GetString();
        var second = await alice.CallAsync(HttpMethod.Get, $"v1/teams?limit=2&cursor={cursor}");
        var ids = first.GetProperty("teams").EnumerateArray().Concat(second.GetProperty("teams").EnumerateArray()).Select(t => t.GetProperty("team_id").GetGuid()).ToList();

        Assert.Equal(2, first.GetProperty("teams").GetArrayLength());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, second.GetProperty("next_cursor").ValueKind);
        Assert.Equal(made.Order(), ids);
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Get, "v1/teams?cursor=not-a-cursor"), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Get, "v1/conversations?limit=0"), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Get, "v1/sessions?limit=501"), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }

    [Fact]
    public async Task APrivateChannelsName_DoesNotLeakThroughCreate()
    {
        var (alice, bob, _, teamId) = await TeamOfThreeAsync();
        await bob.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "plans", @private = true });

        var created = await alice.SendAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "plans" });
        var duplicate = await alice.SendAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "plans" });

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        await AssertProblemAsync(duplicate, HttpStatusCode.Conflict, 4004, "ALREADY_EXISTS");
    }

    // The next MEMBER_LEFT; fails on any message, the only other kind these tests could see.
    private static async Task<ConversationEvent> ExpectLeftAsync(RawClient client)
    {
        while (true)
        {
            var e = await client.ExpectEventAsync();
            Assert.NotEqual(EventKind.Message, e.Kind);
            if (e.Kind == EventKind.MemberLeft)
            {
                return e;
            }
        }
    }

    private static async Task<ErrorFrame> ExpectErrorSkippingEventsAsync(RawClient client)
    {
        while (true)
        {
            var frame = await client.ReadFrameAsync() ?? throw new InvalidOperationException("closed");
            if (frame.Header.OpcodeValue == (uint)Opcode.Error)
            {
                var reader = new MessagePack.MessagePackReader(frame.Body);
                var header = FrameCodec.ReadHeader(ref reader);
                return FrameCodec.ReadBody<ErrorFrame>(ref reader, header, ProtocolLimits.Default);
            }
        }
    }

    [Fact]
    public async Task ChannelMembersAndLeave_OnlyForThoseWhoMaySeeTheChannel()
    {
        var (alice, bob, carol, teamId) = await TeamOfThreeAsync();
        var stranger = await Server.SignupAsync();
        var secret = (await alice.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "secret", @private = true })).GetProperty("conversation_id").GetGuid();
        var lounge = (await alice.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "lounge" })).GetProperty("conversation_id").GetGuid();
        await alice.CallAsync(HttpMethod.Post, $"v1/channels/{secret}/members", new { user_id = bob.UserId.ToString() });

        var secretMembers = await bob.CallAsync(HttpMethod.Get, $"v1/channels/{secret}/members");
        var loungeForCarol = await carol.CallAsync(HttpMethod.Get, $"v1/channels/{lounge}/members?limit=1");

        Assert.Equal(2, secretMembers.GetProperty("members").GetArrayLength());
        Assert.Equal(alice.UserId, Assert.Single(loungeForCarol.GetProperty("members").EnumerateArray()).GetProperty("user_id").GetGuid());
        await AssertProblemAsync(await carol.SendAsync(HttpMethod.Get, $"v1/channels/{secret}/members"), HttpStatusCode.Forbidden, 4001, "NOT_A_MEMBER");
        await AssertProblemAsync(await stranger.SendAsync(HttpMethod.Get, $"v1/channels/{lounge}/members"), HttpStatusCode.Forbidden, 4001, "NOT_A_MEMBER");
        await AssertProblemAsync(await carol.SendAsync(HttpMethod.Post, $"v1/channels/{secret}/leave"), HttpStatusCode.Forbidden, 4001, "NOT_A_MEMBER");
        Assert.Equal(HttpStatusCode.NoContent, (await bob.SendAsync(HttpMethod.Post, $"v1/channels/{secret}/leave")).StatusCode);
        await AssertProblemAsync(await bob.SendAsync(HttpMethod.Get, $"v1/channels/{secret}/members"), HttpStatusCode.Forbidden, 4001, "NOT_A_MEMBER");
    }

    [Fact]
    public async Task ArchivedChannel_IsReadableNotWritable_UntilUnarchived_RenameAndRightsChecked()
    {
        var (alice, bob, carol, teamId) = await TeamOfThreeAsync();
        var channel = (await bob.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "launch" })).GetProperty("conversation_id").GetGuid();
        await carol.CallAsync(HttpMethod.Post, $"v1/channels/{channel}/join");
        var general = (await alice.CallAsync(HttpMethod.Get, $"v1/teams/{teamId}/channels")).GetProperty("channels").EnumerateArray()
            .Single(c => c.GetProperty("name").GetString() == "general").GetProperty("conversation_id").GetGuid();
        await using var carolClient = await RawClient.ConnectAuthenticatedAsync(carol);
        await carolClient.SendTextAsync(channel, "before");

        await AssertProblemAsync(await carol.SendAsync(HttpMethod.Patch, $"v1/channels/{channel}", new { archived = true }), HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Patch, $"v1/channels/{general}", new { archived = true }), HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        await AssertProblemAsync(await bob.SendAsync(HttpMethod.Patch, $"v1/channels/{channel}", new { name = "general" }), HttpStatusCode.Conflict, 4004, "ALREADY_EXISTS");
        var renamed = await bob.CallAsync(HttpMethod.Patch, $"v1/channels/{channel}", new { name = "launched" });
        var archived = await alice.CallAsync(HttpMethod.Patch, $"v1/channels/{channel}", new { archived = true });

        await carolClient.SendAsync(new Send(77, channel, Guid.CreateVersion7(), "text/plain", "after"u8.ToArray()));
        var refused = await carolClient.ExpectErrorAsync();
        await carolClient.SendAsync(new History(78, channel, 0, HistoryDirection.After, 50));
        var page = await carolClient.ExpectAsync<HistoryPage>();
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Post, $"v1/channels/{channel}/join"), HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        await AssertProblemAsync(await bob.SendAsync(HttpMethod.Post, $"v1/channels/{channel}/members", new { user_id = alice.UserId }), HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        var listed = (await carol.CallAsync(HttpMethod.Get, $"v1/teams/{teamId}/channels")).GetProperty("channels").EnumerateArray().Single(c => c.GetProperty("conversation_id").GetGuid() == channel);
        await alice.CallAsync(HttpMethod.Patch, $"v1/channels/{channel}", new { archived = false });
        var afterUnarchive = await carolClient.SendTextAsync(channel, "back");

        Assert.Equal("launched", renamed.GetProperty("name").GetString());
        Assert.True(archived.GetProperty("archived").GetBoolean());
        Assert.Equal((77u, ErrorCode.Forbidden), (refused.RequestId, refused.Code));
        Assert.Contains("archived", refused.Message, StringComparison.Ordinal);
        Assert.Contains(page.Events, e => e.Kind == EventKind.Message);
        Assert.True(listed.GetProperty("archived").GetBoolean());
        Assert.NotEqual(0UL, afterUnarchive.Seq);
    }

    // Regression: an owner outside a private channel got NOT_A_MEMBER and a plain member FORBIDDEN, so the
    // answer differed by role; whoever is outside it now gets the one answer.
    [Fact]
    public async Task PrivateChannel_RenameOrArchiveFromOutside_NotAMember_WhateverTheRole()
    {
        var (alice, bob, carol, teamId) = await TeamOfThreeAsync();
        var secret = (await bob.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "secret", @private = true })).GetProperty("conversation_id").GetGuid();

        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Patch, $"v1/channels/{secret}", new { archived = true }), HttpStatusCode.Forbidden, 4001, "NOT_A_MEMBER");
        await AssertProblemAsync(await carol.SendAsync(HttpMethod.Patch, $"v1/channels/{secret}", new { name = "mine" }), HttpStatusCode.Forbidden, 4001, "NOT_A_MEMBER");
        Assert.True((await bob.CallAsync(HttpMethod.Patch, $"v1/channels/{secret}", new { archived = true })).GetProperty("archived").GetBoolean());
    }

    // Regression: a resend whose SEND_ACK was lost got FORBIDDEN once the channel was archived, though the message
    // was stored and delivered (protocol.md §4.8 step 7).
    [Fact]
    public async Task ArchivedChannel_AResendOfAStoredMessage_GetsItsSeq_ANewMessageForbidden()
    {
        var (alice, bob, _, teamId) = await TeamOfThreeAsync();
        var channel = (await bob.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "wrapup" })).GetProperty("conversation_id").GetGuid();
        await using var bobClient = await RawClient.ConnectAuthenticatedAsync(bob);
        var id = Guid.CreateVersion7();
        var sent = await bobClient.SendTextAsync(channel, "last words", id);
        await alice.CallAsync(HttpMethod.Patch, $"v1/channels/{channel}", new { archived = true });

        var resent = await bobClient.SendTextAsync(channel, "last words", id);
        await bobClient.SendAsync(new Send(bobClient.NextRequestId(), channel, Guid.CreateVersion7(), "text/plain", "more"u8.ToArray()));
        var refused = await bobClient.ExpectErrorAsync();

        Assert.Equal((sent.Seq, sent.ServerTimeUnixMs), (resent.Seq, resent.ServerTimeUnixMs));
        Assert.Equal(ErrorCode.Forbidden, refused.Code);
    }

    [Fact]
    public async Task Transfer_MakesTheMemberAnOwnerAndTheOwnerAnAdmin()
    {
        var (alice, bob, carol, teamId) = await TeamOfThreeAsync();

        await AssertProblemAsync(await bob.SendAsync(HttpMethod.Post, $"v1/teams/{teamId}/transfer", new { user_id = carol.UserId.ToString() }), HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        Assert.Equal(HttpStatusCode.NoContent, (await alice.SendAsync(HttpMethod.Post, $"v1/teams/{teamId}/transfer", new { user_id = bob.UserId.ToString() })).StatusCode);
        var roles = (await bob.CallAsync(HttpMethod.Get, $"v1/teams/{teamId}/members")).GetProperty("members").EnumerateArray()
            .ToDictionary(m => m.GetProperty("user_id").GetGuid(), m => m.GetProperty("role").GetString());

        Assert.Equal(("owner", "admin", "member"), (roles[bob.UserId], roles[alice.UserId], roles[carol.UserId]));
    }

    [Fact]
    public async Task DeleteTeam_ByAnOwner_EveryoneLeavesEveryChannelAtOnce_OthersRefused()
    {
        var (alice, bob, _, teamId) = await TeamOfThreeAsync();
        var general = (await alice.CallAsync(HttpMethod.Get, $"v1/teams/{teamId}/channels")).GetProperty("channels").EnumerateArray().Single().GetProperty("conversation_id").GetGuid();
        await using var bobClient = await RawClient.ConnectAuthenticatedAsync(bob);

        await AssertProblemAsync(await bob.SendAsync(HttpMethod.Delete, $"v1/teams/{teamId}"), HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        Assert.Equal(HttpStatusCode.NoContent, (await alice.SendAsync(HttpMethod.Delete, $"v1/teams/{teamId}")).StatusCode);

        // Bob's device hears that he left #general, and can neither send there nor find the team.
        ConversationEvent left;
        do
        {
            left = await bobClient.ExpectEventAsync();
        }
        while (left.Kind != EventKind.MemberLeft || left.SubjectId != bob.UserId);

        Assert.Equal(general, left.ConversationId);
        await bobClient.SendAsync(new Send(5, general, Guid.CreateVersion7(), "text/plain", "anyone?"u8.ToArray()));
        Assert.Equal(ErrorCode.NotAMember, (await bobClient.ExpectErrorAsync()).Code);
        Assert.Equal(0, (await bob.CallAsync(HttpMethod.Get, "v1/teams")).GetProperty("teams").GetArrayLength());
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Get, $"v1/teams/{teamId}/channels"), HttpStatusCode.Forbidden, 4001, "NOT_A_MEMBER");
    }

    [Fact]
    public async Task Users_ByIds_NamesOnlyMeAndMyTeammates()
    {
        var (alice, bob, _, _) = await TeamOfThreeAsync();
        var stranger = await Server.SignupAsync();

        var users = await alice.CallAsync(HttpMethod.Get, $"v1/users?ids={alice.UserId},{bob.UserId},{stranger.UserId},{Guid.CreateVersion7()}");

        Assert.Equal(
            new[] { (alice.UserId, alice.Username), (bob.UserId, bob.Username) },
            users.GetProperty("users").EnumerateArray().Select(u => (u.GetProperty("user_id").GetGuid(), u.GetProperty("username").GetString()!)));
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Get, "v1/users"), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Get, "v1/users?ids=nope"), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }

    [Fact]
    public async Task OwnerlessTeam_AsARaceLeavesIt_GetsAnOwnerBack_AtTheNextJoinOrLeave()
    {
        var directory = Server.Server.App.Services.GetRequiredService<ChatWire.Storage.Directory.IDirectoryStore>();

        // What a last owner leaving, alone, as someone joins leaves behind: members and no owner. Made here with the
        // store's own step, since the race itself cannot be timed from outside.
        // Carol, an admin, is preferred to Bob, who joined before her.
        var (alice, bob, carol, joined) = await TeamOfThreeAsync();
        var dave = await Server.SignupAsync();
        var invite = await alice.InviteAsync(joined);
        await alice.CallAsync(HttpMethod.Put, $"v1/teams/{joined}/members/{carol.UserId}/role", new { role = "admin" });
        await directory.RemoveTeamMemberAsync(joined, alice.UserId);
        Assert.Equal((2, 0), await directory.CountTeamMembersAsync(joined));

        await dave.JoinAsync(invite);

        Assert.Equal((3, 1), await directory.CountTeamMembersAsync(joined));
        Assert.Equal(ChatWire.Storage.Directory.TeamRole.Owner, (await directory.GetTeamMembershipAsync(joined, carol.UserId))!.Role);
        Assert.Equal(ChatWire.Storage.Directory.TeamRole.Member, (await directory.GetTeamMembershipAsync(joined, bob.UserId))!.Role);

        var (erin, frank, grace, left) = await TeamOfThreeAsync();
        await directory.RemoveTeamMemberAsync(left, erin.UserId);

        Assert.Equal(HttpStatusCode.NoContent, (await grace.SendAsync(HttpMethod.Post, $"v1/teams/{left}/leave")).StatusCode);

        var team = (await frank.CallAsync(HttpMethod.Get, "v1/teams")).GetProperty("teams").EnumerateArray().Single(t => t.GetProperty("team_id").GetGuid() == left);
        Assert.Equal("owner", team.GetProperty("role").GetString());
        Assert.Equal((1, 1), await directory.CountTeamMembersAsync(left));
    }

    private async Task<(TestUser Alice, TestUser Bob, TestUser Carol, Guid TeamId)> TeamOfThreeAsync()
    {
        var alice = await Server.SignupAsync();
        var bob = await Server.SignupAsync();
        var carol = await Server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        await carol.JoinAsync(await alice.InviteAsync(teamId));
        return (alice, bob, carol, teamId);
    }
}
