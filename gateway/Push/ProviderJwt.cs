using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace ChatWire.Gateway.Push;

/// <summary>
/// The compact JWS the providers want (RFC 7515, 7519): APNs provider tokens signed ES256 (RFC 7518 §3.4:
/// the signature is r‖s, 64 bytes, which is what <see cref="ECDsa.SignData(byte[], HashAlgorithmName)"/> gives),
/// and the Google OAuth assertion signed RS256 (PKCS #1 v1.5, SHA-256).
/// </summary>
internal static class ProviderJwt
{
    public static string Es256(ECDsa key, JsonObject header, JsonObject claims)
    {
        header["alg"] = "ES256";
        var input = SigningInput(header, claims);
        return input + "." + Base64Url(key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256));
    }

    public static string Rs256(RSA key, JsonObject header, JsonObject claims)
    {
        header["alg"] = "RS256";
        header["typ"] = "JWT";
        var input = SigningInput(header, claims);
        return input + "." + Base64Url(key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }

    public static string Base64Url(ReadOnlySpan<byte> bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string SigningInput(JsonObject header, JsonObject claims) =>
        Base64Url(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." + Base64Url(Encoding.UTF8.GetBytes(claims.ToJsonString()));
}
