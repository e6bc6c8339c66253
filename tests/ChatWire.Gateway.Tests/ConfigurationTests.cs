using ChatWire.Testing;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Tests;

// Configuration is validated before the server touches the disk or binds a socket, every problem at once.
public sealed class ConfigurationTests
{
    [Fact]
    public async Task Start_InvalidSettings_RefusedWithOneLinePerProblem()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Auth:Argon2MemoryKib"] = "1024",
            ["Gateway:TcpEndpoint"] = "not-an-endpoint",
            ["Gateway:MaxOutboundBytes"] = "1000",
        }));

        Assert.Contains(ex.Failures, f => f.Contains("Auth:Argon2MemoryKib must be at least 19456", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("Gateway:TcpEndpoint must be host:port", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("Gateway:MaxOutboundBytes must be at least twice MaxFrameLength", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Start_NoiseSettingsOutOfRange_Refused()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:NoisePreviousKeyAcceptedDays"] = "-1",
            ["Gateway:NoiseEndpoint"] = "nowhere",
        }));

        Assert.Contains(ex.Failures, f => f.Contains("Gateway:NoisePreviousKeyAcceptedDays must be 0", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("Gateway:NoiseEndpoint must be host:port", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Start_NoiseListenerOffLoopbackWithoutPublicHost_Refused()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:NoiseEndpoint"] = "0.0.0.0:0",
        }));

        Assert.Contains(ex.Failures, f => f.Contains("Gateway:PublicHost must name the host clients connect to", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Start_ListenerOffLoopbackWithoutPublicHost_Refused()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:TlsEndpoint"] = "0.0.0.0:0",
        }));

        Assert.Contains(ex.Failures, f => f.Contains("Gateway:PublicHost must name the host clients connect to", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DebugMemory_IsNotServed_UnlessEnabled()
    {
        await using var off = await TestServer.StartAsync();
        await using var on = await TestServer.StartAsync(new Dictionary<string, string?> { ["Gateway:EnableDebugEndpoints"] = "true" });

        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await off.Management.PostAsync("debug/memory", null)).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await on.Management.PostAsync("debug/memory", null)).StatusCode);
    }
}
