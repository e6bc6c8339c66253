using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Testing;
using static ChatWire.Gateway.Tests.Push.ProviderChecks;

namespace ChatWire.Gateway.Tests.Push;

// FCM HTTP v1 and Google's OAuth token endpoint, played by a local receiver that checks each request as
// documented (projects.messages.send; "Using OAuth 2.0 for server to server applications", the JWT bearer grant).
public sealed class FcmProviderTests : IDisposable
{
    private const string Project = "chatwire-test";
    private const string ClientEmail = "push@chatwire-test.iam.gserviceaccount.com";
    private const string AccessToken = "ya29.local-test-token";
    private const string Metric = "chatwire_push_notifications_total";

    private readonly RSA _key = RSA.Create(2048);
    private readonly string _accountPath = Path.Combine(Path.GetTempPath(), "chatwire-fcm-" + Guid.NewGuid().ToString("N") + ".json");
    private readonly string _registrationToken = "fcm-token:" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
    private int _tokenRequests;

    [Fact]
    public async Task Send_OfflineFcmDevice_TokenExchangedOnceAndDocumentedRequests()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await StartAsync(receiver);
        var (alice, _, dm) = await RegisteredPairAsync(server);
        receiver.Answer = push => Answer(push, receiver, dm, sendStatus: 200);
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);

        var ack = await aliceDesk.SendTextAsync(dm, "not for Google's eyes");
        var sent = await NextSendAsync(receiver);
        await aliceDesk.SendTextAsync(dm, "second");
        await NextSendAsync(receiver);

        var data = sent.Json.GetProperty("message").GetProperty("data");
        Assert.Equal(ack.MessageId.ToString(), data.GetProperty("message_id").GetString());
        Assert.Equal(ack.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture), data.GetProperty("seq").GetString());
        Assert.Equal("direct", data.GetProperty("kind").GetString());
        Assert.DoesNotContain("Google", System.Text.Encoding.UTF8.GetString(sent.Body), StringComparison.Ordinal);
        Assert.Equal(1, _tokenRequests);
        Assert.Empty(receiver.Faults);
        await server.WaitForMetricAsync(Metric, "provider=\"fcm\",outcome=\"delivered\"", v => v == 2);
    }

    [Fact]
    public async Task Send_FcmAnswersUnregistered_RegistrationRemoved()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await StartAsync(receiver);
        var (alice, bob, dm) = await RegisteredPairAsync(server);
        receiver.Answer = push => Answer(push, receiver, dm, sendStatus: 404);
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);

        await aliceDesk.SendTextAsync(dm, "hello");

        await NextSendAsync(receiver);
        await server.WaitForMetricAsync(Metric, "provider=\"fcm\",outcome=\"token_removed\"", v => v == 1);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await bob.SendAsync(HttpMethod.Get, "v1/push/registration")).StatusCode);
        Assert.Empty(receiver.Faults);
    }

    [Fact]
    public async Task Send_AccessTokenRefused_NewTokenAndDelivered()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await StartAsync(receiver);
        var (alice, _, dm) = await RegisteredPairAsync(server);
        var sends = 0;
        receiver.Answer = push => Answer(push, receiver, dm, sendStatus: push.Path.EndsWith(":send", StringComparison.Ordinal) && Interlocked.Increment(ref sends) == 1 ? 401 : 200);
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);

        await aliceDesk.SendTextAsync(dm, "hello");

        await server.WaitForMetricAsync(Metric, "provider=\"fcm\",outcome=\"delivered\"", v => v == 1, TimeSpan.FromSeconds(30));
        Assert.Equal(2, _tokenRequests);
        Assert.Empty(receiver.Faults);
    }

    public void Dispose()
    {
        _key.Dispose();
        File.Delete(_accountPath);
    }

    private async Task<TestServer> StartAsync(PushReceiver receiver)
    {
        var account = new JsonObject
        {
            ["type"] = "service_account",
            ["project_id"] = Project,
            ["private_key_id"] = "key-1",
            ["private_key"] = _key.ExportPkcs8PrivateKeyPem(),
            ["client_email"] = ClientEmail,
            ["token_uri"] = new Uri(receiver.BaseAddress, "token").ToString(),
        };
        await File.WriteAllTextAsync(_accountPath, account.ToJsonString());
        var settings = PushFixture.Settings(receiver);
        settings["Push:Fcm:Endpoint"] = receiver.BaseAddress.ToString();
        settings["Push:Fcm:ServiceAccountPath"] = _accountPath;
        return await TestServer.StartAsync(settings);
    }

    private async Task<(TestUser Alice, TestUser Bob, Guid Dm)> RegisteredPairAsync(TestServer server)
    {
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        await bob.CallAsync(HttpMethod.Put, "v1/push/registration", new { provider = "fcm", token = _registrationToken });
        return (alice, bob, dm);
    }

    private static async Task<ReceivedPush> NextSendAsync(PushReceiver receiver)
    {
        while (true)
        {
            var push = await receiver.NextAsync();
            if (push.Path.EndsWith(":send", StringComparison.Ordinal))
            {
                return push;
            }
        }
    }

    private PushAnswer Answer(ReceivedPush push, PushReceiver receiver, Guid conversation, int sendStatus)
    {
        if (push.Path == "/token")
        {
            Interlocked.Increment(ref _tokenRequests);
            Require(push.Method == "POST" && push.Header("Content-Type").StartsWith("application/x-www-form-urlencoded", StringComparison.Ordinal), "a form POST");
            var form = System.Web.HttpUtility.ParseQueryString(System.Text.Encoding.ASCII.GetString(push.Body));
            Require(form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer", "the JWT bearer grant");
            var (header, claims) = VerifyRs256(form["assertion"] ?? string.Empty, _key);
            Require(header.GetProperty("typ").GetString() == "JWT" && header.GetProperty("kid").GetString() == "key-1", "typ JWT, kid the key id");
            Require(claims.GetProperty("iss").GetString() == ClientEmail, "iss the client email");
            Require(claims.GetProperty("scope").GetString() == "https://www.googleapis.com/auth/firebase.messaging", "the firebase.messaging scope");
            Require(claims.GetProperty("aud").GetString() == new Uri(receiver.BaseAddress, "token").ToString(), "aud the token URL");
            Require(claims.GetProperty("exp").GetInt64() - claims.GetProperty("iat").GetInt64() == 3600, "exp an hour after iat");
            return new PushAnswer(200, $$"""{"access_token":"{{AccessToken}}","expires_in":3599,"token_type":"Bearer"}""");
        }

        Require(push.Method == "POST" && push.Path == $"/v1/projects/{Project}/messages:send", "POST /v1/projects/<project>/messages:send");
        Require(push.Header("Authorization") == "Bearer " + AccessToken, "the access token as bearer");
        var message = push.Json.GetProperty("message");
        Require(message.GetProperty("token").GetString() == _registrationToken, "message.token");
        Require(message.GetProperty("data").EnumerateObject().All(p => p.Value.ValueKind == JsonValueKind.String), "data values are strings");
        Require(message.GetProperty("data").GetProperty("conversation_id").GetString() == conversation.ToString(), "data.conversation_id");
        Require(!message.TryGetProperty("notification", out _), "a data message, no notification text");
        Require(message.GetProperty("android").GetProperty("priority").GetString() == "HIGH", "android.priority HIGH");
        return sendStatus switch
        {
            200 => new PushAnswer(200, $$"""{"name":"projects/{{Project}}/messages/0:{{Guid.NewGuid():N}}"}"""),
            401 => new PushAnswer(401, """{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"""),
            _ => new PushAnswer(404, """{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}"""),
        };
    }
}
