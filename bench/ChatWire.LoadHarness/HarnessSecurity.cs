using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace ChatWire.LoadHarness;

/// <summary>
/// Which protocol listener the load clients use (plain TCP, TLS with <c>--tls</c>, Noise with <c>--noise</c>) and
/// what they trust there: the development certificate, or the Noise key the gateway publishes in server-info
/// (read over loopback, as docs/protocol.md §8.1 allows).
/// </summary>
internal sealed class HarnessSecurity
{
    private readonly IPEndPoint _listener;

    private HarnessSecurity(HarnessOptions options, IPEndPoint listener)
    {
        Options = options;
        _listener = listener;
    }

    public HarnessOptions Options { get; }

    public byte[]? PinnedCertificate { get; private set; }

    public byte[]? NoiseServerKey { get; private set; }

    public string Name => Options.Tls ? "TLS 1.3" : Options.Noise ? "Noise IK" : "plain TCP";

    /// <summary>Adds the gateway settings the chosen listener needs; call <see cref="ReadTrustAsync"/> once it runs.</summary>
    public static HarnessSecurity Configure(HarnessOptions options, Dictionary<string, string> settings)
    {
        if (options.Tls && options.Noise)
        {
            throw new ArgumentException("--tls and --noise exclude each other.");
        }

        var listener = new IPEndPoint(IPAddress.Loopback, GatewayProcess.FreePort());
        if (options.Tls)
        {
            settings["Gateway:TlsEndpoint"] = listener.ToString();
        }
        else if (options.Noise)
        {
            settings["Gateway:NoiseEndpoint"] = listener.ToString();
        }

        return new HarnessSecurity(options, listener);
    }

    public IPEndPoint EndPoint(GatewayProcess gateway) => Options.Tls || Options.Noise ? _listener : gateway.TcpEndPoint;

    public async Task ReadTrustAsync(GatewayProcess gateway)
    {
        if (Options.Tls)
        {
            using var certificate = X509CertificateLoader.LoadPkcs12FromFile(Path.Combine(gateway.DataDirectory, "dev-certificate.pfx"), password: null);
            PinnedCertificate = certificate.RawData;
        }
        else if (Options.Noise)
        {
            var info = await gateway.Api.GetFromJsonAsync<JsonElement>("v1/server-info");
            NoiseServerKey = Convert.FromHexString(info.GetProperty("noise_static_public_key").GetString()!);
        }
    }

    public Task<LoadConnection> ConnectAsync(GatewayProcess gateway, IPAddress source, string token, Guid deviceId, CancellationToken cancellationToken) =>
        LoadConnection.ConnectAsync(source, EndPoint(gateway), token, deviceId, cancellationToken, PinnedCertificate, NoiseServerKey);
}
