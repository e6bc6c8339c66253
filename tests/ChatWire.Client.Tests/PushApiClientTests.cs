using ChatWire.Protocol;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// The SDK's push registration and preference calls against the real gateway.
public sealed class PushApiClientTests
{
    private const string Password = "correct horse battery";

    [Fact]
    public async Task RegisterPush_Webhook_SecretReturnedThenUnregistered()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Push:AllowPrivateWebhooks"] = "true",
            ["Push:Webhook:SigningKey"] = Convert.ToBase64String(new byte[32]),
        });
        using var api = new ChatWireApiClient(server.ApiBaseAddress);
        var me = await api.SignupAsync(new SignupRequest("u" + Guid.NewGuid().ToString("N")[..12], Password));

        var registration = await api.RegisterPushAsync("webhook", "https://127.0.0.1:9/hook");
        var readBack = await api.GetPushRegistrationAsync();
        await api.UnregisterPushAsync();
        var gone = await Assert.ThrowsAsync<ChatWireException>(() => api.GetPushRegistrationAsync());

        Assert.Equal((me.DeviceId, "webhook", "https://127.0.0.1:9/hook"), (registration.DeviceId, registration.Provider, registration.Token));
        Assert.Equal(32, registration.WebhookSecret?.Length);
        Assert.Equal((me.DeviceId, "webhook", "https://127.0.0.1:9/hook"), (readBack.DeviceId, readBack.Provider, readBack.Token));
        Assert.Equal(ErrorCode.NotFound, gone.Code);
        var again = await Assert.ThrowsAsync<ChatWireException>(() => api.UnregisterPushAsync());
        Assert.Equal(ErrorCode.NotFound, again.Code);
        var unconfigured = await Assert.ThrowsAsync<ChatWireException>(() => api.RegisterPushAsync("apns", new string('a', 64)));
        Assert.Equal(ErrorCode.ValidationFailed, unconfigured.Code);
    }

    [Fact]
    public async Task SetPushPreferences_LevelsAndDoNotDisturb_ReadBack()
    {
        await using var server = await TestServer.StartAsync();
        using var api = new ChatWireApiClient(server.ApiBaseAddress);
        await api.SignupAsync(new SignupRequest("u" + Guid.NewGuid().ToString("N")[..12], Password));
        var team = await api.CreateTeamAsync("Team");
        var until = new DateTimeOffset(2030, 1, 2, 3, 4, 5, 678, TimeSpan.Zero);

        await api.SetPushPreferencesAsync("all", until);
        var preferences = await api.SetConversationPushLevelAsync(team.GeneralChannelId, "none");

        Assert.Equal(("all", (DateTimeOffset?)until), (preferences.Level, preferences.DoNotDisturbUntil));
        Assert.Equal([new ConversationPushLevel(team.GeneralChannelId, "none")], preferences.Conversations);
        Assert.Empty((await api.SetConversationPushLevelAsync(team.GeneralChannelId, null)).Conversations);
        Assert.Equal("all", (await api.GetPushPreferencesAsync()).Level);
    }
}
