using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests.Push;

// PUT/GET/DELETE /v1/push/registration and the preference endpoints (docs/http-api.md, push notifications).
public sealed class PushRegistrationTests
{
    [Fact]
    public async Task RegisterPush_Again_ReplacesTheDevicesRegistration()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver);
        var alice = await server.SignupAsync();
        var first = await PushFixture.RegisterWebhookAsync(alice, receiver, "one");

        var second = await PushFixture.RegisterWebhookAsync(alice, receiver, "two");

        var current = await alice.CallAsync(HttpMethod.Get, "v1/push/registration");
        Assert.Equal(("webhook", PushFixture.HookUrl(receiver, "two")), (current.GetProperty("provider").GetString(), current.GetProperty("token").GetString()));
        Assert.Equal(alice.DeviceId, current.GetProperty("device_id").GetGuid());
        Assert.Equal(Convert.ToBase64String(second), current.GetProperty("webhook_secret").GetString());
        Assert.NotEqual(first, second);
    }

    [Fact]
    public async Task ServerInfo_ListsTheConfiguredProviders_AndNotTheOthers()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver);

        var info = await server.Http.GetFromJsonAsync<JsonElement>("v1/server-info");

        Assert.Equal(["webhook"], info.GetProperty("push_providers").EnumerateArray().Select(p => p.GetString()));
    }

    [Fact]
    public async Task Logout_Registered_RegistrationGone()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver);
        var alice = await server.SignupAsync();
        var phone = await server.LoginAsync(alice);
        var tablet = await server.LoginAsync(alice);
        foreach (var device in new[] { alice, phone, tablet })
        {
            await PushFixture.RegisterWebhookAsync(device, receiver, device.DeviceId.ToString("N"));
        }

        var store = (Storage.Push.IPushStore)server.Server.App.Services.GetService(typeof(Storage.Push.IPushStore))!;
        Assert.Equal(HttpStatusCode.NoContent, (await alice.SendAsync(HttpMethod.Post, "v1/accounts/logout")).StatusCode);
        Assert.Null(await store.GetPushTokenAsync(alice.DeviceId));
        Assert.Equal(HttpStatusCode.NoContent, (await phone.SendAsync(HttpMethod.Delete, $"v1/sessions/{tablet.DeviceId}")).StatusCode);
        Assert.Null(await store.GetPushTokenAsync(tablet.DeviceId));
        Assert.NotNull(await store.GetPushTokenAsync(phone.DeviceId));
        Assert.Equal(HttpStatusCode.NoContent, (await phone.SendAsync(HttpMethod.Delete, "v1/sessions")).StatusCode);
        Assert.Null(await store.GetPushTokenAsync(phone.DeviceId));
    }

    [Fact]
    public async Task UnregisterPush_Registered_GoneThenNotFound()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver);
        var alice = await server.SignupAsync();
        await PushFixture.RegisterWebhookAsync(alice, receiver);

        Assert.Equal(HttpStatusCode.NoContent, (await alice.SendAsync(HttpMethod.Delete, "v1/push/registration")).StatusCode);

        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Delete, "v1/push/registration"), HttpStatusCode.NotFound, "NOT_FOUND", null);
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Get, "v1/push/registration"), HttpStatusCode.NotFound, "NOT_FOUND", null);
    }

    [Theory]
    [InlineData("gcm", "abc", "provider")]
    [InlineData("webhook", "http://example.com/hook", "token")]
    [InlineData("webhook", "https://user:pw@example.com/hook", "token")]
    [InlineData("webhook", "not a url", "token")]
    [InlineData("apns", "xyz", "token")]
    [InlineData("apns", "abcd", "token")]
    [InlineData("fcm", "has spaces in it", "token")]
    [InlineData("fcm", "valid-token:123", "provider")]
    public async Task RegisterPush_BadInput_ValidationFailedNamingTheField(string provider, string token, string field)
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver);
        var alice = await server.SignupAsync();

        var response = await alice.SendAsync(HttpMethod.Put, "v1/push/registration", new { provider, token });

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "VALIDATION_FAILED", field);
    }

    [Fact]
    public async Task RegisterPush_LoopbackWebhookNotAllowed_Refused()
    {
        await using var receiver = await PushReceiver.StartAsync();
        var settings = PushFixture.Settings(receiver);
        settings.Remove("Push:AllowPrivateWebhooks");
        await using var server = await TestServer.StartAsync(settings);
        var alice = await server.SignupAsync();

        foreach (var url in new[] { PushFixture.HookUrl(receiver, "a"), "https://localhost/x", "https://10.1.2.3/x", "https://169.254.169.254/latest", "https://[::1]/x", "https://[fd00::1]/x" })
        {
            var response = await alice.SendAsync(HttpMethod.Put, "v1/push/registration", new { provider = "webhook", token = url });
            await AssertProblemAsync(response, HttpStatusCode.BadRequest, "VALIDATION_FAILED", "token");
        }
    }

    [Fact]
    public async Task RegisterPush_WebhookWithoutSigningKey_ProviderRefused()
    {
        await using var receiver = await PushReceiver.StartAsync();
        var settings = PushFixture.Settings(receiver);
        settings.Remove("Push:Webhook:SigningKey");
        await using var server = await TestServer.StartAsync(settings);
        var alice = await server.SignupAsync();

        var response = await alice.SendAsync(HttpMethod.Put, "v1/push/registration", new { provider = "webhook", token = PushFixture.HookUrl(receiver, "a") });

        // Not resolved, so not refused as internal: a server that sends no webhooks looks no names up for its users.
        var internalName = await alice.SendAsync(HttpMethod.Put, "v1/push/registration", new { provider = "webhook", token = "https://localhost/x" });

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "VALIDATION_FAILED", "provider");
        await AssertProblemAsync(internalName, HttpStatusCode.BadRequest, "VALIDATION_FAILED", "provider");
    }

    // Push:AllowPrivateWebhooks opens internal addresses only: never one that is not one server, port 0, or a URL
    // that is not printable ASCII as sent.
    [Theory]
    [InlineData("https://224.0.0.1/hook")]
    [InlineData("https://255.255.255.255/hook")]
    [InlineData("https://0/hook")]
    [InlineData("https://0.0.0.0/hook")]
    [InlineData("https://[::]/hook")]
    [InlineData("https://[ff02::1]/hook")]
    [InlineData("https://127.0.0.1:0/hook")]
    [InlineData("https://127.0.0.1/ho\u202Eok")]
    [InlineData("https://127.0.0.1/ho ok")]
    public async Task RegisterPush_PrivateWebhooksAllowed_StillNotThese(string url)
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver);
        var alice = await server.SignupAsync();

        var response = await alice.SendAsync(HttpMethod.Put, "v1/push/registration", new { provider = "webhook", token = url });

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "VALIDATION_FAILED", "token");
    }

    [Fact]
    public async Task PushPreferences_SetAndConversationLevels_ReadBack()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver);
        var (alice, _, dm) = await DeliveryTests.DmPairAsync(server);
        var defaults = await alice.CallAsync(HttpMethod.Get, "v1/push/preferences");
        Assert.Equal("mentions", defaults.GetProperty("level").GetString());

        await alice.CallAsync(HttpMethod.Put, "v1/push/preferences", new { level = "none", do_not_disturb_until = "2030-01-02T03:04:05.678Z" });
        var set = await alice.CallAsync(HttpMethod.Put, $"v1/conversations/{dm}/push", new { level = "all" });

        Assert.Equal("none", set.GetProperty("level").GetString());
        Assert.Equal("2030-01-02T03:04:05.678Z", set.GetProperty("do_not_disturb_until").GetString());
        var level = Assert.Single(set.GetProperty("conversations").EnumerateArray());
        Assert.Equal((dm, "all"), (level.GetProperty("conversation_id").GetGuid(), level.GetProperty("level").GetString()));

        var cleared = await alice.CallAsync(HttpMethod.Put, $"v1/conversations/{dm}/push", new { level = (string?)null });
        Assert.Empty(cleared.GetProperty("conversations").EnumerateArray());
        await AssertProblemAsync(await alice.SendAsync(HttpMethod.Put, "v1/push/preferences", new { level = "loud" }), HttpStatusCode.BadRequest, "VALIDATION_FAILED", "level");
        await AssertProblemAsync(
            await alice.SendAsync(HttpMethod.Put, "v1/push/preferences", new { level = "all", do_not_disturb_until = "tomorrow" }), HttpStatusCode.BadRequest, "VALIDATION_FAILED", "do_not_disturb_until");
    }

    [Fact]
    public async Task SetConversationPushLevel_NotAMember_Forbidden()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver);
        var (_, _, dm) = await DeliveryTests.DmPairAsync(server);
        var eve = await server.SignupAsync();

        await AssertProblemAsync(await eve.SendAsync(HttpMethod.Put, $"v1/conversations/{dm}/push", new { level = "all" }), HttpStatusCode.Forbidden, "NOT_A_MEMBER", null);

        // The same answer for a conversation that does not exist: it tells nothing of what exists.
        await AssertProblemAsync(await eve.SendAsync(HttpMethod.Put, $"v1/conversations/{Guid.NewGuid()}/push", new { level = "all" }), HttpStatusCode.Forbidden, "NOT_A_MEMBER", null);
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string name, string? field)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(name, problem.GetProperty("name").GetString());
        if (field is not null)
        {
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"no error for {field}: {problem}");
        }
    }
}
