using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests.Push;

/// <summary>What the push tests share: the settings that point the gateway at a local receiver, and checks of what arrives.</summary>
internal static class PushFixture
{
    /// <summary>The operator's webhook signing key of every test gateway.</summary>
    public static readonly string SigningKey = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    /// <summary>A short delay so the tests are quick, a fast poll, quick retries, and the receiver trusted.</summary>
    public static Dictionary<string, string?> Settings(PushReceiver receiver, int delayMs = 1500) => new()
    {
        ["Push:DelayMs"] = delayMs.ToString(CultureInfo.InvariantCulture),
        ["Push:PollIntervalMs"] = "100",
        ["Push:RetryBaseMs"] = "50",
        ["Push:AllowPrivateWebhooks"] = "true",
        ["Push:Webhook:SigningKey"] = SigningKey,
        ["Push:TrustedCertificatePath"] = receiver.CertificatePath,
    };

    /// <summary>Alice, bob and carol in one team, and alice's DMs with bob and with carol.</summary>
    public static async Task<(TestUser Alice, TestUser Bob, TestUser Carol, Guid AliceBob, Guid AliceCarol)> ThreeInATeamAsync(TestServer server)
    {
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var carol = await server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        await carol.JoinAsync(await alice.InviteAsync(teamId));
        return (alice, bob, carol, await alice.OpenDmAsync(bob.Username), await alice.OpenDmAsync(carol.Username));
    }

    public static Task<TestServer> StartServerAsync(PushReceiver receiver, int delayMs = 1500) => TestServer.StartAsync(Settings(receiver, delayMs));

    /// <summary>Registers the user's device for webhook pushes to <c>hook/{name}</c> on the receiver; the registration's signing secret.</summary>
    public static async Task<byte[]> RegisterWebhookAsync(TestUser user, PushReceiver receiver, string? name = null)
    {
        var registration = await user.CallAsync(HttpMethod.Put, "v1/push/registration", new { provider = "webhook", token = HookUrl(receiver, name ?? user.Username) });
        return Convert.FromBase64String(registration.GetProperty("webhook_secret").GetString()!);
    }

    public static string HookUrl(PushReceiver receiver, string name) => new Uri(receiver.BaseAddress, "hook/" + name).ToString();

    /// <summary>Checks the request's ChatWire-Signature against the secret (t=…,v1=hex HMAC-SHA256 of "t.body").</summary>
    public static void AssertSigned(ReceivedPush push, byte[] secret)
    {
        var parts = push.Header("ChatWire-Signature").Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        var stamp = long.Parse(parts["t"], CultureInfo.InvariantCulture);
        Assert.InRange(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - stamp, -60, 300);
        var signed = Encoding.ASCII.GetBytes(parts["t"] + ".").Concat(push.Body).ToArray();
        Assert.Equal(Convert.ToHexStringLower(HMACSHA256.HashData(secret, signed)), parts["v1"]);
    }

    /// <summary>The payload fields every notification carries, and nothing else (no content).</summary>
    public static JsonElement AssertPayload(ReceivedPush push, Guid conversation, Guid sender, string kind)
    {
        var body = push.Json;
        Assert.Equal(
            ["badge", "conversation_id", "count", "device_id", "kind", "message_id", "sender_id", "seq", "type", "unread"],
            body.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal("chatwire.notification", body.GetProperty("type").GetString());
        Assert.Equal(conversation, body.GetProperty("conversation_id").GetGuid());
        Assert.Equal(sender, body.GetProperty("sender_id").GetGuid());
        Assert.Equal(kind, body.GetProperty("kind").GetString());
        return body;
    }
}
