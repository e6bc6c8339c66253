using System.Net;
using System.Text.Json;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;
using ChatWire.Tests.Shared;
using static ChatWire.Gateway.Tests.Infrastructure.E2eKeys;
using static ChatWire.Gateway.Tests.KeyBundleApiTests;

namespace ChatWire.Gateway.Tests;

// The key directory API and the SEND check with the directory on the real MariaDB (the distributed mode's
// adapter): the same answers as on SQLite, and one-time prekeys still handed out once under concurrency.
public sealed class E2eMySqlTests
{
    [Fact]
    public async Task SendCheck_OnMySqlDirectory_CompleteAccepted_AfterRemovalStaleEpoch()
    {
        await using var server = await MySqlServer.StartAsync();
        var (alice, bob, carol, general) = await ChannelAsync(server.Server);
        foreach (var user in new[] { alice, bob, carol })
        {
            using var keys = new E2eKeys(user);
            await keys.PublishAsync();
        }

        var epoch = (await StateAsync(alice, general)).GetProperty("epoch").GetInt64();
        var chain = Guid.CreateVersion7();
        var partial = await UploadAsync(alice, general, chain, epoch, true, (alice.UserId, 1), (bob.UserId, 1));
        var complete = await UploadAsync(alice, general, chain, epoch, true, (carol.UserId, 1));
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);
        await client.SendAsync(Send(client.NextRequestId(), general, epoch, chain));
        var ack = await client.ExpectAsync<SendAck>();
        var team = (await alice.CallAsync(HttpMethod.Get, "v1/teams")).GetProperty("teams")[0].GetProperty("team_id").GetGuid();
        await alice.CallAsync(HttpMethod.Delete, $"v1/teams/{team}/members/{carol.UserId}");
        await client.SendAsync(Send(client.NextRequestId(), general, epoch, chain));
        var stale = await client.ExpectErrorAsync();

        var missing = await HttpApiTests.AssertProblemAsync(partial, HttpStatusCode.Conflict, 4013, "DISTRIBUTION_MISMATCH");
        Assert.Equal(carol.UserId, Assert.Single(missing.GetProperty("missing").EnumerateArray()).GetProperty("user_id").GetGuid());
        Assert.Equal(HttpStatusCode.OK, complete.StatusCode);
        Assert.True(ack.Seq > 0);
        Assert.Equal(ErrorCode.StaleEpoch, stale.Code);
    }

    [Fact]
    public async Task Claim_TwentyConcurrent_OnMySqlDirectory_EachPrekeyOnce()
    {
        await using var server = await MySqlServer.StartAsync();
        var (alice, bob, _, _) = await ChannelAsync(server.Server);
        using var keys = new E2eKeys(alice);
        await alice.CallAsync(HttpMethod.Put, "v1/keys/devices/me", keys.DeviceKeysBody());
        await alice.CallAsync(HttpMethod.Put, "v1/keys/devices/me/signed-prekey", new { prekey_id = 1, public_key = B64(new byte[32]), signature = B64(new byte[64]) });
        await alice.CallAsync(HttpMethod.Post, "v1/keys/devices/me/one-time-prekeys", new
        {
            prekeys = Enumerable.Range(1, 10).Select(i => new { prekey_id = i, public_key = B64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)) }).ToArray(),
        });

        var claims = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => bob.CallAsync(HttpMethod.Post, $"v1/keys/users/{alice.UserId}/devices/{alice.DeviceId}/claim-prekey")));

        var handedOut = claims.Select(c => c.GetProperty("one_time_prekey")).Where(p => p.ValueKind != JsonValueKind.Null).Select(p => p.GetProperty("prekey_id").GetInt32());
        Assert.Equal(Enumerable.Range(1, 10), handedOut.Order());
    }

    private static Send Send(uint requestId, Guid conversation, long epoch, Guid chain) =>
        new(requestId, conversation, Guid.CreateVersion7(), ContentType, System.Security.Cryptography.RandomNumberGenerator.GetBytes(200))
        {
            MembershipEpoch = (ulong)epoch,
            DistributionId = Id(chain),
        };

    // An in-process server whose directory (and so key directory) is a database of its own on the MariaDB primary.
    private sealed class MySqlServer : IAsyncDisposable
    {
        private readonly string _database;

        private MySqlServer(TestServer server, string database)
        {
            Server = server;
            _database = database;
        }

        public TestServer Server { get; }

        public static async Task<MySqlServer> StartAsync()
        {
            var database = BackingServices.NewDatabaseName("e2e");
            var server = await TestServer.StartAsync(new Dictionary<string, string?>
            {
                ["Storage:Directory"] = "mysql",
                ["Storage:MySql:ConnectionString"] = BackingServices.MySqlDatabase(database),
            });
            return new MySqlServer(server, database);
        }

        public async ValueTask DisposeAsync()
        {
            await Server.DisposeAsync();
            try
            {
                await using var connection = new MySqlConnector.MySqlConnection(BackingServices.MySql);
                await connection.OpenAsync();
                await using var drop = new MySqlConnector.MySqlCommand($"DROP DATABASE IF EXISTS `{_database}`", connection);
                await drop.ExecuteNonQueryAsync();
            }
            catch (MySqlConnector.MySqlException)
            {
            }
        }
    }
}
