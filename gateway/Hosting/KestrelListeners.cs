using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using ChatWire.Gateway.Admission;
using ChatWire.Gateway.Connections;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace ChatWire.Gateway.Hosting;

/// <summary>
/// The listeners (docs/architecture.md, "One process, five listeners"): the protocol over plain TCP, over TLS
/// and over Noise, the HTTP API, and management. Each HTTP connection is tagged with its listener so a management
/// path is never served on the API listener, whatever the Host header says.
/// </summary>
internal static class KestrelListeners
{
    public static void Configure(KestrelServerOptions kestrel, GatewayOptions gateway, X509Certificate2? certificate, Noise.NoiseServerKeys? noiseKeys, ListenerEndpoints endpoints)
    {
        kestrel.AddServerHeader = false;

        // HTTP connections are cheap to open and slow to give back: short keep-alive and header timeouts,
        // and small bodies (the API takes small JSON objects; docs/http-api.md).
        kestrel.Limits.KeepAliveTimeout = TimeSpan.FromMilliseconds(gateway.HttpKeepAliveTimeoutMs);
        kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromMilliseconds(gateway.HttpRequestHeadersTimeoutMs);
        kestrel.Limits.MaxRequestBodySize = Api.RequestLimits.MaxBodyBytes;

        // Admission is the first middleware of every listener: before TLS, before HTTP parsing.
        var admission = kestrel.ApplicationServices.GetRequiredService<AdmissionMiddleware>();
        if (EndpointParser.TryParse(gateway.TcpEndpoint, out var tcp))
        {
            kestrel.Listen(ProtocolEndPoint(tcp, gateway), listen =>
            {
                listen.Use(next => admission.For(ListenerKind.Tcp, next));
                listen.UseConnectionHandler<ChatWireConnectionHandler>();
                endpoints.Tcp = listen;
            });
        }

        if (certificate is not null && EndpointParser.TryParse(gateway.TlsEndpoint, out var tls))
        {
            kestrel.Listen(ProtocolEndPoint(tls, gateway), listen =>
            {
                listen.Use(next => admission.For(ListenerKind.Tls, next));

                // TLS makes each write of its pump one record, as the Noise layer does each flush: on the lean
                // transport, flushes that wait until sent let what comes meanwhile go into the next record.
                listen.Use(next => context =>
                {
                    if (context.Transport.Output is Transport.LeanWriter lean)
                    {
                        lean.FlushWaitsForSend = true;
                    }

                    return next(context);
                });
                listen.UseHttps(TlsOptions(certificate, gateway, Alpn));
                listen.UseConnectionHandler<ChatWireConnectionHandler>();
                endpoints.Tls = listen;
            });
        }

        if (noiseKeys is not null && EndpointParser.TryParse(gateway.NoiseEndpoint, out var noise))
        {
            var metrics = kestrel.ApplicationServices.GetRequiredService<Observability.GatewayMetrics>();
            kestrel.Listen(ProtocolEndPoint(noise, gateway), listen =>
            {
                // Admission first, as everywhere; then the Noise layer becomes the connection's transport.
                listen.Use(next => admission.For(ListenerKind.Noise, next));
                listen.Use(next => context =>
                {
                    context.Transport = new Noise.NoiseServerConnection(context.Transport, noiseKeys, metrics);
                    return next(context);
                });
                listen.UseConnectionHandler<ChatWireConnectionHandler>();
                endpoints.Noise = listen;
            });
        }

        kestrel.Listen(EndpointParser.Parse(gateway.HttpEndpoint), listen =>
        {
            listen.Protocols = HttpProtocols.Http1;
            listen.Use(next => admission.For(ListenerKind.Http, next));
            if (gateway.HttpTls && certificate is not null)
            {
                // HTTPS on the API listener itself (Gateway:HttpTls), with the TLS listener's certificate and policy.
                listen.UseHttps(TlsOptions(certificate, gateway, SslApplicationProtocol.Http11));
            }

            listen.Use(next => Tag(next, "api"));
            endpoints.Http = listen;
        });
        kestrel.Listen(EndpointParser.Parse(gateway.ManagementEndpoint), listen =>
        {
            listen.Use(next => admission.For(ListenerKind.Management, next));
            listen.Use(next => Tag(next, "management"));
            endpoints.Management = listen;
        });
    }

