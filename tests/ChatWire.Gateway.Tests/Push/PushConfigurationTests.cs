using ChatWire.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Tests.Push;

// The Push section is checked at start with the rest of the configuration, every problem at once.
public sealed class PushConfigurationTests
{
    [Fact]
    public async Task Start_InvalidPushSettings_RefusedWithOneLinePerProblem()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Push:DelayMs"] = "0",
            ["Push:Queue"] = "redis",
            ["Push:Webhook:SigningKey"] = "c2hvcnQ=",
            ["Push:Apns:KeyId"] = "ABC123DEFG",
            ["Push:Fcm:ServiceAccountPath"] = "/nonexistent/account.json",
        }));

        Assert.Contains(ex.Failures, f => f.Contains("Push:DelayMs must be positive", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("Push:Queue redis needs Routing:Bus redis", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("Push:Webhook:SigningKey must be base64 of at least 32 bytes", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("Push:Apns needs all of KeyId, TeamId, PrivateKeyPath and Topic", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("Push:Fcm:ServiceAccountPath names no file", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Start_PushDisabled_RegistrationAcceptedNoPlannerNoQueue()
    {
        await using var receiver = await Infrastructure.PushReceiver.StartAsync();
        var settings = PushFixture.Settings(receiver);
        settings["Push:Enabled"] = "false";
        await using var server = await TestServer.StartAsync(settings);
        var bob = await server.SignupAsync();

        await PushFixture.RegisterWebhookAsync(bob, receiver);

        var hosted = server.Server.App.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().ToList();
        Assert.DoesNotContain(hosted, h => h is Gateway.Push.PushPlanner or Gateway.Push.StorePushQueue);
        Assert.Null(server.Server.App.Services.GetService<Gateway.Push.PushPlanner>());
    }
}
