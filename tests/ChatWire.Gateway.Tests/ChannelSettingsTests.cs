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
        // Between them, the channel_updated event of turning it off.
        Assert.Equal(ownerTwo.Seq + 2, afterOff.Seq);
    }

    [Fact]
    public async Task SlowMode_TheTurnEnds_AndARefusedMessageIsTakenWhenRetriedAfterTheWait()
    {
        // Five seconds: the second SEND must come within the turn, after the first one's commit, on a busy machine too.
        var (bob, quick) = await SlowChannelWithBobAsync("quick", 5);
        await using var bobs = await RawClient.ConnectAuthenticatedAsync(bob);

        var first = await bobs.SendTextAsync(quick, "one");
        var secondId = Guid.CreateVersion7();
        await bobs.SendAsync(new Send(60, quick, secondId, "text/plain", "two"u8.ToArray()));
        var refused = await bobs.ExpectErrorAsync();
        // The delay in whole milliseconds may end a fraction of one early: a little more.
        await Task.Delay(TimeSpan.FromMilliseconds(refused.RetryAfterMs + 50));
        var second = await bobs.SendTextAsync(quick, "two", secondId);

        Assert.Equal((60u, ErrorCode.RateLimited), (refused.RequestId, refused.Code));
        Assert.InRange(refused.RetryAfterMs, 1u, 5_000u);
        Assert.Equal(first.Seq + 1, second.Seq);
    }

    // The turn is spent only by a message that is stored: one the store refuses (a reply to no message) leaves it for
    // the next, which is taken at once.
    [Fact]
    public async Task SlowMode_AMessageNotStored_DoesNotSpendTheTurn()
    {
        var (bob, quiet) = await SlowChannelWithBobAsync("quiet", 600);
        await using var bobs = await RawClient.ConnectAuthenticatedAsync(bob);

        await bobs.SendAsync(new Send(70, quiet, Guid.CreateVersion7(), "text/plain", "a reply to nothing"u8.ToArray()) { ThreadRootId = Guid.CreateVersion7() });
        var orphan = await bobs.ExpectErrorAsync();
        var stored = await bobs.SendTextAsync(quiet, "the one message of the period");
        await bobs.SendAsync(new Send(71, quiet, Guid.CreateVersion7(), "text/plain", "and one more"u8.ToArray()));
        var held = await bobs.ExpectErrorAsync();

        Assert.Equal((70u, ErrorCode.NotFound), (orphan.RequestId, orphan.Code));
        Assert.True(stored.Seq > 0);
        Assert.Equal((71u, ErrorCode.RateLimited), (held.RequestId, held.Code));
        Assert.InRange(held.RetryAfterMs, 590_000u, 600_000u);
    }

    // A resend of a stored message is answered its seq without taking the turn, even for the moment the store takes to
    // tell it is stored: the member's new message, written right behind it, is taken (it was refused for the whole
    // period, found by a hostile-traffic review).
    [Fact]
    public async Task SlowMode_AResendPipelinedWithANewMessage_TheNewOneIsTaken()
    {
        var (alice, bob, quiet) = await ChannelWithBobAsync("resends");
        await using var bobs = await RawClient.ConnectAuthenticatedAsync(bob);
        var first = Guid.CreateVersion7();
        var before = await bobs.SendTextAsync(quiet, "before slow mode", first);
        await alice.CallAsync(HttpMethod.Patch, $"v1/channels/{quiet}", new { slow_mode_seconds = 21_600 });

        var resend = FrameCodec.ToArray(new Send(80, quiet, first, "text/plain", "before slow mode"u8.ToArray()));
        var fresh = FrameCodec.ToArray(new Send(81, quiet, Guid.CreateVersion7(), "text/plain", "the one message of the period"u8.ToArray()));
        await bobs.SendRawAsync(resend.Concat(fresh).ToArray());
        var acks = new[] { await bobs.ExpectAsync<SendAck>(), await bobs.ExpectAsync<SendAck>() }.OrderBy(a => a.RequestId).ToArray();

        Assert.Equal((80u, before.Seq), (acks[0].RequestId, acks[0].Seq));
        Assert.Equal(81u, acks[1].RequestId);
        Assert.True(acks[1].Seq > before.Seq);
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
        var blankLetters = await alice.SendAsync(HttpMethod.Patch, $"v1/channels/{general}", new { topic = "\u3164\u2800 \u115F" });
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
        await AssertProblemAsync(blankLetters, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(twoLines, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        Assert.Equal("Deploys and incidents", keptByOtherChanges);
        Assert.Equal("Caf\u00E9", nfc.GetProperty("topic").GetString());
        Assert.Equal("Caf\u00E9", listed.GetProperty("topic").GetString());
        Assert.Equal(string.Empty, cleared.GetProperty("topic").GetString());
        Assert.Equal(5, cleared.GetProperty("slow_mode_seconds").GetInt32());
    }

    // docs/protocol.md §4.10, kind 8: each PATCH stores one channel_updated event, pushed to the members' connected
    // devices in order with the messages, naming what it set and holding the settings after it; a refused one stores
    // none.
    [Fact]
    public async Task ChannelUpdated_PushedToMembers_WithTheSettingsAfterTheChange_NoneWhenRefused()
    {
        var (alice, bob, carol, teamId, _) = await TeamOfThreeAsync();
        var design = await CreateChannelAsync(carol, teamId, "design");
        await bob.CallAsync(HttpMethod.Post, $"v1/channels/{design}/join");
        await using var bobs = await RawClient.ConnectAuthenticatedAsync(bob);
        var before = await bobs.SendTextAsync(design, "before");

        await carol.CallAsync(HttpMethod.Patch, $"v1/channels/{design}", new { topic = "Q3 launch", slow_mode_seconds = 30 });
        var both = await bobs.ExpectEventInAsync(design, before.Seq);
        await carol.CallAsync(HttpMethod.Patch, $"v1/channels/{design}", new { topic = "Q3 launch" });
        var again = await bobs.ExpectEventInAsync(design, both.Seq);
        var refused = await bob.SendAsync(HttpMethod.Patch, $"v1/channels/{design}", new { topic = "mine" });
        await alice.CallAsync(HttpMethod.Patch, $"v1/channels/{design}", new { name = "design-v2", archived = true });
        var renamed = await bobs.ExpectEventInAsync(design, again.Seq);
        await alice.CallAsync(HttpMethod.Patch, $"v1/channels/{design}", new { archived = false, topic = "" });
        var unarchived = await bobs.ExpectEventInAsync(design, renamed.Seq);
        var after = await bobs.SendTextAsync(design, "after");

        Assert.Equal((EventKind.ChannelUpdated, before.Seq + 1, carol.UserId, Guid.Empty), (both.Kind, both.Seq, both.SenderUserId, both.SubjectId));
        Assert.Equal(string.Empty, both.ContentType);
        Assert.True(ChannelUpdate.TryDecode(both.Content, out var first));
        Assert.Equal(new ChannelUpdate(ChannelChanges.Topic | ChannelChanges.SlowMode, "design", "Q3 launch", 30, 0), first);

        // Setting the topic it has is announced too (as a chat app shows "set the topic" each time); Bob's refused PATCH
        // stored nothing: the rename is the next seq.
        Assert.True(ChannelUpdate.TryDecode(again.Content, out var repeated));
        Assert.Equal((both.Seq + 1, ChannelChanges.Topic, "Q3 launch", 30u), (again.Seq, repeated.Changed, repeated.Topic, repeated.SlowModeSeconds));
        await AssertProblemAsync(refused, HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        Assert.Equal((EventKind.ChannelUpdated, again.Seq + 1, alice.UserId), (renamed.Kind, renamed.Seq, renamed.SenderUserId));
        Assert.True(ChannelUpdate.TryDecode(renamed.Content, out var second));
        Assert.Equal((ChannelChanges.Name | ChannelChanges.Archived, "design-v2", "Q3 launch", 30u), (second.Changed, second.Name, second.Topic, second.SlowModeSeconds));
        Assert.InRange(second.ArchivedAtUnixMs, renamed.ServerTimeUnixMs - 60_000, renamed.ServerTimeUnixMs);

        Assert.True(ChannelUpdate.TryDecode(unarchived.Content, out var third));
        Assert.Equal(new ChannelUpdate(ChannelChanges.Topic | ChannelChanges.Archived, "design-v2", string.Empty, 30, 0), third);
        Assert.Equal(unarchived.Seq + 1, after.Seq);
    }

    // Limits:ChannelChangesPerMinutePerChannel: a channel's settings change at most 10 times at once, then 20 a minute;
    // past that a PATCH is 429 with Retry-After and changes nothing. Refused callers do not spend the budget, and
    // each channel has its own.
    [Fact]
    public async Task Changes_PastTheChannelsBudget_AreRefused_NothingChanged_OtherChannelsFree()
    {
        var (alice, bob, _, teamId, _) = await TeamOfThreeAsync();
        var channel = await CreateChannelAsync(alice, teamId, "busy");
        var other = await CreateChannelAsync(alice, teamId, "calm");
        var byMember = new List<HttpResponseMessage>();
        for (var i = 0; i < 12; i++)
        {
            byMember.Add(await bob.SendAsync(HttpMethod.Patch, $"v1/channels/{channel}", new { topic = $"bob {i}" }));
        }

        for (var i = 0; i < 10; i++)
        {
            await alice.CallAsync(HttpMethod.Patch, $"v1/channels/{channel}", new { topic = $"topic {i}" });
        }

        var refused = await alice.SendAsync(HttpMethod.Patch, $"v1/channels/{channel}", new { topic = "one too many", slow_mode_seconds = 30 });
        var elsewhere = await alice.CallAsync(HttpMethod.Patch, $"v1/channels/{other}", new { topic = "still free" });
        var listed = await ChannelAsync(alice, teamId, channel);

        foreach (var response in byMember)
        {
            await AssertProblemAsync(response, HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        }

        await AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, 3001, "RATE_LIMITED");
        Assert.InRange(refused.Headers.RetryAfter?.Delta?.TotalSeconds ?? 0, 1, 3);
        Assert.Equal("still free", elsewhere.GetProperty("topic").GetString());
        Assert.Equal("topic 9", listed.GetProperty("topic").GetString());
        Assert.Equal(0, listed.GetProperty("slow_mode_seconds").GetInt32());
    }

    private static StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    private static async Task<Guid> CreateChannelAsync(TestUser creator, Guid teamId, string name) =>
        (await creator.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name })).GetProperty("conversation_id").GetGuid();

    private static async Task<JsonElement> ChannelAsync(TestUser reader, Guid teamId, Guid channel) =>
        (await reader.CallAsync(HttpMethod.Get, $"v1/teams/{teamId}/channels")).GetProperty("channels").EnumerateArray()
            .Single(c => c.GetProperty("conversation_id").GetGuid() == channel);

    // A channel Alice created with this slow mode, Bob (a member of the team, not an admin) in it.
    private async Task<(TestUser Bob, Guid Channel)> SlowChannelWithBobAsync(string name, int seconds)
    {
        var (alice, bob, channel) = await ChannelWithBobAsync(name);
        await alice.CallAsync(HttpMethod.Patch, $"v1/channels/{channel}", new { slow_mode_seconds = seconds });
        return (bob, channel);
    }

    // A channel Alice created, Bob (a member of the team, not an admin) in it.
    private async Task<(TestUser Alice, TestUser Bob, Guid Channel)> ChannelWithBobAsync(string name)
    {
        var (alice, bob, _, teamId, _) = await TeamOfThreeAsync();
        var channel = await CreateChannelAsync(alice, teamId, name);
        await bob.CallAsync(HttpMethod.Post, $"v1/channels/{channel}/join");
        return (alice, bob, channel);
    }

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