    /// <summary>
    /// Before anything is opened: each configured port is bound once and released, so that a port another
    /// process holds stops the start with one line (Program, exit code 2) rather than a host failure. Port 0
    /// (any free port) is not checked.
    /// </summary>
    public static void CheckPortsFree(GatewayOptions gateway)
    {
        foreach (var text in new[] { gateway.TcpEndpoint, gateway.TlsEndpoint, gateway.NoiseEndpoint, gateway.HttpEndpoint, gateway.ManagementEndpoint })
        {
            if (!EndpointParser.TryParse(text, out var endpoint) || endpoint.Port == 0)
            {
                continue;
            }

            using var probe = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                probe.Bind(endpoint);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                throw new IOException($"Failed to bind to address {text}: address already in use.", new AddressInUseException(ex.Message, ex));
            }
        }
    }

    // A protocol listener's endpoint: marked for the lean transport unless Gateway:ProtocolTransport is sockets.
    private static System.Net.IPEndPoint ProtocolEndPoint(System.Net.IPEndPoint endpoint, GatewayOptions gateway) =>
        gateway.ProtocolTransport == ProtocolTransports.Lean ? new Transport.LeanEndPoint(endpoint) : endpoint;

    private static ConnectionDelegate Tag(ConnectionDelegate next, string listener) => context =>
    {
        context.Items[ListenerEndpoints.ListenerItem] = listener;
        return next(context);
    };

    public static X509Certificate2? LoadCertificate(GatewayOptions options, string dataDirectory, out bool created)
    {
        created = false;
        if (string.IsNullOrEmpty(options.TlsEndpoint) && !options.HttpTls)
        {
            return null;
        }

        return string.IsNullOrEmpty(options.TlsCertificatePath)
            ? DevelopmentCertificate.LoadOrCreate(dataDirectory, out created)
            : X509CertificateLoader.LoadPkcs12FromFile(options.TlsCertificatePath, string.IsNullOrEmpty(options.TlsCertificatePassword) ? null : options.TlsCertificatePassword);
    }

    /// <summary>
    /// The ALPN protocol the TLS listener advertises (docs/protocol.md §1): the ChatWire protocol, version 1,
    /// not Kestrel's HTTP defaults, since no HTTP is spoken there.
    /// </summary>
    public static readonly SslApplicationProtocol Alpn = new("chatwire/1");

    private static HttpsConnectionAdapterOptions TlsOptions(X509Certificate2 certificate, GatewayOptions options, SslApplicationProtocol alpn)
    {
        var https = new HttpsConnectionAdapterOptions
        {
            ServerCertificate = certificate,
            SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            HandshakeTimeout = TimeSpan.FromMilliseconds(options.TlsHandshakeTimeoutMs),
            ClientCertificateMode = ClientCertificateMode.NoCertificate,
        };
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            // TLS 1.2 only with ECDHE and AEAD ciphers (GCM, ChaCha20-Poly1305); TLS 1.3 suites are all AEAD.
            var policy = new CipherSuitesPolicy(
            [
                TlsCipherSuite.TLS_AES_128_GCM_SHA256,
                TlsCipherSuite.TLS_AES_256_GCM_SHA384,
                TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256,
                TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                TlsCipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
            ]);
            https.OnAuthenticate = (_, ssl) =>
            {
                ssl.CipherSuitesPolicy = policy;
                ssl.ApplicationProtocols = [alpn];
            };
        }
        else
        {
            https.OnAuthenticate = (_, ssl) => ssl.ApplicationProtocols = [alpn];
        }

        return https;
    }
}
