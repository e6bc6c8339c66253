using System.Net;
using System.Net.Sockets;
using ChatWire.Gateway.Tests.Infrastructure;

namespace ChatWire.Gateway.Tests;

// docs/configuration.md: a start that cannot happen is one line and exit code 2, never a stack trace;
// --help and --version print and exit; unknown keys are warned about. docs/security.md, "Data at rest".
public sealed class StartupTests
{
    private static readonly Dictionary<string, string> None = [];

    [Fact]
    public async Task APortInUse_IsOneLine_AndExitCode2()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;

        var (code, output) = await GatewayChild.RunToExitAsync(new Dictionary<string, string> { ["Gateway:HttpEndpoint"] = $"127.0.0.1:{port}" });

        Assert.Equal(2, code);
        Assert.Contains("ChatWire cannot start", output, StringComparison.Ordinal);
        Assert.Contains(port.ToString(System.Globalization.CultureInfo.InvariantCulture), output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AValueOfTheWrongType_NamesTheKey_AndExitCode2()
    {
        var (code, output) = await GatewayChild.RunToExitAsync(new Dictionary<string, string> { ["Gateway:HeartbeatIntervalMs"] = "fast" });

        Assert.Equal(2, code);
        Assert.Contains("Gateway:HeartbeatIntervalMs must be a whole number; got 'fast'.", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DamagedNoiseKeyFile_NamedWithWhatToDo_AndExitCode2()
    {
        var keyFile = Path.Combine(Path.GetTempPath(), "chatwire-noise-damaged-" + Guid.NewGuid().ToString("N") + ".json");
        await File.WriteAllTextAsync(keyFile, "{\"version\": 1, \"current\": {\"private_key\": \"c2hvcnQ=\"");
        try
        {
            var (code, output) = await GatewayChild.RunToExitAsync(new Dictionary<string, string> { ["Gateway:NoiseKeyPath"] = keyFile });

            Assert.Equal(2, code);
            Assert.Contains($"The Noise key file {keyFile} is not valid JSON", output, StringComparison.Ordinal);
            Assert.Contains("Restore it from a backup", output, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(keyFile);
        }
    }

    [Theory]
    [InlineData("--help", "usage:")]
    [InlineData("--version", "protocol version 1")]
    public async Task HelpAndVersion_PrintAndExit_WithoutStarting(string flag, string expected)
    {
        var (code, output) = await GatewayChild.RunToExitAsync(None, flag);

        Assert.Equal(0, code);
        Assert.Contains(expected, output, StringComparison.Ordinal);
        Assert.DoesNotContain("listening", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnknownKey_IsWarnedAbout_AndTheDataIsPrivate()
    {
        await using var gateway = await GatewayChild.StartAsync(4096, new Dictionary<string, string> { ["Gateway:HeartbeatIntervalMS2"] = "5" });

        Assert.Contains("Unknown setting Gateway:HeartbeatIntervalMS2", gateway.Output, StringComparison.Ordinal);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(gateway.DataDirectory));
        foreach (var file in new[] { "directory.db", "messages.db" })
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(gateway.DataDirectory, file)));
        }
    }

    [Fact]
    public async Task ADataDirectoryOthersCanRead_IsWarnedAbout()
    {
        var data = Path.Combine(Path.GetTempPath(), "chatwire-open-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(data, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        try
        {
            await using var gateway = await GatewayChild.StartAsync(4096, new Dictionary<string, string> { ["Gateway:DataDirectory"] = data });

            Assert.Contains($"{data} can be read by other users of this machine", gateway.Output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }
}
