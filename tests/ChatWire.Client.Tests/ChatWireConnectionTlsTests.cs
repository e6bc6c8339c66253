using System.Security.Authentication;
using System.Security.Cryptography;
using ChatWire.Client.Tests.Infrastructure;

namespace ChatWire.Client.Tests;

// TLS trust options against a scripted peer holding a self-signed certificate made by the test.
public sealed class ChatWireConnectionTlsTests
{
    [Fact]
    public async Task ConnectAsync_PinnedCertificateMatches_Connects()
    {
        using var certificate = ScriptedPeer.CreateCertificate();
        await using var peer = ScriptedPeer.Start();
        var pin = string.Join(':', SHA256.HashData(certificate.RawData).Select(b => b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)));
        var connecting = ChatWireConnection.ConnectAsync(peer.Options() with { UseTls = true, TlsTargetHost = "localhost", PinnedCertificateSha256 = pin });

        await using var link = await peer.AcceptTlsAsync(certificate);
        await link.HandshakeAsync();
        await using var connection = await connecting.WaitAsync(ScriptedPeer.Patience);

        Assert.Equal(PeerLink.UserId, connection.UserId);
    }

    [Fact]
    public async Task ConnectAsync_PinnedCertificateDiffers_FailsTheTlsHandshake()
    {
        using var certificate = ScriptedPeer.CreateCertificate();
        await using var peer = ScriptedPeer.Start();
        var wrongPin = Convert.ToHexString(SHA256.HashData("another certificate"u8));
        var connecting = ChatWireConnection.ConnectAsync(peer.Options() with { UseTls = true, TlsTargetHost = "localhost", PinnedCertificateSha256 = wrongPin });

        _ = peer.AcceptTlsAsync(certificate);

        await Assert.ThrowsAsync<AuthenticationException>(() => connecting.WaitAsync(ScriptedPeer.Patience));
    }

    [Fact]
    public async Task ConnectAsync_UntrustedCertificateWithoutOptIn_FailsTheTlsHandshake()
    {
        using var certificate = ScriptedPeer.CreateCertificate();
        await using var peer = ScriptedPeer.Start();
        var connecting = ChatWireConnection.ConnectAsync(peer.Options() with { UseTls = true, TlsTargetHost = "localhost" });

        _ = peer.AcceptTlsAsync(certificate);

        await Assert.ThrowsAsync<AuthenticationException>(() => connecting.WaitAsync(ScriptedPeer.Patience));
    }

    [Fact]
    public async Task ConnectAsync_AllowUntrustedCertificate_Connects()
    {
        using var certificate = ScriptedPeer.CreateCertificate();
        await using var peer = ScriptedPeer.Start();
        var connecting = ChatWireConnection.ConnectAsync(peer.Options() with { UseTls = true, AllowUntrustedCertificate = true });

        await using var link = await peer.AcceptTlsAsync(certificate);
        await link.HandshakeAsync();
        await using var connection = await connecting.WaitAsync(ScriptedPeer.Patience);

        Assert.Equal(ConnectionState.Connected, connection.State);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("00112233")]
    public async Task ConnectAsync_MalformedPin_ThrowsBeforeConnecting(string pin)
    {
        var options = new ChatWireConnectionOptions { Host = "127.0.0.1", Port = 1, SessionToken = "t", DeviceId = Guid.CreateVersion7(), UseTls = true, PinnedCertificateSha256 = pin };

        await Assert.ThrowsAsync<ArgumentException>(() => ChatWireConnection.ConnectAsync(options));
    }
}
