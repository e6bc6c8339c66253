using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ChatWire.Client.Internal;

// Turns the TLS trust options into the one callback SslStream takes; null keeps the platform's chain validation.
internal static class CertificateValidation
{
    private const int Sha256Length = 32;

    public static RemoteCertificateValidationCallback? Create(ChatWireConnectionOptions options)
    {
        if (options.RemoteCertificateValidationCallback is { } callback)
        {
            return callback;
        }

        if (options.PinnedCertificateSha256 is { } pin)
        {
            var expected = ParseSha256(pin);
            return (_, certificate, _, _) => certificate is not null && Matches(certificate, expected);
        }

        if (options.AllowUntrustedCertificate)
        {
            // Explicitly requested by the caller for development servers; a certificate must still be presented.
            return (_, certificate, _, _) => certificate is not null;
        }

        return null;
    }

    public static byte[] ParseSha256(string hex) => PinnedHex.Parse(hex, Sha256Length, "PinnedCertificateSha256", nameof(hex));

    public static bool Matches(X509Certificate certificate, byte[] expectedSha256) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(certificate.GetRawCertData()), expectedSha256);
}
