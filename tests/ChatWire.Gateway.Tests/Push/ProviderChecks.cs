using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace ChatWire.Gateway.Tests.Push;

/// <summary>Checks of a compact JWS as the providers check it: the header, the claims and the signature.</summary>
internal static class ProviderChecks
{
    public static (JsonElement Header, JsonElement Claims) VerifyEs256(string jwt, ECDsa key) =>
        Verify(jwt, "ES256", (input, signature) => key.VerifyData(input, signature, HashAlgorithmName.SHA256));

    public static (JsonElement Header, JsonElement Claims) VerifyRs256(string jwt, RSA key) =>
        Verify(jwt, "RS256", (input, signature) => key.VerifyData(input, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

    /// <summary>Throws unless <paramref name="condition"/> holds (a receiver's check: the failure is kept and the request answered 500).</summary>
    public static void Require(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException("The provider request is not as documented: " + what);
        }
    }

    private static (JsonElement Header, JsonElement Claims) Verify(string jwt, string algorithm, Func<byte[], byte[], bool> verify)
    {
        var parts = jwt.Split('.');
        Require(parts.Length == 3, "a JWT has three parts");
        var header = JsonDocument.Parse(FromBase64Url(parts[0])).RootElement;
        var claims = JsonDocument.Parse(FromBase64Url(parts[1])).RootElement;
        Require(header.GetProperty("alg").GetString() == algorithm, "alg " + algorithm);
        Require(verify(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), FromBase64Url(parts[2])), "the signature verifies");
        var issuedAt = DateTimeOffset.FromUnixTimeSeconds(claims.GetProperty("iat").GetInt64());
        Require((DateTimeOffset.UtcNow - issuedAt).Duration() < TimeSpan.FromMinutes(5), "iat is now");
        return (header, claims);
    }

    private static byte[] FromBase64Url(string value)
    {
        Require(!value.Contains('=', StringComparison.Ordinal) && !value.Contains('+', StringComparison.Ordinal) && !value.Contains('/', StringComparison.Ordinal), "base64url without padding");
        var padded = value.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(padded + new string('=', (4 - (padded.Length % 4)) % 4));
    }
}
