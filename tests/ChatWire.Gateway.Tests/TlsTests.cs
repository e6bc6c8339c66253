using System.Security.Authentication;
using ChatWire.Gateway.Hosting;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Testing;
using static ChatWire.Gateway.Tests.Infrastructure.TransportSettings;

namespace ChatWire.Gateway.Tests;

// The TLS listener: the same protocol behind TLS 1.2 (AEAD suites only) and 1.3.
public class TlsTests
{
    /// <summary>The transport under the protocol listeners (Gateway:ProtocolTransport); the subclass below runs every test on the other one.</summary>
    protected virtual string ProtocolTransport => ProtocolTransports.Lean;

    private Task<TestServer> StartServerAsync(IReadOnlyDictionary<string, string?>? overrides = null, string? dataDirectory = null) =>
        TestServer.StartAsync(TransportOverride(overrides, ProtocolTransport), dataDirectory);

    [Theory]
    [InlineData(SslProtocols.Tls13)]
    [InlineData(SslProtocols.Tls12)]
    public async Task Tls_HandshakeThenProtocol_AuthenticatesAndSends(SslProtocols protocol)
    {
        await using var server = await StartServerAsync();
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        await using var receiver = await RawClient.ConnectAuthenticatedAsync(bob);
        await using var client = await RawClient.ConnectTlsAsync(server, protocol);

        await client.HandshakeAsync(alice.Token, alice.DeviceId);
        var ack = await client.SendTextAsync(dm, "over tls");

        Assert.Equal(protocol, client.Tls!.SslProtocol);
        Assert.Equal(3ul, ack.Seq);
        Assert.Equal(ack.MessageId, (await receiver.ExpectMessageAsync()).EventId);
    }

    [Fact]
    public async Task HttpTls_ApiOverHttpsWithTheServersCertificate_PlainHttpRefused()
    {
        await using var server = await StartServerAsync(new Dictionary<string, string?> { ["Gateway:HttpTls"] = "true" });
        var expected = server.DevelopmentCertificateSha256;
        string? seen = null;
        using var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) =>
            {
                seen = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(certificate!.RawData));
                return seen == expected;
            },
        };
        using var https = new HttpClient(handler) { BaseAddress = new Uri(server.ApiUrl.Replace("http://", "https://", StringComparison.Ordinal)) };

        var info = await https.GetAsync("v1/server-info");
        var refused = await https.GetAsync("v1/me");
        var plain = await Record.ExceptionAsync(() => server.Http.GetAsync("v1/server-info"));

        Assert.Equal(System.Net.HttpStatusCode.OK, info.StatusCode);
        Assert.Equal(expected, seen);
        Assert.NotNull(plain);

        // HSTS on every HTTPS answer, errors included.
        Assert.Equal(["max-age=31536000"], info.Headers.GetValues("Strict-Transport-Security"));
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(["max-age=31536000"], refused.Headers.GetValues("Strict-Transport-Security"));
    }

    [Fact]
    public async Task Alpn_ChatwireIsNegotiated_HttpOnlyOffersAreRefused()
    {
        await using var server = await StartServerAsync();

        var chatwire = await HandshakeAsync(server, [new System.Net.Security.SslApplicationProtocol("chatwire/1"), System.Net.Security.SslApplicationProtocol.Http11]);
        var none = await HandshakeAsync(server, null);
        var httpOnly = await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(server, [System.Net.Security.SslApplicationProtocol.Http2, System.Net.Security.SslApplicationProtocol.Http11]));

        Assert.Equal("chatwire/1", chatwire);
        Assert.Equal(string.Empty, none);
        Assert.True(httpOnly is AuthenticationException or IOException, httpOnly.ToString());
    }

    [Fact]
    public async Task Tls12_NegotiatedSuite_IsEcdheWithAead()
    {
        await using var server = await StartServerAsync();
        await using var client = await RawClient.ConnectTlsAsync(server, SslProtocols.Tls12);

        var suite = client.Tls!.NegotiatedCipherSuite.ToString();

        Assert.StartsWith("TLS_ECDHE_", suite);
        Assert.True(suite.Contains("_GCM_", StringComparison.Ordinal) || suite.Contains("CHACHA20_POLY1305", StringComparison.Ordinal), suite);
    }

    [Fact]
    public async Task Tls_CertificateGeneratedOnce_ReusedAfterRestart()
    {
        var data = Path.Combine(Path.GetTempPath(), "chatwire-cert-" + Guid.NewGuid().ToString("N"));
        try
        {
            string first;
            await using (var server = await StartServerAsync(dataDirectory: data))
            await using (var client = await RawClient.ConnectTlsAsync(server, SslProtocols.Tls13))
            {
                first = client.Tls!.RemoteCertificate!.GetCertHashString();
            }

            await using var again = await StartServerAsync(dataDirectory: data);
            await using var second = await RawClient.ConnectTlsAsync(again, SslProtocols.Tls13);

            Assert.Equal(first, second.Tls!.RemoteCertificate!.GetCertHashString());
            Assert.True(File.Exists(Path.Combine(data, "dev-certificate.pfx")));
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    private static async Task<string> HandshakeAsync(TestServer server, List<System.Net.Security.SslApplicationProtocol>? offered)
    {
        var pinned = server.DevelopmentCertificateSha256;
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(server.TlsEndPoint);
        await using var tls = new System.Net.Security.SslStream(
            tcp.GetStream(),
            leaveInnerStreamOpen: false,
            (_, certificate, _, _) => certificate is not null && Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(certificate.GetRawCertData())) == pinned);
        await tls.AuthenticateAsClientAsync(new System.Net.Security.SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ApplicationProtocols = offered,
        });
        return tls.NegotiatedApplicationProtocol.ToString();
    }
}

/// <summary>Every test of <see cref="TlsTests"/> again, with the TLS listener on Kestrel's socket transport.</summary>
public sealed class TlsOnSocketsTests : TlsTests
{
    protected override string ProtocolTransport => ProtocolTransports.Sockets;
}
