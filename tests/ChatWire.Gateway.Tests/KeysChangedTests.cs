using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests;

// KEYS_CHANGED (docs/protocol.md §4.28): every change to a user's own keys is pushed to every connection of that
// user, the one whose request made it included, and to nobody else.
public sealed class KeysChangedTests
{
    [Fact]
    public async Task EveryChangeToMyKeys_ReachesEachOfMyConnections_AndNoOneElse()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var laptop = await server.LoginAsync(alice, "laptop");
        await using var phoneConnection = await RawClient.ConnectAuthenticatedAsync(alice);
        await using var laptopConnection = await RawClient.ConnectAuthenticatedAsync(laptop);
        await using var bobConnection = await RawClient.ConnectAuthenticatedAsync(bob);
        using var phone = new E2eKeys(alice);
        using var laptopKeys = phone.Linked(laptop);

        // The first device publishes its keys (account key, its device keys and certificate, a history key, a
        // device list of itself); the laptop registers and the phone approves it, leaving it the link payload.
        await phone.PublishAsync();
        await laptop.CallAsync(HttpMethod.Put, "v1/keys/devices/me", laptopKeys.DeviceKeysBody());
        await alice.CallAsync(HttpMethod.Put, $"v1/keys/devices/{laptop.DeviceId}/certificate", new { certificate_version = 1, account_signature = E2eKeys.B64(laptopKeys.AccountSignature()) });
        await alice.CallAsync(HttpMethod.Put, "v1/keys/device-list", phone.DeviceListBody(2, phone, laptopKeys));
        await alice.CallAsync(HttpMethod.Put, $"v1/keys/devices/{laptop.DeviceId}/link-payload", new { payload = E2eKeys.Sealed() });

        List<KeysChanged> expected =
        [
            new(KeyChange.AccountKey, Guid.Empty),
            new(KeyChange.DeviceRegistered, alice.DeviceId),
            new(KeyChange.HistoryKey, Guid.Empty),
            new(KeyChange.DeviceList, Guid.Empty),
            new(KeyChange.DeviceRegistered, laptop.DeviceId),
            new(KeyChange.DeviceList, Guid.Empty),
            new(KeyChange.LinkPayload, laptop.DeviceId),
        ];
        foreach (var connection in new[] { phoneConnection, laptopConnection })
        {
            var seen = new List<KeysChanged>();
            while (seen.Count < expected.Count)
            {
                var frame = await connection.ExpectAsync<KeysChanged>();
                Assert.Equal(0u, frame.RequestId);
                seen.Add(frame);
            }

            Assert.Equal(Sorted(expected), Sorted(seen));
        }

        await bobConnection.ExpectSilenceAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task RefusedChange_IsNotAnnounced()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var laptop = await server.LoginAsync(alice, "laptop");
        await using var phoneConnection = await RawClient.ConnectAuthenticatedAsync(alice);
        using var phone = new E2eKeys(alice);
        using var laptopKeys = phone.Linked(laptop);
        await phone.PublishAsync();
        for (var i = 0; i < 4; i++)
        {
            await phoneConnection.ExpectAsync<KeysChanged>();
        }

        // A pending device may not leave keys (403), and a device list must move its version on (409).
        var pendingPayload = await laptop.SendAsync(HttpMethod.Put, $"v1/keys/devices/{alice.DeviceId}/link-payload", new { payload = E2eKeys.Sealed() });
        var staleList = await alice.SendAsync(HttpMethod.Put, "v1/keys/device-list", phone.DeviceListBody(1, phone));

        Assert.Equal(System.Net.HttpStatusCode.Forbidden, pendingPayload.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.Conflict, staleList.StatusCode);
        await phoneConnection.ExpectSilenceAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task EndedSessions_AreAnnounced_AsRevokedDevices()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var laptop = await server.LoginAsync(alice, "laptop");
        var tablet = await server.LoginAsync(alice, "tablet");
        await using var phoneConnection = await RawClient.ConnectAuthenticatedAsync(alice);

        // One session revoked from another device, one ended by its own logout.
        await alice.CallAsync(HttpMethod.Delete, $"v1/sessions/{laptop.DeviceId}");
        await tablet.CallAsync(HttpMethod.Post, "v1/accounts/logout");

        var seen = new List<KeysChanged> { await phoneConnection.ExpectAsync<KeysChanged>(), await phoneConnection.ExpectAsync<KeysChanged>() };
        Assert.Equal(
            Sorted([new(KeyChange.DeviceRevoked, laptop.DeviceId), new(KeyChange.DeviceRevoked, tablet.DeviceId)]),
            Sorted(seen));
    }

    private static List<KeysChanged> Sorted(IEnumerable<KeysChanged> changes) =>
        [.. changes.OrderBy(c => c.Change).ThenBy(c => c.DeviceId)];
}
