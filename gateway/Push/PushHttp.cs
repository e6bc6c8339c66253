using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace ChatWire.Gateway.Push;

/// <summary>
/// The HTTP clients the providers use: no redirects, no cookies, a timeout per request, and the system's
/// trust plus the operator's extra CA (<c>Push:TrustedCertificatePath</c>, for a private CA in front of a
/// webhook receiver, or the local receivers of the tests).
/// </summary>
internal static class PushHttp
{
    public static HttpClient Create(PushOptions options, Version version, Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>>? connect = null)
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromMilliseconds(options.RequestTimeoutMs),
            EnableMultipleHttp2Connections = true,
        };
        if (connect is not null)
        {
            handler.ConnectCallback = connect;
        }

        if (!string.IsNullOrEmpty(options.TrustedCertificatePath))
        {
            var extra = X509CertificateLoader.LoadCertificateFromFile(options.TrustedCertificatePath);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) => Validate(extra, certificate, chain, errors);
        }

        return new HttpClient(handler)
        {
            Timeout = TimeSpan.FromMilliseconds(options.RequestTimeoutMs),
            DefaultRequestVersion = version,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
    }

    // The name must match in any case; the chain may end at the system's roots or at the extra certificate.
    private static bool Validate(X509Certificate2 extra, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }

        if ((errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0 || certificate is null)
        {
            return false;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.Add(extra);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
        {
            foreach (var element in chain.ChainElements.Skip(1))
            {
                custom.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        return custom.Build(new X509Certificate2(certificate));
    }
}
