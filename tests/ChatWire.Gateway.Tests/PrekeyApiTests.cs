using System.Net;
using System.Text.Json;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Testing;
using NSec.Cryptography;
using static ChatWire.Gateway.Tests.HttpApiTests;
using static ChatWire.Gateway.Tests.Infrastructure.E2eKeys;

namespace ChatWire.Gateway.Tests;

// Signed and one-time prekeys: uploads, the at-most-once claim (also under concurrency), who may claim, and
// the per-user claim rate.
public sealed class PrekeyApiTests
{
    [Fact]
    public async Task Upload_Batches_CountsRemaining_RefusesBadBatches()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        using var keys = new E2eKeys(alice);
        var before = await alice.SendAsync(HttpMethod.Post, "v1/keys/devices/me/one-time-prekeys", new { prekeys = Prekeys(1, 1) });
        await alice.CallAsync(HttpMethod.Put, "v1/keys/devices/me", keys.DeviceKeysBody());

        var first = await alice.CallAsync(HttpMethod.Post, "v1/keys/devices/me/one-time-prekeys", new { prekeys = Prekeys(1, 100) });
        var tooMany = await alice.SendAsync(HttpMethod.Post, "v1/keys/devices/me/one-time-prekeys", new { prekeys = Prekeys(101, 101) });
        var empty = await alice.SendAsync(HttpMethod.Post, "v1/keys/devices/me/one-time-prekeys", new { prekeys = Array.Empty<object>() });
        var twice = await alice.SendAsync(HttpMethod.Post, "v1/keys/devices/me/one-time-prekeys", new { prekeys = new[] { Prekey(500), Prekey(500) } });
        var zero = await alice.SendAsync(HttpMethod.Post, "v1/keys/devices/me/one-time-prekeys", new { prekeys = new[] { Prekey(0) } });
        var shortKey = await alice.SendAsync(HttpMethod.Post, "v1/keys/devices/me/one-time-prekeys", new { prekeys = new[] { new { prekey_id = 600, public_key = B64(new byte[31]) } } });
        var second = await alice.CallAsync(HttpMethod.Post, "v1/keys/devices/me/one-time-prekeys", new { prekeys = Prekeys(101, 50) });

        await AssertProblemAsync(before, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        Assert.Equal(100, first.GetProperty("remaining").GetInt32());
        foreach (var refused in new[] { tooMany, empty, twice, zero, shortKey })
        {
            await AssertProblemAsync(refused, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        }

        Assert.Equal(150, second.GetProperty("remaining").GetInt32());
        Assert.Equal(150, (await alice.CallAsync(HttpMethod.Get, "v1/keys/devices/me")).GetProperty("one_time_prekeys_remaining").GetInt32());
    }

    [Fact]
    public async Task SignedPrekey_WrongLengthsOrZeroId_ValidationFailed_BeforeDeviceKeys_NotFound()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        using var keys = new E2eKeys(alice);

        var noKeys = await alice.SendAsync(HttpMethod.Put, "v1/keys/devices/me/signed-prekey", new { prekey_id = 1, public_key = B64(new byte[32]), signature = B64(new byte[64]) });
        await alice.CallAsync(HttpMethod.Put, "v1/keys/devices/me", keys.DeviceKeysBody());
        var shortKey = await alice.SendAsync(HttpMethod.Put, "v1/keys/devices/me/signed-prekey", new { prekey_id = 1, public_key = B64(new byte[31]), signature = B64(new byte[64]) });
        var longSignature = await alice.SendAsync(HttpMethod.Put, "v1/keys/devices/me/signed-prekey", new { prekey_id = 1, public_key = B64(new byte[32]), signature = B64(new byte[65]) });
        var zeroId = await alice.SendAsync(HttpMethod.Put, "v1/keys/devices/me/signed-prekey", new { prekey_id = 0, public_key = B64(new byte[32]), signature = B64(new byte[64]) });

        await AssertProblemAsync(noKeys, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        foreach (var refused in new[] { shortKey, longSignature, zeroId })
        {
            await AssertProblemAsync(refused, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        }

        Assert.Equal(JsonValueKind.Null, (await alice.CallAsync(HttpMethod.Get, "v1/keys/devices/me")).GetProperty("signed_prekey_id").ValueKind);
    }

    [Fact]
    public async Task Upload_PastOneThousandHeld_QuotaExceeded()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        using var keys = new E2eKeys(alice);
        await alice.CallAsync(HttpMethod.Put, "v1/keys/devices/me", keys.DeviceKeysBody());
        for (var batch = 0; batch < 10; batch++)
        {
            await alice.CallAsync(HttpMethod.Post, "v1/keys/devices/me/one-time-prekeys", new { prekeys = Prekeys(1 + (batch * 100), 100) });
        }

        var response = await alice.SendAsync(HttpMethod.Post, "v1/keys/devices/me/one-time-prekeys", new { prekeys = Prekeys(5000, 1) });

        await AssertProblemAsync(response, HttpStatusCode.Forbidden, 4011, "QUOTA_EXCEEDED");
    }

    [Fact]
    public async Task Claim_HandsOutEachOneTimePrekeyOnce_ThenSignedPrekeyAlone()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, bob, _) = await TeamOfThreeAsync(server);
        using var keys = new E2eKeys(alice);
        await alice.CallAsync(HttpMethod.Put, "v1/keys/devices/me", keys.DeviceKeysBody());
        var signed = await PublishSignedPrekeyAsync(alice, keys, 7);
        await alice.CallAsync(HttpMethod.Post, "v1/keys/devices/me/one-time-prekeys", new { prekeys = Prekeys(1, 2) });

