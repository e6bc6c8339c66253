using System.Security.Cryptography;
using System.Text;

namespace ChatWire.Gateway.Keys;

/// <summary>
/// The link code of a device (docs/e2e.md, "Linking a device"): base32 (RFC 4648 alphabet, no padding) of the first
/// 50 bits of SHA-256("CW-link-v1" || user_id || device_id || DSK_pub || DDK_pub), ids as their 16 bytes in RFC 9562
/// order. Ten characters, shown "XXXXX-XXXXX"; the server keeps and matches them without the dash. The server
/// computes it from the keys it stores, so the code the new device shows and the keys the approving device is
/// offered cannot differ without the user seeing it.
/// </summary>
internal static class LinkCode
{
    public const int Length = 10;

    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    private static readonly byte[] Label = Encoding.ASCII.GetBytes("CW-link-v1");

    public static string Compute(Guid userId, Guid deviceId, ReadOnlySpan<byte> signingKey, ReadOnlySpan<byte> dhKey)
    {
        Span<byte> input = stackalloc byte[10 + 16 + 16 + 32 + 32];
        Label.CopyTo(input);
        userId.TryWriteBytes(input[10..], bigEndian: true, out _);
        deviceId.TryWriteBytes(input[26..], bigEndian: true, out _);
        signingKey.CopyTo(input[42..]);
        dhKey.CopyTo(input[74..]);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(input, hash);

        // 50 bits = ten 5-bit groups, most significant first.
        var bits = ((ulong)hash[0] << 42) | ((ulong)hash[1] << 34) | ((ulong)hash[2] << 26) | ((ulong)hash[3] << 18)
            | ((ulong)hash[4] << 10) | ((ulong)hash[5] << 2) | ((ulong)hash[6] >> 6);
        Span<char> code = stackalloc char[Length];
        for (var i = 0; i < Length; i++)
        {
            code[i] = Alphabet[(int)((bits >> (45 - (5 * i))) & 0x1F)];
        }

        return new string(code);
    }

    /// <summary>A code as a user typed it ("abcde-fghij", any case, with or without the dash) in stored form; null when it is not one.</summary>
    public static string? Normalize(string? typed)
    {
        if (typed is null)
        {
            return null;
        }

        var code = typed.Replace("-", string.Empty, StringComparison.Ordinal).ToUpperInvariant();
        return code.Length == Length && code.All(c => Alphabet.Contains(c, StringComparison.Ordinal)) ? code : null;
    }
}
