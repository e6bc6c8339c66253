using ChatWire.Testing;

namespace ChatWire.Gateway.Tests.Infrastructure;

/// <summary>
/// The transports the protocol suite runs over, one theory case each: plain TCP on the gateway's default connection
/// transport, plain TCP on Kestrel's socket transport, TLS and Noise. A test takes the case's name, starts its server
/// with <see cref="StartAsync"/>, and its <see cref="RawClient"/>s then connect over that transport.
/// </summary>
public static class TransportCases
{
    public static TheoryData<string> All => ["tcp", "tcp-sockets", "tls", "noise"];

    public static async Task<TestServer> StartAsync(string transport, IReadOnlyDictionary<string, string?>? overrides = null, string? dataDirectory = null)
    {
        var settings = transport == "tcp-sockets"
            ? TransportSettings.TransportOverride(overrides, Hosting.ProtocolTransports.Sockets)
            : overrides;
        var server = await TestServer.StartAsync(settings, dataDirectory);
        server.Wire = transport switch
        {
            "tcp" or "tcp-sockets" => WireTransport.Tcp,
            "tls" => WireTransport.Tls,
            "noise" => WireTransport.Noise,
            _ => throw new ArgumentOutOfRangeException(nameof(transport), transport, "Not a protocol transport."),
        };
        return server;
    }
}