        var claims = new List<JsonElement>();
        for (var i = 0; i < 3; i++)
        {
            claims.Add(await bob.CallAsync(HttpMethod.Post, ClaimPath(alice)));
        }

        Assert.All(claims, c => Assert.Equal(signed, c.GetProperty("signed_prekey").GetProperty("public_key").GetString()));
        Assert.Equal(7, claims[0].GetProperty("signed_prekey").GetProperty("prekey_id").GetInt32());
        Assert.Equal([1, 2], claims.Take(2).Select(c => c.GetProperty("one_time_prekey").GetProperty("prekey_id").GetInt32()).Order());
        Assert.Equal(JsonValueKind.Null, claims[2].GetProperty("one_time_prekey").ValueKind);
        Assert.Equal(0, (await alice.CallAsync(HttpMethod.Get, "v1/keys/devices/me")).GetProperty("one_time_prekeys_remaining").GetInt32());
    }

    [Fact]
    public async Task Claim_TwentyConcurrent_TenPrekeys_EachHandedOutExactlyOnce()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, bob, _) = await TeamOfThreeAsync(server);
        using var keys = new E2eKeys(alice);
        await alice.CallAsync(HttpMethod.Put, "v1/keys/devices/me", keys.DeviceKeysBody());
        await PublishSignedPrekeyAsync(alice, keys, 1);
        await alice.CallAsync(HttpMethod.Post, "v1/keys/devices/me/one-time-prekeys", new { prekeys = Prekeys(1, 10) });

        var claims = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => bob.CallAsync(HttpMethod.Post, ClaimPath(alice))));

        var handedOut = claims.Select(c => c.GetProperty("one_time_prekey")).Where(p => p.ValueKind != JsonValueKind.Null).Select(p => p.GetProperty("prekey_id").GetInt32()).ToList();
        Assert.Equal(Enumerable.Range(1, 10), handedOut.Order());
    }

    [Fact]
    public async Task Claim_NotATeammate_NoSuchDevice_OrNoSignedPrekey_NotFound()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, bob, _) = await TeamOfThreeAsync(server);
        var stranger = await server.SignupAsync();
        using var keys = new E2eKeys(alice);
        await alice.CallAsync(HttpMethod.Put, "v1/keys/devices/me", keys.DeviceKeysBody());
        await alice.CallAsync(HttpMethod.Post, "v1/keys/devices/me/one-time-prekeys", new { prekeys = Prekeys(1, 5) });

        var noSignedPrekey = await bob.SendAsync(HttpMethod.Post, ClaimPath(alice));
        await PublishSignedPrekeyAsync(alice, keys, 1);
        var byStranger = await stranger.SendAsync(HttpMethod.Post, ClaimPath(alice));
        var wrongUser = await bob.SendAsync(HttpMethod.Post, $"v1/keys/users/{bob.UserId}/devices/{alice.DeviceId}/claim-prekey");
        var badId = await bob.SendAsync(HttpMethod.Post, $"v1/keys/users/{alice.UserId}/devices/not-an-id/claim-prekey");

        await AssertProblemAsync(noSignedPrekey, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        await AssertProblemAsync(byStranger, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        await AssertProblemAsync(wrongUser, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        await AssertProblemAsync(badId, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        Assert.Equal(5, (await alice.CallAsync(HttpMethod.Get, "v1/keys/devices/me")).GetProperty("one_time_prekeys_remaining").GetInt32());
    }

    [Fact]
    public async Task Claim_PastThePerUserRate_RateLimitedWithRetryAfter()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Limits:PrekeyClaimsPerMinutePerUser"] = "3" });
        var (alice, bob, carol) = await TeamOfThreeAsync(server);
        using var keys = new E2eKeys(alice);
        await alice.CallAsync(HttpMethod.Put, "v1/keys/devices/me", keys.DeviceKeysBody());
        await PublishSignedPrekeyAsync(alice, keys, 1);
        await alice.CallAsync(HttpMethod.Post, "v1/keys/devices/me/one-time-prekeys", new { prekeys = Prekeys(1, 10) });
        for (var i = 0; i < 3; i++)
        {
            await bob.CallAsync(HttpMethod.Post, ClaimPath(alice));
        }

        var limited = await bob.SendAsync(HttpMethod.Post, ClaimPath(alice));
        var otherCaller = await carol.SendAsync(HttpMethod.Post, ClaimPath(alice));

        await AssertProblemAsync(limited, HttpStatusCode.TooManyRequests, 3001, "RATE_LIMITED");
        Assert.True(limited.Headers.RetryAfter?.Delta is { TotalSeconds: >= 1 }, "Retry-After in seconds");
        Assert.Equal(HttpStatusCode.OK, otherCaller.StatusCode);
        Assert.Equal(6, (await alice.CallAsync(HttpMethod.Get, "v1/keys/devices/me")).GetProperty("one_time_prekeys_remaining").GetInt32());
    }

    private static async Task<(TestUser Alice, TestUser Bob, TestUser Carol)> TeamOfThreeAsync(TestServer server)
    {
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var carol = await server.SignupAsync();
        var (team, _) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(team));
        await carol.JoinAsync(await alice.InviteAsync(team));
        return (alice, bob, carol);
    }

    private static async Task<string> PublishSignedPrekeyAsync(TestUser user, E2eKeys keys, int id)
    {
        using var prekey = Key.Create(KeyAgreementAlgorithm.X25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        var signature = SignatureAlgorithm.Ed25519.Sign(keys.DeviceSigning, Concat(Ascii("CW-spk-v1"), Id(user.DeviceId), U32((uint)id), Public(prekey)));
        var stored = await user.CallAsync(HttpMethod.Put, "v1/keys/devices/me/signed-prekey", new { prekey_id = id, public_key = B64(Public(prekey)), signature = B64(signature) });
        return stored.GetProperty("public_key").GetString()!;
    }

    private static string ClaimPath(TestUser owner) => $"v1/keys/users/{owner.UserId}/devices/{owner.DeviceId}/claim-prekey";

    private static object Prekey(int id) => new { prekey_id = id, public_key = B64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)) };

    private static object[] Prekeys(int first, int count) => Enumerable.Range(first, count).Select(Prekey).ToArray();
}
