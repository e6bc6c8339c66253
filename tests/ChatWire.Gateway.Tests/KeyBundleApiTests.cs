using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Testing;
using static ChatWire.Gateway.Tests.HttpApiTests;
using static ChatWire.Gateway.Tests.Infrastructure.E2eKeys;

namespace ChatWire.Gateway.Tests;

// A conversation's key state and the sender-chain distributions checked against it (docs/http-api.md, "Key
// directory"): the missing, extra and stale lists must be exactly right, or a client cannot repair its upload.
public sealed class KeyBundleApiTests
{
    [Fact]
    public async Task State_MembersOnly_ShowsEpochRosterModeAndKeys()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, bob, carol, general) = await ChannelAsync(server);
        var stranger = await server.SignupAsync();
        using var aliceKeys = new E2eKeys(alice);
        await aliceKeys.PublishAsync(historyGeneration: 3);

        var state = await StateAsync(bob, general);
        var refused = await stranger.SendAsync(HttpMethod.Get, $"v1/conversations/{general}/e2e");

        Assert.Equal((general, "history", 1000, false), (state.GetProperty("conversation_id").GetGuid(), state.GetProperty("mode").GetString(), state.GetProperty("max_sender_chain_members").GetInt32(), state.GetProperty("epoch_secret").GetBoolean()));
        Assert.True(state.GetProperty("epoch").GetInt64() >= 1);
        var members = state.GetProperty("members").EnumerateArray().ToDictionary(m => m.GetProperty("user_id").GetGuid());
        Assert.Equal(new[] { alice.UserId, bob.UserId, carol.UserId }.Order(), members.Keys.Order());
        Assert.Equal(3, members[alice.UserId].GetProperty("history_key_generation").GetInt32());
        Assert.Equal([alice.DeviceId], members[alice.UserId].GetProperty("devices").EnumerateArray().Select(d => d.GetGuid()));
        Assert.Equal(JsonValueKind.Null, members[bob.UserId].GetProperty("history_key_generation").ValueKind);
        await AssertProblemAsync(refused, HttpStatusCode.Forbidden, 4001, "NOT_A_MEMBER");
    }

    [Fact]
    public async Task Mode_ChannelOwnersAndAdminsOnly_DmAnyMember_ChangeBumpsEpoch()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, bob, _, general) = await ChannelAsync(server);
        var dm = await bob.OpenDmAsync(alice.Username);
        var before = (await StateAsync(alice, general)).GetProperty("epoch").GetInt64();

        var byMember = await bob.SendAsync(HttpMethod.Put, $"v1/conversations/{general}/e2e/mode", new { mode = "strict" });
        var byOwner = await alice.CallAsync(HttpMethod.Put, $"v1/conversations/{general}/e2e/mode", new { mode = "strict" });
        var inDm = await bob.CallAsync(HttpMethod.Put, $"v1/conversations/{dm}/e2e/mode", new { mode = "strict" });
        var unknownMode = await alice.SendAsync(HttpMethod.Put, $"v1/conversations/{general}/e2e/mode", new { mode = "secret" });

        await AssertProblemAsync(byMember, HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        Assert.Equal("strict", byOwner.GetProperty("mode").GetString());
        Assert.True(byOwner.GetProperty("epoch").GetInt64() > before);
        Assert.Equal("strict", inDm.GetProperty("mode").GetString());
        await AssertProblemAsync(unknownMode, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }

    [Fact]
    public async Task Upload_HistoryMode_ExtraAndStaleRefusedWholly_FinalListsExactlyTheMissing()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, bob, carol, general) = await ChannelAsync(server);
        var dave = await server.SignupAsync();
        using var aliceKeys = new E2eKeys(alice);
        await aliceKeys.PublishAsync();
        using var bobKeys = new E2eKeys(bob);
        await bobKeys.PublishAsync();
        await bob.CallAsync(HttpMethod.Put, "v1/keys/history-key", bobKeys.HistoryKeyBody(2, out var bobsSecond));
        bobsSecond.Dispose();
        var epoch = (await StateAsync(alice, general)).GetProperty("epoch").GetInt64();
        var refusedChain = Guid.CreateVersion7();
        var chain = Guid.CreateVersion7();

        // carol has no history key: nobody can seal to her, so she is not required, and a seal to some generation of
        // hers is stale like one to bob's old generation.
        var wrong = await UploadAsync(alice, general, refusedChain, epoch, false, (alice.UserId, 1), (bob.UserId, 1), (dave.UserId, 1), (carol.UserId, 1));
        var nothingStored = await UploadAsync(alice, general, refusedChain, epoch, true);
        var partial = await UploadAsync(alice, general, chain, epoch, true, (alice.UserId, 1));
        var complete = await UploadAsync(alice, general, chain, epoch, true, (bob.UserId, 2));

        var mismatch = await AssertProblemAsync(wrong, HttpStatusCode.Conflict, 4013, "DISTRIBUTION_MISMATCH");
        Assert.Empty(mismatch.GetProperty("missing").EnumerateArray());
        Assert.Equal([(dave.UserId, 1)], Recipients(mismatch, "extra"));
        Assert.Equal(new[] { (bob.UserId, 1), (carol.UserId, 1) }.Order(), Recipients(mismatch, "stale").Order());
        var none = await AssertProblemAsync(nothingStored, HttpStatusCode.Conflict, 4013, "DISTRIBUTION_MISMATCH");
        Assert.Equal(new[] { (alice.UserId, 1), (bob.UserId, 2) }.Order(), Recipients(none, "missing").Order());
        var stillMissing = await AssertProblemAsync(partial, HttpStatusCode.Conflict, 4013, "DISTRIBUTION_MISMATCH");
        Assert.Equal([(bob.UserId, 2)], Recipients(stillMissing, "missing"));
        Assert.Empty(stillMissing.GetProperty("extra").EnumerateArray());
        Assert.Empty(stillMissing.GetProperty("stale").EnumerateArray());
        Assert.Equal(HttpStatusCode.OK, complete.StatusCode);
        var done = await complete.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((chain, true), (done.GetProperty("chain_id").GetGuid(), done.GetProperty("complete").GetBoolean()));
    }

    [Fact]
    public async Task Upload_StrictMode_ListedDevicesButTheSender_UnlistedDeviceIsExtra()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, bob, _, general) = await ChannelAsync(server);
        var laptop = await server.LoginAsync(alice);
        var bobsTablet = await server.LoginAsync(bob);
        using var aliceKeys = new E2eKeys(alice);
        await aliceKeys.PublishAsync();
        using var laptopKeys = aliceKeys.Linked(laptop);
        await laptop.CallAsync(HttpMethod.Put, "v1/keys/devices/me", laptopKeys.DeviceKeysBody());
        await alice.CallAsync(HttpMethod.Put, "v1/keys/device-list", aliceKeys.DeviceListBody(2, aliceKeys, laptopKeys));
        using var bobKeys = new E2eKeys(bob);
        await bobKeys.PublishAsync();
        var epoch = (await alice.CallAsync(HttpMethod.Put, $"v1/conversations/{general}/e2e/mode", new { mode = "strict" })).GetProperty("epoch").GetInt64();
        var chain = Guid.CreateVersion7();

        var unlisted = await UploadDevicesAsync(alice, general, chain, epoch, false, (bob.UserId, bobsTablet.DeviceId));
        var partial = await UploadDevicesAsync(alice, general, chain, epoch, true, (bob.UserId, bob.DeviceId));
        var complete = await UploadDevicesAsync(alice, general, chain, epoch, true, (alice.UserId, laptop.DeviceId));
        var wrongShape = await UploadAsync(alice, general, chain, epoch, false, (bob.UserId, 1));

        var extra = await AssertProblemAsync(unlisted, HttpStatusCode.Conflict, 4013, "DISTRIBUTION_MISMATCH");
        Assert.Equal(bobsTablet.DeviceId, Assert.Single(extra.GetProperty("extra").EnumerateArray()).GetProperty("device_id").GetGuid());
        var missing = await AssertProblemAsync(partial, HttpStatusCode.Conflict, 4013, "DISTRIBUTION_MISMATCH");
        var only = Assert.Single(missing.GetProperty("missing").EnumerateArray());
        Assert.Equal((alice.UserId, laptop.DeviceId), (only.GetProperty("user_id").GetGuid(), only.GetProperty("device_id").GetGuid()));
        Assert.Equal(HttpStatusCode.OK, complete.StatusCode);
        await AssertProblemAsync(wrongShape, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }

    [Fact]
    public async Task Upload_OldEpoch_StaleEpoch_ChainOfAnotherDevice_KeyConflict_BadBodies_ValidationFailed()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, bob, _, general) = await ChannelAsync(server);
        var stranger = await server.SignupAsync();
        using var aliceKeys = new E2eKeys(alice);
        await aliceKeys.PublishAsync();
        var epoch = (await StateAsync(alice, general)).GetProperty("epoch").GetInt64();
        var chain = Guid.CreateVersion7();
        await UploadAsync(alice, general, chain, epoch, false, (alice.UserId, 1));

        var stale = await UploadAsync(alice, general, Guid.CreateVersion7(), epoch + 1, false);
        var taken = await UploadAsync(bob, general, chain, epoch, false, (alice.UserId, 1));
        var notMember = await UploadAsync(stranger, general, Guid.CreateVersion7(), epoch, false);
        var tooMany = await alice.SendAsync(HttpMethod.Post, $"v1/conversations/{general}/key-bundles", new
        {
            chain_id = Guid.CreateVersion7(),
            epoch,
            final = false,
            entries = Enumerable.Range(0, 201).Select(_ => new Dictionary<string, object> { ["user_id"] = Guid.CreateVersion7(), ["history_key_generation"] = 1, ["sealed"] = Sealed() }).ToArray(),
        });
        var oversized = await alice.SendAsync(HttpMethod.Post, $"v1/conversations/{general}/key-bundles", new
        {
            chain_id = Guid.CreateVersion7(),
            epoch,
            entries = new[] { new Dictionary<string, object> { ["user_id"] = alice.UserId, ["history_key_generation"] = 1, ["sealed"] = B64(new byte[2049]) } },
        });
        var twice = await UploadAsync(alice, general, Guid.CreateVersion7(), epoch, false, (alice.UserId, 1), (alice.UserId, 1));

        await AssertProblemAsync(stale, HttpStatusCode.Conflict, 4012, "STALE_EPOCH");
        await AssertProblemAsync(taken, HttpStatusCode.Conflict, 4015, "KEY_CONFLICT");
        await AssertProblemAsync(notMember, HttpStatusCode.Forbidden, 4001, "NOT_A_MEMBER");
        await AssertProblemAsync(tooMany, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(oversized, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(twice, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }

    [Fact]
    public async Task Upload_TwoHundredKilobyteSeeds_AboveTheGeneral64KiB_IsReadAndChecked()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, _, _, general) = await ChannelAsync(server);
        var epoch = (await StateAsync(alice, general)).GetProperty("epoch").GetInt64();
        var outsiders = Enumerable.Range(0, 200).Select(_ => Guid.CreateVersion7()).ToList();

        var response = await alice.SendAsync(HttpMethod.Post, $"v1/conversations/{general}/key-bundles", new
        {
            chain_id = Guid.CreateVersion7(),
            epoch,
            entries = outsiders.Select(u => new Dictionary<string, object> { ["user_id"] = u, ["history_key_generation"] = 1, ["sealed"] = B64(new byte[1024]) }).ToArray(),
        });

        var mismatch = await AssertProblemAsync(response, HttpStatusCode.Conflict, 4013, "DISTRIBUTION_MISMATCH");
        Assert.Equal(outsiders.Order(), mismatch.GetProperty("extra").EnumerateArray().Select(e => e.GetProperty("user_id").GetGuid()).Order());
    }

    [Fact]
    public async Task List_EntriesAddressedToMe_InPositionOrder_PagedWithNextAfter()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, bob, _, general) = await ChannelAsync(server);
        using var aliceKeys = new E2eKeys(alice);
        await aliceKeys.PublishAsync();
        using var bobKeys = new E2eKeys(bob);
        await bobKeys.PublishAsync();
        var epoch = (await StateAsync(alice, general)).GetProperty("epoch").GetInt64();
        var (first, second) = (Guid.CreateVersion7(), Guid.CreateVersion7());
        await UploadAsync(alice, general, first, epoch, false, (alice.UserId, 1), (bob.UserId, 1));
        await UploadAsync(alice, general, second, epoch, false, (bob.UserId, 1));

        var page1 = await bob.CallAsync(HttpMethod.Get, $"v1/conversations/{general}/key-bundles?limit=1");
        var after1 = page1.GetProperty("next_after").GetInt64();
        var page2 = await bob.CallAsync(HttpMethod.Get, $"v1/conversations/{general}/key-bundles?limit=1&after={after1}");
        var page3 = await bob.CallAsync(HttpMethod.Get, $"v1/conversations/{general}/key-bundles?limit=1&after={page2.GetProperty("next_after").GetInt64()}");
        var badAfter = await bob.SendAsync(HttpMethod.Get, $"v1/conversations/{general}/key-bundles?after=-1");

        var entry = Assert.Single(page1.GetProperty("entries").EnumerateArray());
        Assert.Equal((first, alice.UserId, alice.DeviceId, bob.UserId, 1), (entry.GetProperty("chain_id").GetGuid(), entry.GetProperty("sender_user_id").GetGuid(), entry.GetProperty("sender_device_id").GetGuid(), entry.GetProperty("user_id").GetGuid(), entry.GetProperty("history_key_generation").GetInt32()));
        Assert.Equal(after1, entry.GetProperty("position").GetInt64());
        Assert.Equal(second, Assert.Single(page2.GetProperty("entries").EnumerateArray()).GetProperty("chain_id").GetGuid());
        Assert.Empty(page3.GetProperty("entries").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, page3.GetProperty("next_after").ValueKind);
        await AssertProblemAsync(badAfter, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }

    internal static async Task<(TestUser Alice, TestUser Bob, TestUser Carol, Guid General)> ChannelAsync(TestServer server)
    {
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var carol = await server.SignupAsync();
        var (team, general) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(team));
        await carol.JoinAsync(await alice.InviteAsync(team));
        return (alice, bob, carol, general);
    }

    internal static Task<HttpResponseMessage> UploadAsync(TestUser sender, Guid conversation, Guid chain, long epoch, bool final, params (Guid User, int Generation)[] recipients) =>
        sender.SendAsync(HttpMethod.Post, $"v1/conversations/{conversation}/key-bundles", new
        {
            chain_id = chain,
            epoch,
            final,
            entries = recipients.Select(r => new Dictionary<string, object> { ["user_id"] = r.User, ["history_key_generation"] = r.Generation, ["sealed"] = Sealed() }).ToArray(),
        });

    internal static Task<HttpResponseMessage> UploadDevicesAsync(TestUser sender, Guid conversation, Guid chain, long epoch, bool final, params (Guid User, Guid Device)[] recipients) =>
        sender.SendAsync(HttpMethod.Post, $"v1/conversations/{conversation}/key-bundles", new
        {
            chain_id = chain,
            epoch,
            final,
            entries = recipients.Select(r => new Dictionary<string, object> { ["user_id"] = r.User, ["device_id"] = r.Device, ["sealed"] = Sealed() }).ToArray(),
        });

    private static List<(Guid, int)> Recipients(JsonElement problem, string list) =>
        problem.GetProperty(list).EnumerateArray().Select(r => (r.GetProperty("user_id").GetGuid(), r.GetProperty("history_key_generation").GetInt32())).ToList();
}
