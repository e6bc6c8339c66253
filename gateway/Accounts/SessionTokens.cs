using System.Buffers.Text;
using System.Security.Cryptography;

namespace ChatWire.Gateway.Accounts;

/// <summary>
/// Opaque random secrets: 256-bit session tokens and 128-bit invite codes, as base64url text. Only their
/// SHA-256 is stored, so a leaked database yields no usable token.
/// </summary>
internal static class SessionTokens
{
    public const int TokenBytes = 32;
    public const int InviteCodeBytes = 16;

    public static string NewToken() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(TokenBytes));

    public static string NewInviteCode() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(InviteCodeBytes));

    /// <summary>The stored form of a token or code; null when the text is not a well-formed secret of that size.</summary>
    public static byte[]? Hash(string text, int expectedBytes)
    {
        if (string.IsNullOrEmpty(text) || text.Length != Base64Url.GetEncodedLength(expectedBytes))
        {
            return null;
        }

        Span<byte> raw = stackalloc byte[expectedBytes];
        try
        {
            // Despite its name, it throws on a character outside the alphabet or a non-canonical last one.
            if (!Base64Url.TryDecodeFromChars(text, raw, out var written) || written != expectedBytes)
            {
                return null;
            }
        }
        catch (FormatException)
        {
            return null;
        }

        return SHA256.HashData(raw);
    }
}
