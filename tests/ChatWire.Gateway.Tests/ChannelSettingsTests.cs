using System.Net;
using System.Text.Json;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Storage.Directory;
using ChatWire.Testing;
using static ChatWire.Gateway.Tests.HttpApiTests;

namespace ChatWire.Gateway.Tests;

// docs/http-api.md, PATCH /v1/channels/{id}: slow mode and the topic. In slow mode each member may SEND one message
// per slow_mode_seconds in the channel, over all their devices; a SEND sooner is RATE_LIMITED with the time left. The
// channel's creator and the team's owners and admins are not held by it; a resend of a stored message gets its seq.
public sealed class ChannelSettingsTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private TestServer Server => fixture.Server;

    [Fact]
    public async Task SlowMode_HoldsEachMemberToOneMessagePerPeriod_NotThoseWhoMaySetIt()
    {
        var (alice, bob, carol, teamId, general) = await TeamOfThreeAsync();
        var random = await CreateChannelAsync(carol, teamId, "random");
        await bob.CallAsync(HttpMethod.Post, $"v1/channels/{random}/join");
        await alice.CallAsync(HttpMethod.Post, $"v1/channels/{random}/join");

        var refusedToBob = await bob.SendAsync(HttpMethod.Patch, $"v1/channels/{random}", new { slow_mode_seconds = 60 });
        var set = await carol.CallAsync(HttpMethod.Patch, $"v1/channels/{random}", new { slow_mode_seconds = 60 });
        var listed = await ChannelAsync(bob, teamId, random);

        await using var bobs = await RawClient.ConnectAuthenticatedAsync(bob);
        await using var bobsPhone = await RawClient.ConnectAuthenticatedAsync(await Server.LoginAsync(bob));
        await using var carols = await RawClient.ConnectAuthenticatedAsync(carol);
        await using var alices = await RawClient.ConnectAuthenticatedAsync(alice);

        var firstId = Guid.CreateVersion7();
        var first = await bobs.SendTextAsync(random, "first", firstId);
        await bobsPhone.SendAsync(new Send(50, random, Guid.CreateVersion7(), "text/plain", "too soon"u8.ToArray()));
        var tooSoon = await bobsPhone.ExpectErrorAsync();
        var resent = await bobs.SendTextAsync(random, "first", firstId);
        var elsewhere = await bobs.SendTextAsync(general, "general is not slow");

        // The creator and the owner send as they like.
        await carols.SendTextAsync(random, "creator one");
        await carols.SendTextAsync(random, "creator two");
        await alices.SendTextAsync(random, "owner one");
        var ownerTwo = await alices.SendTextAsync(random, "owner two");

        // Off again: Bob sends at once.
        var off = await alice.CallAsync(HttpMethod.Patch, $"v1/channels/{random}", new { slow_mode_seconds = 0 });
        var afterOff = await bobs.SendTextAsync(random, "free again");

        await AssertProblemAsync(refusedToBob, HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        Assert.Equal(60, set.GetProperty("slow_mode_seconds").GetInt32());
        Assert.Equal(60, listed.GetProperty("slow_mode_seconds").GetInt32());
        Assert.Equal((50u, ErrorCode.RateLimited), (tooSoon.RequestId, tooSoon.Code));
        Assert.InRange(tooSoon.RetryAfterMs, 50_000u, 60_000u);
        Assert.Contains("slow mode", tooSoon.Message, StringComparison.Ordinal);
        Assert.Equal(first.Seq, resent.Seq);
        Assert.True(elsewhere.Seq > 0);
        Assert.Equal(first.Seq + 4, ownerTwo.Seq);
        Assert.Equal(0, off.GetProperty("slow_mode_seconds").GetInt32());
        Assert.Equal(ownerTwo.Seq + 1, afterOff.Seq);
    }

    [Fact]
    public async Task SlowMode_TheTurnEnds_AndARefusedMessageIsTakenWhenRetriedAfterTheWait()
    {
        var (alice, bob, _, teamId, _) = await TeamOfThreeAsync();
        var quick = await CreateChannelAsync(alice, teamId, "quick");
        await bob.CallAsync(HttpMethod.Post, $"v1/channels/{quick}/join");
        await alice.CallAsync(HttpMethod.Patch, $"v1/channels/{quick}", new { slow_mode_seconds = 1 });
        await using var bobs = await RawClient.ConnectAuthenticatedAsync(bob);

        var first = await bobs.SendTextAsync(quick, "one");
        var secondId = Guid.CreateVersion7();
        await bobs.SendAsync(new Send(60, quick, secondId, "text/plain", "two"u8.ToArray()));
        var refused = await bobs.ExpectErrorAsync();
        // The delay in whole milliseconds may end a fraction of one early: a little more.
        await Task.Delay(TimeSpan.FromMilliseconds(refused.RetryAfterMs + 50));
        var second = await bobs.SendTextAsync(quick, "two", secondId);

        Assert.Equal((60u, ErrorCode.RateLimited), (refused.RequestId, refused.Code));
        Assert.InRange(refused.RetryAfterMs, 1u, 1_000u);
        Assert.Equal(first.Seq + 1, second.Seq);
    }

    [Fact]
    public async Task SlowMode_OnGeneral_MayBeSet_ItsBoundsAreChecked_AndItNeedsAChange()
    {
        var (alice, _, _, teamId, general) = await TeamOfThreeAsync();

        var set = await alice.CallAsync(HttpMethod.Patch, $"v1/channels/{general}", new { slow_mode_seconds = 21_600 });
        var renamed = await alice.SendAsync(HttpMethod.Patch, $"v1/channels/{general}", new { name = "lobby", slow_mode_seconds = 5 });
        var negative = await alice.SendAsync(HttpMethod.Patch, $"v1/channels/{general}", new { slow_mode_seconds = -1 });
        var tooLong = await alice.SendAsync(HttpMethod.Patch, $"v1/channels/{general}", new { slow_mode_seconds = 21_601 });
        var nothing = await alice.SendAsync(HttpMethod.Patch, $"v1/channels/{general}", new { });
        var asString = await alice.SendAsync(HttpMethod.Patch, $"v1/channels/{general}", new { slow_mode_seconds = "30" });
        var overflow = await alice.SendRawAsync(HttpMethod.Patch, $"v1/channels/{general}", Json("{\"slow_mode_seconds\": 4294967296}"));
        var fraction = await alice.SendRawAsync(HttpMethod.Patch, $"v1/channels/{general}", Json("{\"slow_mode_seconds\": 1.5}"));
        var listed = await ChannelAsync(alice, teamId, general);

        Assert.Equal(21_600, set.GetProperty("slow_mode_seconds").GetInt32());
        await AssertProblemAsync(renamed, HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        await AssertProblemAsync(negative, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(tooLong, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(nothing, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(asString, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(overflow, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(fraction, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        Assert.Equal(21_600, listed.GetProperty("slow_mode_seconds").GetInt32());
        Assert.Equal("general", listed.GetProperty("name").GetString());
    }

    // The topic: a line people read, set by those who may set the other channel settings, on #general too.
    [Fact]
    public async Task Topic_SetByCreatorOrAdmins_Listed_CheckedAsTextPeopleRead_ClearedWhenEmpty()
    {
        var (alice, bob, carol, teamId, general) = await TeamOfThreeAsync();
        var random = await CreateChannelAsync(carol, teamId, "random");
        var longest = string.Concat(Enumerable.Repeat("🚀", ConversationRecord.MaxTopicLength));

        var byCreator = await carol.CallAsync(HttpMethod.Patch, $"v1/channels/{random}", new { topic = "  Deploys and incidents  " });
        var byMember = await bob.SendAsync(HttpMethod.Patch, $"v1/channels/{random}", new { topic = "mine now" });
        var onGeneral = await alice.CallAsync(HttpMethod.Patch, $"v1/channels/{general}", new { topic = longest });
        var tooLong = await alice.SendAsync(HttpMethod.Patch, $"v1/channels/{general}", new { topic = longest + "!" });
        var control = await alice.SendAsync(HttpMethod.Patch, $"v1/channels/{general}", new { topic = "bell\u0007" });
        var overriding = await alice.SendAsync(HttpMethod.Patch, $"v1/channels/{general}", new { topic = "abc\u202Edef" });
        var joinersOnly = await alice.SendAsync(HttpMethod.Patch, $"v1/channels/{general}", new { topic = "\u200D\u200D\u0301" });
        var twoLines = await alice.SendAsync(HttpMethod.Patch, $"v1/channels/{general}", new { topic = "one\u2028two" });
        var normalized = await carol.CallAsync(HttpMethod.Patch, $"v1/channels/{random}", new { slow_mode_seconds = 5 });
        var keptByOtherChanges = normalized.GetProperty("topic").GetString();
        var nfc = await carol.CallAsync(HttpMethod.Patch, $"v1/channels/{random}", new { topic = "Cafe\u0301" });
        var listed = await ChannelAsync(bob, teamId, random);
        var cleared = await carol.CallAsync(HttpMethod.Patch, $"v1/channels/{random}", new { topic = "   " });

        Assert.Equal("Deploys and incidents", byCreator.GetProperty("topic").GetString());
        await AssertProblemAsync(byMember, HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        Assert.Equal(longest, onGeneral.GetProperty("topic").GetString());
        await AssertProblemAsync(tooLong, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(control, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(overriding, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(joinersOnly, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(twoLines, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        Assert.Equal("Deploys and incidents", keptByOtherChanges);
        Assert.Equal("Caf\u00E9", nfc.GetProperty("topic").GetString());
        Assert.Equal("Caf\u00E9", listed.GetProperty("topic").GetString());
        Assert.Equal(string.Empty, cleared.GetProperty("topic").GetString());
        Assert.Equal(5, cleared.GetProperty("slow_mode_seconds").GetInt32());
    }

    private static StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    private static async Task<Guid> CreateChannelAsync(TestUser creator, Guid teamId, string name) =>
        (await creator.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name })).GetProperty("conversation_id").GetGuid();

    private static async Task<JsonElement> ChannelAsync(TestUser reader, Guid teamId, Guid channel) =>
        (await reader.CallAsync(HttpMethod.Get, $"v1/teams/{teamId}/channels")).GetProperty("channels").EnumerateArray()
            .Single(c => c.GetProperty("conversation_id").GetGuid() == channel);

    private async Task<(TestUser Alice, TestUser Bob, TestUser Carol, Guid TeamId, Guid General)> TeamOfThreeAsync()
    {
        var alice = await Server.SignupAsync();
        var bob = await Server.SignupAsync();
        var carol = await Server.SignupAsync();
        var (teamId, general) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        await carol.JoinAsync(await alice.InviteAsync(teamId));
        return (alice, bob, carol, teamId, general);
    }
}
