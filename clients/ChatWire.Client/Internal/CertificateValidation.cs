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

    public static byte[] ParseSha256(string hex)
    {
        var digits = hex.Replace(":", string.Empty, StringComparison.Ordinal)
            .Replace(" ", string.Empty, StringComparison.Ordinal)
            .Replace("-", string.Empty, StringComparison.Ordinal);
        byte[] bytes;
        try
        {
            bytes = Convert.FromHexString(digits);
        }
        catch (FormatException ex)
        {
            throw new ArgumentException("PinnedCertificateSha256 must be a SHA-256 in hex.", nameof(hex), ex);
        }

        if (bytes.Length != Sha256Length)
        {
            throw new ArgumentException($"PinnedCertificateSha256 must be 32 bytes (64 hex digits); got {bytes.Length} bytes.", nameof(hex));
        }

        return bytes;
    }

    public static bool Matches(X509Certificate certificate, byte[] expectedSha256) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(certificate.GetRawCertData()), expectedSha256);
}
