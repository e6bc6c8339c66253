using System.Security.Authentication;
using System.Security.Cryptography;
using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// TLS trust options against the gateway's TLS listener, which presents the self-signed development
// certificate it made in its data directory.
public sealed class ChatWireConnectionTlsTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private TestServer Server => fixture.Server;

    [Fact]
    public async Task ConnectAsync_PinnedCertificateMatches_ConnectsAndSpeaksTheProtocol()
    {
        var user = await Server.SignupAsync();
        var (_, generalId) = await user.CreateTeamAsync();
        var hex = Server.DevelopmentCertificateSha256;
        var pin = string.Join(':', Enumerable.Range(0, hex.Length / 2).Select(i => hex.Substring(i * 2, 2)));

        await using var connection = await ChatWireConnection.ConnectAsync(TlsOptions(user) with { PinnedCertificateSha256 = pin }).WaitAsync(Patience.Default);
        var sent = await connection.SendTextAsync(generalId, "over tls").WaitAsync(Patience.Default);
        var page = await connection.GetHistoryAsync(generalId, 0, HistoryDirection.After).WaitAsync(Patience.Default);

        Assert.Equal(user.UserId, connection.UserId);
        Assert.Equal(ConnectionState.Connected, connection.State);
        Assert.Equal(sent.MessageId, Assert.Single(Sdk.Messages(page)).EventId);
    }

    [Fact]
    public async Task ConnectAsync_PinnedCertificateDiffers_FailsTheTlsHandshake()
    {
        var user = await Server.SignupAsync();
        var wrongPin = Convert.ToHexString(SHA256.HashData("another certificate"u8));

        await Assert.ThrowsAsync<AuthenticationException>(() =>
            ChatWireConnection.ConnectAsync(TlsOptions(user) with { PinnedCertificateSha256 = wrongPin }).WaitAsync(Patience.Default));
    }

    [Fact]
    public async Task ConnectAsync_UntrustedCertificateWithoutOptIn_FailsTheTlsHandshake()
    {
        var user = await Server.SignupAsync();

        await Assert.ThrowsAsync<AuthenticationException>(() => ChatWireConnection.ConnectAsync(TlsOptions(user)).WaitAsync(Patience.Default));
    }

    [Fact]
    public async Task ConnectAsync_AllowUntrustedCertificate_Connects()
    {
        var user = await Server.SignupAsync();

        await using var connection = await ChatWireConnection.ConnectAsync(TlsOptions(user) with { AllowUntrustedCertificate = true, TlsTargetHost = null })
            .WaitAsync(Patience.Default);

        Assert.Equal(ConnectionState.Connected, connection.State);
        Assert.Equal(user.DeviceId, connection.DeviceId);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("00112233")]
    public async Task ConnectAsync_MalformedPin_ThrowsBeforeConnecting(string pin)
    {
        var options = new ChatWireConnectionOptions { Host = "127.0.0.1", Port = 1, SessionToken = "t", DeviceId = Guid.CreateVersion7(), UseTls = true, PinnedCertificateSha256 = pin };

        await Assert.ThrowsAsync<ArgumentException>(() => ChatWireConnection.ConnectAsync(options));
    }

    private ChatWireConnectionOptions TlsOptions(TestUser user) => Sdk.Options(user, ReconnectPolicy.Disabled) with
    {
        Port = Server.TlsEndPoint.Port,
        UseTls = true,
        TlsTargetHost = "localhost",
    };
}
