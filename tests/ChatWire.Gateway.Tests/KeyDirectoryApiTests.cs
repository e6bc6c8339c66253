using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Testing;
using static ChatWire.Gateway.Tests.HttpApiTests;
using static ChatWire.Gateway.Tests.Infrastructure.E2eKeys;

namespace ChatWire.Gateway.Tests;

// The key directory's own-key endpoints over HTTP (docs/http-api.md, "Key directory"): lengths, versions,
// conflicts, the link code the server computes, and device linking.
public sealed class KeyDirectoryApiTests
{
    [Fact]
    public async Task AccountKey_SameAgainOrOtherWithReset_VersionsAndOtherWithoutReset_KeyConflict()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var first = B64(RandomNumberGenerator.GetBytes(32));
        var second = B64(RandomNumberGenerator.GetBytes(32));

        var set = await alice.CallAsync(HttpMethod.Put, "v1/keys/account", new { signing_key = first });
        var again = await alice.CallAsync(HttpMethod.Put, "v1/keys/account", new { signing_key = first });
        var refused = await alice.SendAsync(HttpMethod.Put, "v1/keys/account", new { signing_key = second });
        var reset = await alice.CallAsync(HttpMethod.Put, "v1/keys/account", new { signing_key = second, reset = true });

        Assert.Equal((first, 1), (set.GetProperty("signing_key").GetString(), set.GetProperty("version").GetInt32()));
        Assert.Equal(1, again.GetProperty("version").GetInt32());
        await AssertProblemAsync(refused, HttpStatusCode.Conflict, 4015, "KEY_CONFLICT");
        Assert.Equal((second, 2), (reset.GetProperty("signing_key").GetString(), reset.GetProperty("version").GetInt32()));
    }

    [Theory]
    [InlineData(31)]
    [InlineData(33)]
    [InlineData(0)]
    public async Task AccountKey_NotThirtyTwoBytes_ValidationFailed(int length)
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();

        var response = await alice.SendAsync(HttpMethod.Put, "v1/keys/account", new { signing_key = B64(new byte[length]) });

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        Assert.True(problem.GetProperty("errors").TryGetProperty("signing_key", out _));
    }

    [Fact]
    public async Task AccountKey_NotBase64_ValidationFailed()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();

        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Put, "v1/keys/account", new { signing_key = "not base64!" }), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
    }

    [Fact]
    public async Task HistoryKey_GenerationNotAbove_KeyVersionConflict()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        using var keys = new E2eKeys(alice);

        await alice.CallAsync(HttpMethod.Put, "v1/keys/history-key", keys.HistoryKeyBody(2, out var second));
        var same = await alice.SendAsync(HttpMethod.Put, "v1/keys/history-key", keys.HistoryKeyBody(2, out var other));
        var lower = await alice.SendAsync(HttpMethod.Put, "v1/keys/history-key", keys.HistoryKeyBody(1, out var older));
        var shortSignature = await alice.SendAsync(HttpMethod.Put, "v1/keys/history-key", new { generation = 3, public_key = B64(new byte[32]), signature = B64(new byte[63]) });
        var seen = await alice.CallAsync(HttpMethod.Get, $"v1/keys/users/{alice.UserId}");

        await AssertProblemAsync(same, HttpStatusCode.Conflict, 4014, "KEY_VERSION_CONFLICT");
        await AssertProblemAsync(lower, HttpStatusCode.Conflict, 4014, "KEY_VERSION_CONFLICT");
        await AssertProblemAsync(shortSignature, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        var history = seen.GetProperty("history_key");
        Assert.Equal((2, B64(Public(second))), (history.GetProperty("generation").GetInt32(), history.GetProperty("public_key").GetString()));
        second.Dispose();
        other.Dispose();
        older.Dispose();
    }

    [Fact]
    public async Task DeviceKeys_Register_LinkCodeIsTheContractFormula_SameAgainOkOtherKeysConflict()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        using var keys = new E2eKeys(alice);
        using var otherKeys = new E2eKeys(alice);

        var registered = await alice.CallAsync(HttpMethod.Put, "v1/keys/devices/me", keys.DeviceKeysBody());
        var again = await alice.CallAsync(HttpMethod.Put, "v1/keys/devices/me", keys.DeviceKeysBody());
        var conflict = await alice.SendAsync(HttpMethod.Put, "v1/keys/devices/me", otherKeys.DeviceKeysBody());
        var mine = await alice.CallAsync(HttpMethod.Get, "v1/keys/devices/me");

        var expected = ExpectedLinkCode(keys);
        Assert.Equal((alice.DeviceId, expected), (registered.GetProperty("device_id").GetGuid(), registered.GetProperty("link_code").GetString()));
        Assert.Equal(expected, again.GetProperty("link_code").GetString());
        await AssertProblemAsync(conflict, HttpStatusCode.Conflict, 4015, "KEY_CONFLICT");
        Assert.Equal(expected, mine.GetProperty("link_code").GetString());
        Assert.False(mine.GetProperty("approved").GetBoolean());
        Assert.Equal(0, mine.GetProperty("one_time_prekeys_remaining").GetInt32());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, mine.GetProperty("signed_prekey_id").ValueKind);
    }

    [Theory]
    [InlineData("signing_key", 31)]
    [InlineData("dh_key", 33)]
    [InlineData("self_signature", 63)]
    public async Task DeviceKeys_WrongLength_ValidationFailedNamingTheField(string field, int length)
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var body = new Dictionary<string, object>
        {
            ["signing_key"] = B64(new byte[32]),
            ["dh_key"] = B64(new byte[32]),
            ["created_at_ms"] = 1,
            ["certificate_version"] = 1,
            ["self_signature"] = B64(new byte[64]),
        };
        body[field] = B64(new byte[length]);

        var problem = await AssertProblemAsync(await alice.SendAsync(HttpMethod.Put, "v1/keys/devices/me", body), HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _));
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Get, "v1/keys/devices/me"), HttpStatusCode.NotFound, 4002, "NOT_FOUND");
    }

    [Fact]
    public async Task Linking_PendingDeviceFoundByCode_CertifiedThenApproved_PayloadDelivered()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var laptop = await server.LoginAsync(alice, deviceName: "laptop");
        var mallory = await server.SignupAsync();
        using var phoneKeys = new E2eKeys(alice);
        await phoneKeys.PublishAsync();
        using var laptopKeys = phoneKeys.Linked(laptop);
        var code = (await laptop.CallAsync(HttpMethod.Put, "v1/keys/devices/me", laptopKeys.DeviceKeysBody())).GetProperty("link_code").GetString()!;
        var typed = (code[..5] + "-" + code[5..]).ToLowerInvariant();

        var pending = await alice.CallAsync(HttpMethod.Get, $"v1/keys/link/{typed}");
        var strangers = await mallory.SendAsync(HttpMethod.Get, $"v1/keys/link/{code}");
        await alice.CallAsync(HttpMethod.Put, $"v1/keys/devices/{laptop.DeviceId}/certificate", new { certificate_version = 1, account_signature = B64(laptopKeys.AccountSignature()) });
        await alice.SendAsync(HttpMethod.Put, $"v1/keys/devices/{laptop.DeviceId}/link-payload", new { payload = B64([1, 2, 3]) });
        var approved = await laptop.CallAsync(HttpMethod.Get, "v1/keys/devices/me");
        var afterApproval = await alice.SendAsync(HttpMethod.Get, $"v1/keys/link/{code}");
        var payload = await laptop.CallAsync(HttpMethod.Get, "v1/keys/link-payload");
        await laptop.CallAsync(HttpMethod.Delete, "v1/keys/link-payload");
        var gone = await laptop.SendAsync(HttpMethod.Get, "v1/keys/link-payload");

        Assert.Equal((laptop.DeviceId, "laptop"), (pending.GetProperty("device_id").GetGuid(), pending.GetProperty("device_name").GetString()));
        Assert.Equal(B64(Public(laptopKeys.DeviceDh)), pending.GetProperty("dh_key").GetString());
        await AssertProblemAsync(strangers, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        Assert.True(approved.GetProperty("approved").GetBoolean());
        await AssertProblemAsync(afterApproval, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        Assert.Equal((alice.DeviceId, B64([1, 2, 3])), (payload.GetProperty("from_device_id").GetGuid(), payload.GetProperty("payload").GetString()));
        await AssertProblemAsync(gone, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
    }

    // Regression: a pending device (a password is all it takes) could approve itself, overwrite the recovery
    // backup, and push the device list version and history key generation to their maximum, after which the
    // user's real ones were refused for ever as not above them.
    [Fact]
    public async Task PendingDevice_WhileAnotherIsApproved_ManagesNoKeys_Forbidden()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var intruder = await server.LoginAsync(alice);
        using var keys = new E2eKeys(alice);
        await keys.PublishAsync();
        await alice.CallAsync(HttpMethod.Put, "v1/keys/recovery-backup", new { backup = B64([1]) });
        using var intruderKeys = keys.Linked(intruder);
        await intruder.CallAsync(HttpMethod.Put, "v1/keys/devices/me", intruderKeys.DeviceKeysBody());

        var selfApproval = await intruder.SendAsync(HttpMethod.Put, $"v1/keys/devices/{intruder.DeviceId}/certificate", new { certificate_version = 1, account_signature = B64(new byte[64]) });
        var list = await intruder.SendAsync(HttpMethod.Put, "v1/keys/device-list", new { version = long.MaxValue, devices = new[] { new { device_id = intruder.DeviceId, certificate_hash = B64(new byte[32]) } }, signature = B64(new byte[64]) });
        var history = await intruder.SendAsync(HttpMethod.Put, "v1/keys/history-key", new { generation = int.MaxValue, public_key = B64(new byte[32]), signature = B64(new byte[64]) });
        var backup = await intruder.SendAsync(HttpMethod.Put, "v1/keys/recovery-backup", new { backup = B64([2]) });
        var payload = await intruder.SendAsync(HttpMethod.Put, $"v1/keys/devices/{alice.DeviceId}/link-payload", new { payload = B64([3]) });
        var ownPayload = await alice.SendAsync(HttpMethod.Put, $"v1/keys/devices/{alice.DeviceId}/link-payload", new { payload = B64([4]) });
        var accountReset = await intruder.SendAsync(HttpMethod.Put, "v1/keys/account", new { signing_key = B64(RandomNumberGenerator.GetBytes(32)), reset = true });
        var stillPending = await intruder.CallAsync(HttpMethod.Get, "v1/keys/devices/me");
        var seen = await alice.CallAsync(HttpMethod.Get, $"v1/keys/users/{alice.UserId}");
        var storedBackup = await alice.CallAsync(HttpMethod.Get, "v1/keys/recovery-backup");
        var nextList = await alice.SendAsync(HttpMethod.Put, "v1/keys/device-list", keys.DeviceListBody(2, keys));
        var noPayload = await alice.SendAsync(HttpMethod.Get, "v1/keys/link-payload");

        foreach (var refused in new[] { selfApproval, list, history, backup, payload, ownPayload, accountReset })
        {
            await AssertProblemAsync(refused, HttpStatusCode.Forbidden, 4003, "FORBIDDEN");
        }

        Assert.False(stillPending.GetProperty("approved").GetBoolean());
        Assert.Equal(1, seen.GetProperty("account_key").GetProperty("version").GetInt32());
        Assert.Equal((1L, 1), (seen.GetProperty("device_list").GetProperty("version").GetInt64(), seen.GetProperty("history_key").GetProperty("generation").GetInt32()));
        Assert.Equal(B64([1]), storedBackup.GetProperty("backup").GetString());
        Assert.Equal(HttpStatusCode.OK, nextList.StatusCode);
        await AssertProblemAsync(noPayload, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
    }

    [Fact]
    public async Task Certificate_AnotherUsersDevice_NotFound()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var mallory = await server.SignupAsync();
        using var keys = new E2eKeys(alice);
        await alice.CallAsync(HttpMethod.Put, "v1/keys/devices/me", keys.DeviceKeysBody());

        var response = await mallory.SendAsync(HttpMethod.Put, $"v1/keys/devices/{alice.DeviceId}/certificate", new { certificate_version = 1, account_signature = B64(new byte[64]) });

        await AssertProblemAsync(response, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
    }

    [Fact]
    public async Task DeviceList_RollbackOrSameVersion_KeyVersionConflict_UnknownOrForeignDevice_ValidationFailed()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var laptop = await server.LoginAsync(alice);
        var bob = await server.SignupAsync();
        using var keys = new E2eKeys(alice);
        await keys.PublishAsync();
        using var laptopKeys = keys.Linked(laptop);
        await laptop.CallAsync(HttpMethod.Put, "v1/keys/devices/me", laptopKeys.DeviceKeysBody());
        using var bobKeys = new E2eKeys(bob);
        await bob.CallAsync(HttpMethod.Put, "v1/keys/devices/me", bobKeys.DeviceKeysBody());

        var two = await alice.CallAsync(HttpMethod.Put, "v1/keys/device-list", keys.DeviceListBody(3, keys, laptopKeys));
        var same = await alice.SendAsync(HttpMethod.Put, "v1/keys/device-list", keys.DeviceListBody(3, keys));
        var rollback = await alice.SendAsync(HttpMethod.Put, "v1/keys/device-list", keys.DeviceListBody(2, keys));
        var foreign = await alice.SendAsync(HttpMethod.Put, "v1/keys/device-list", new { version = 9, devices = new[] { new { device_id = bob.DeviceId, certificate_hash = B64(new byte[32]) } }, signature = B64(new byte[64]) });
        var unknown = await alice.SendAsync(HttpMethod.Put, "v1/keys/device-list", new { version = 9, devices = new[] { new { device_id = Guid.CreateVersion7(), certificate_hash = B64(new byte[32]) } }, signature = B64(new byte[64]) });
        var shortHash = await alice.SendAsync(HttpMethod.Put, "v1/keys/device-list", new { version = 9, devices = new[] { new { device_id = alice.DeviceId, certificate_hash = B64(new byte[31]) } }, signature = B64(new byte[64]) });
        var seen = await alice.CallAsync(HttpMethod.Get, $"v1/keys/users/{alice.UserId}");

        Assert.Equal(3, two.GetProperty("version").GetInt64());
        await AssertProblemAsync(same, HttpStatusCode.Conflict, 4014, "KEY_VERSION_CONFLICT");
        await AssertProblemAsync(rollback, HttpStatusCode.Conflict, 4014, "KEY_VERSION_CONFLICT");
        await AssertProblemAsync(foreign, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(unknown, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        await AssertProblemAsync(shortHash, HttpStatusCode.BadRequest, 4007, "VALIDATION_FAILED");
        var list = seen.GetProperty("device_list");
        Assert.Equal(3, list.GetProperty("version").GetInt64());
        Assert.Equal(
            new[] { alice.DeviceId, laptop.DeviceId }.Order(),
            list.GetProperty("devices").EnumerateArray().Select(d => d.GetProperty("device_id").GetGuid()).Order());
    }

    [Fact]
    public async Task UserKeys_SelfAndTeammate_SeeThem_Stranger_NotFound()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var stranger = await server.SignupAsync();
        var (team, _) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(team));
        using var keys = new E2eKeys(alice);
        await keys.PublishAsync();

        var own = await alice.CallAsync(HttpMethod.Get, $"v1/keys/users/{alice.UserId}");
        var teammate = await bob.CallAsync(HttpMethod.Get, $"v1/keys/users/{alice.UserId}");
        var refused = await stranger.SendAsync(HttpMethod.Get, $"v1/keys/users/{alice.UserId}");
        var nobody = await bob.SendAsync(HttpMethod.Get, $"v1/keys/users/{Guid.CreateVersion7()}");

        Assert.Equal(own.GetRawText(), teammate.GetRawText());
        Assert.Equal(B64(Public(keys.Account)), teammate.GetProperty("account_key").GetProperty("signing_key").GetString());
        var device = Assert.Single(teammate.GetProperty("devices").EnumerateArray());
        Assert.Equal(B64(keys.AccountSignature()), device.GetProperty("account_signature").GetString());
        await AssertProblemAsync(refused, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        await AssertProblemAsync(nobody, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
    }

    [Fact]
    public async Task RecoveryBackup_StoredAndReadBack_NoneIsNotFound()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var backup = B64(RandomNumberGenerator.GetBytes(300));

        var none = await alice.SendAsync(HttpMethod.Get, "v1/keys/recovery-backup");
        var stored = await alice.SendAsync(HttpMethod.Put, "v1/keys/recovery-backup", new { backup });
        var read = await alice.CallAsync(HttpMethod.Get, "v1/keys/recovery-backup");

        await AssertProblemAsync(none, HttpStatusCode.NotFound, 4002, "NOT_FOUND");
        Assert.Equal(HttpStatusCode.NoContent, stored.StatusCode);
        Assert.Equal(backup, read.GetProperty("backup").GetString());
    }

    [Fact]
    public async Task RevokeSession_DevicesKeysLeaveTheDirectory_AndEpochMoves()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var laptop = await server.LoginAsync(alice);
        var (_, general) = await alice.CreateTeamAsync();
        using var keys = new E2eKeys(alice);
        await keys.PublishAsync();
        using var laptopKeys = keys.Linked(laptop);
        await laptop.CallAsync(HttpMethod.Put, "v1/keys/devices/me", laptopKeys.DeviceKeysBody());
        var before = (await StateAsync(alice, general)).GetProperty("epoch").GetInt64();

        var revoked = await alice.SendAsync(HttpMethod.Delete, $"v1/sessions/{laptop.DeviceId}");
        var seen = await alice.CallAsync(HttpMethod.Get, $"v1/keys/users/{alice.UserId}");
        var after = (await StateAsync(alice, general)).GetProperty("epoch").GetInt64();

        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        Assert.Equal(alice.DeviceId, Assert.Single(seen.GetProperty("devices").EnumerateArray()).GetProperty("device_id").GetGuid());
        Assert.True(after > before, $"epoch {before} → {after}");
    }

    [Fact]
    public async Task RevokeSession_ApprovedDevice_ServedAsFormerDeviceWithItsCertificate()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var laptop = await server.LoginAsync(alice);
        var pending = await server.LoginAsync(alice);
        using var keys = new E2eKeys(alice);
        await keys.PublishAsync();
        using var laptopKeys = keys.Linked(laptop);
        using var pendingKeys = keys.Linked(pending);
        await laptop.CallAsync(HttpMethod.Put, "v1/keys/devices/me", laptopKeys.DeviceKeysBody());
        await pending.CallAsync(HttpMethod.Put, "v1/keys/devices/me", pendingKeys.DeviceKeysBody());
        await alice.CallAsync(HttpMethod.Put, $"v1/keys/devices/{laptop.DeviceId}/certificate", new { certificate_version = 1, account_signature = B64(laptopKeys.AccountSignature()) });

        await alice.SendAsync(HttpMethod.Delete, $"v1/sessions/{laptop.DeviceId}");
        await alice.SendAsync(HttpMethod.Delete, $"v1/sessions/{pending.DeviceId}");
        var seen = await alice.CallAsync(HttpMethod.Get, $"v1/keys/users/{alice.UserId}");

        // Only the approved one: a device never approved could not have sent anything anyone could read.
        var former = Assert.Single(seen.GetProperty("former_devices").EnumerateArray());
        Assert.Equal(laptop.DeviceId, former.GetProperty("device_id").GetGuid());
        Assert.Equal(B64(Public(laptopKeys.DeviceSigning)), former.GetProperty("signing_key").GetString());
        Assert.Equal(B64(laptopKeys.AccountSignature()), former.GetProperty("account_signature").GetString());
        Assert.True(former.GetProperty("revoked_at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", former.GetProperty("revoked_at").GetString());
        Assert.DoesNotContain(seen.GetProperty("devices").EnumerateArray(), device => device.GetProperty("device_id").GetGuid() == laptop.DeviceId);
        Assert.Equal(1, seen.GetProperty("highest_history_key_generation").GetInt32());
        Assert.Equal(JsonValueKind.Null, seen.GetProperty("history_key").ValueKind);
    }

    // The contract's formula, written out another way (a bit string) than the server's shifts.
    private static string ExpectedLinkCode(E2eKeys keys)
    {
        var hash = SHA256.HashData(Concat(Ascii("CW-link-v1"), Id(keys.User.UserId), Id(keys.User.DeviceId), Public(keys.DeviceSigning), Public(keys.DeviceDh)));
        var bits = string.Concat(hash.Take(7).Select(b => Convert.ToString(b, 2).PadLeft(8, '0')))[..50];
        return string.Concat(Enumerable.Range(0, 10).Select(i => "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[Convert.ToInt32(bits.Substring(i * 5, 5), 2)]));
    }
}
