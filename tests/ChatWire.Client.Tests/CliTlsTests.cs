using System.Security.Cryptography.X509Certificates;
using ChatWire.Cli;
using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// A server with TLS only: the CLI refuses its self-signed certificate with a hint, and --insecure or
// --ca-file, once they connected, are remembered in the profile.
public sealed class CliTlsTests
{
    [Fact]
    public async Task UntrustedCertificate_SuggestsInsecure_WhichIsSavedInTheProfile_AndCaFileTrustsTheIssuer()
    {
        // Neither plain TCP nor Noise: the CLI must take TLS, the transport under test.
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Gateway:TcpEndpoint"] = string.Empty, ["Gateway:NoiseEndpoint"] = string.Empty });
        var crew = await Crew.CreateAsync(server);
        using var cli = new CliHarness(server);
        cli.LogIn(crew.Alice);
        cli.LogIn(crew.Bob, "bob");

        var refused = await cli.RunAsync("send", "general", "over TLS");
        var insecure = await cli.RunAsync("--insecure", "send", "general", "over TLS");
        var remembered = await cli.RunAsync("send", "general", "still over TLS");

        Assert.Equal(CliApp.ExitFailed, refused.Exit);
        Assert.Contains("--insecure", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(CliApp.ExitOk, insecure.Exit);
        Assert.Equal(CliApp.ExitOk, remembered.Exit);
        Assert.True(cli.Profiles.Load(ProfileStore.DefaultProfile)!.Insecure);

        // The development certificate is its own issuer: trusting it as a CA verifies the chain and the name.
        var pem = Path.Combine(server.DataDirectory, "dev-ca.pem");
        using (var certificate = X509CertificateLoader.LoadPkcs12FromFile(Path.Combine(server.DataDirectory, "dev-certificate.pfx"), password: null))
        {
            await File.WriteAllTextAsync(pem, certificate.ExportCertificatePem());
        }

        var withCa = await cli.RunAsync("--profile", "bob", "--ca-file", pem, "send", "general", "verified");
        var bobRemembers = await cli.RunAsync("--profile", "bob", "send", "general", "verified again");

        Assert.Equal(CliApp.ExitOk, withCa.Exit);
        Assert.Equal(CliApp.ExitOk, bobRemembers.Exit);
        Assert.Equal(pem, cli.Profiles.Load("bob")!.CaFile);
        Assert.False(cli.Profiles.Load("bob")!.Insecure);
    }
}
