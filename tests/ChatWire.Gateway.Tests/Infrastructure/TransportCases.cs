using ChatWire.Testing;

namespace ChatWire.Gateway.Tests.Infrastructure;

/// <summary>
/// The transports the protocol suite runs over, one theory case each: plain TCP, TLS and Noise on the gateway's
/// default connection transport (the lean transport), and plain TCP and Noise on Kestrel's socket transport. A test takes the
/// case's name, starts its server with <see cref="StartAsync"/>, and its <see cref="RawClient"/>s then connect over
/// that transport.
/// </summary>
public static class TransportCases
{
    public static TheoryData<string> All => ["tcp", "tcp-sockets", "tls", "noise", "noise-sockets"];

    public static async Task<TestServer> StartAsync(string transport, IReadOnlyDictionary<string, string?>? overrides = null, string? dataDirectory = null)
    {
        var settings = transport.EndsWith("-sockets", StringComparison.Ordinal)
            ? TransportSettings.TransportOverride(overrides, Hosting.ProtocolTransports.Sockets)
            : overrides;
        var server = await TestServer.StartAsync(settings, dataDirectory);
        server.Wire = transport switch
        {
            "tcp" or "tcp-sockets" => WireTransport.Tcp,
            "tls" => WireTransport.Tls,
            "noise" or "noise-sockets" => WireTransport.Noise,
            _ => throw new ArgumentOutOfRangeException(nameof(transport), transport, "Not a protocol transport."),
        };
        return server;
    }
}
