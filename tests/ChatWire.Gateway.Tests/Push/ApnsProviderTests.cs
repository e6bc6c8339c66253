using System.Globalization;
using System.Security.Cryptography;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Testing;
using static ChatWire.Gateway.Tests.Push.ProviderChecks;

namespace ChatWire.Gateway.Tests.Push;

// APNs, played by a local HTTP/2 receiver that checks each request as Apple documents it ("Sending notification
// requests to APNs", "Establishing a token-based connection to APNs", "Handling notification responses from APNs").
public sealed class ApnsProviderTests : IDisposable
{
    private const string KeyId = "ABC123DEFG";
    private const string TeamId = "DEF123GHIJ";
    private const string Topic = "com.example.chatwire";
    private const string Metric = "chatwire_push_notifications_total";

    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly string _keyPath = Path.Combine(Path.GetTempPath(), "chatwire-apns-" + Guid.NewGuid().ToString("N") + ".p8");
    private readonly string _deviceToken = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    public ApnsProviderTests() => File.WriteAllText(_keyPath, _key.ExportPkcs8PrivateKeyPem());

    [Fact]
    public async Task Send_OfflineApnsDevice_DocumentedRequestOverHttp2()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await StartAsync(receiver);
        var (alice, bob, dm) = await RegisteredPairAsync(server);
        receiver.Answer = push => Check(push, dm);
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);

        var ack = await aliceDesk.SendTextAsync(dm, "not for Apple's eyes");

        var push = await receiver.NextAsync();
        Assert.Empty(receiver.Faults);
        var body = push.Json;
        Assert.Equal(1, body.GetProperty("aps").GetProperty("badge").GetInt32());
        Assert.Equal(ack.MessageId, body.GetProperty("chatwire").GetProperty("message_id").GetGuid());
        Assert.Equal("direct", body.GetProperty("chatwire").GetProperty("kind").GetString());
        Assert.DoesNotContain("Apple", System.Text.Encoding.UTF8.GetString(push.Body), StringComparison.Ordinal);
        await server.WaitForMetricAsync(Metric, "provider=\"apns\",outcome=\"delivered\"", v => v == 1);
    }

    [Theory]
    [InlineData(410, "Unregistered")]
    [InlineData(400, "BadDeviceToken")]
    public async Task Send_ApnsCallsTheTokenDead_RegistrationRemoved(int status, string reason)
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await StartAsync(receiver);
        var (alice, bob, dm) = await RegisteredPairAsync(server);
        receiver.Answer = push => Check(push, dm) with
        {
            Status = status,
            Body = status == 410
                ? $$"""{"reason":"{{reason}}","timestamp":{{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}}}"""
                : $$"""{"reason":"{{reason}}"}""",
        };
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);

        await aliceDesk.SendTextAsync(dm, "hello");

        await receiver.NextAsync();
        await server.WaitForMetricAsync(Metric, "provider=\"apns\",outcome=\"token_removed\"", v => v == 1);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await bob.SendAsync(HttpMethod.Get, "v1/push/registration")).StatusCode);
        Assert.Empty(receiver.Faults);
    }

    [Fact]
    public async Task Send_ApnsTooManyRequestsThenOk_RetriedAndDelivered()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await StartAsync(receiver);
        var (alice, _, dm) = await RegisteredPairAsync(server);
        var answered = 0;
        receiver.Answer = push => Interlocked.Increment(ref answered) == 1
            ? Check(push, dm) with { Status = 429, Body = """{"reason":"TooManyRequests"}""" }
            : Check(push, dm);
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);

        await aliceDesk.SendTextAsync(dm, "hello");

        await receiver.NextAsync();
        await receiver.NextAsync();
        await server.WaitForMetricAsync(Metric, "provider=\"apns\",outcome=\"delivered\"", v => v == 1);
        Assert.Equal(1, await server.ReadMetricAsync(Metric, "provider=\"apns\",outcome=\"retried\""));
        Assert.Empty(receiver.Faults);
    }

    public void Dispose()
    {
        _key.Dispose();
        File.Delete(_keyPath);
    }

    private Task<TestServer> StartAsync(PushReceiver receiver)
    {
        var settings = PushFixture.Settings(receiver);
        settings["Push:Apns:Endpoint"] = receiver.BaseAddress.ToString();
        settings["Push:Apns:KeyId"] = KeyId;
        settings["Push:Apns:TeamId"] = TeamId;
        settings["Push:Apns:PrivateKeyPath"] = _keyPath;
        settings["Push:Apns:Topic"] = Topic;
        return TestServer.StartAsync(settings);
    }

    private async Task<(TestUser Alice, TestUser Bob, Guid Dm)> RegisteredPairAsync(TestServer server)
    {
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        var registration = await bob.CallAsync(HttpMethod.Put, "v1/push/registration", new { provider = "apns", token = _deviceToken.ToUpperInvariant() });
        Assert.Equal(_deviceToken, registration.GetProperty("token").GetString());
        return (alice, bob, dm);
    }

    // What Apple documents for a request with token authentication; an answer of 200 with an apns-id.
    private PushAnswer Check(ReceivedPush push, Guid conversation)
    {
        Require(push.Protocol == "HTTP/2", "HTTP/2");
        Require(push.Method == "POST" && push.Path == "/3/device/" + _deviceToken, "POST /3/device/<token>");
        var authorization = push.Header("authorization");
        Require(authorization.StartsWith("bearer ", StringComparison.Ordinal), "authorization: bearer <provider token>");
        var (header, claims) = VerifyEs256(authorization["bearer ".Length..], _key);
        Require(header.GetProperty("kid").GetString() == KeyId, "kid is the key id");
        Require(claims.GetProperty("iss").GetString() == TeamId, "iss is the team id");
        Require(push.Header("apns-topic") == Topic, "apns-topic is the bundle id");
        Require(push.Header("apns-push-type") == "alert", "apns-push-type alert");
        Require(push.Header("apns-priority") == "10", "apns-priority 10");
        Require(long.TryParse(push.Header("apns-expiration"), NumberStyles.None, CultureInfo.InvariantCulture, out _), "apns-expiration in Unix seconds");
        Require(push.Header("apns-collapse-id") == conversation.ToString("N"), "apns-collapse-id of at most 64 bytes");
        var aps = push.Json.GetProperty("aps");
        Require(aps.GetProperty("mutable-content").GetInt32() == 1, "mutable-content 1");
        Require(aps.GetProperty("alert").GetProperty("loc-key").GetString() == "CHATWIRE_NEW_MESSAGE", "a localized alert, no text");
        Require(!aps.GetProperty("alert").TryGetProperty("body", out _) && !aps.GetProperty("alert").TryGetProperty("title", out _), "no alert text");
        Require(aps.GetProperty("thread-id").GetString() == conversation.ToString(), "thread-id is the conversation");
        return new PushAnswer(200, null, new Dictionary<string, string> { ["apns-id"] = Guid.NewGuid().ToString().ToUpperInvariant() });
    }
}
