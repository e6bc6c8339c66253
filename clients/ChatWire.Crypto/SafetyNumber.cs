using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace ChatWire.Crypto;

/// <summary>
/// Safety numbers (docs/e2e.md "Safety numbers and recovery key"): 60 digits over the two users' account signing keys,
/// the same on both sides, shown as 12 groups of 5. Device changes do not change it; an account key change does.
/// </summary>
public static class SafetyNumber
{
    private const ushort Version = 0;
    private const int Iterations = 5200;

    /// <summary>The 60-digit safety number of two users (order of the arguments does not matter).</summary>
    public static string Compute(Guid userA, ReadOnlySpan<byte> accountKeyA, Guid userB, ReadOnlySpan<byte> accountKeyB)
    {
        var a = Half(userA, accountKeyA);
        var b = Half(userB, accountKeyB);
        return string.CompareOrdinal(a, b) <= 0 ? a + b : b + a;
    }

    /// <summary>The number as people compare it: 12 groups of 5 digits separated by spaces.</summary>
    public static string Format(string safetyNumber)
    {
        var digits = Digits(safetyNumber) ?? throw new ArgumentException("A safety number is 60 digits.", nameof(safetyNumber));
        return string.Join(' ', Enumerable.Range(0, 12).Select(group => digits.Substring(group * 5, 5)));
    }

    /// <summary>Whether two safety numbers (spaces ignored) are the same, in constant time.</summary>
    public static bool Matches(string expected, string actual)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        var x = Digits(expected);
        var y = Digits(actual);
        return x is not null && y is not null && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(x), Encoding.ASCII.GetBytes(y));
    }

    // Signal's fingerprint construction with SHA-256: d = u16 version || ASK_pub || user_id; 5200 times d = SHA-256(d ||
    // ASK_pub); six 5-byte big-endian chunks of the result, each mod 100000, as 5 digits.
    internal static string Half(Guid userId, ReadOnlySpan<byte> accountKey)
    {
        if (accountKey.Length != Primitives.KeySize)
        {
            throw ChatWireCryptoException.Malformed("An account signing key is 32 bytes.");
        }

        var data = new ByteWriter(64).U16(Version).Bytes(accountKey).Id(userId).ToArray();
        var buffer = new byte[32 + 32];
        accountKey.CopyTo(buffer.AsSpan(32));
        byte[] hash = [];
        for (var i = 0; i < Iterations; i++)
        {
            hash = SHA256.HashData(i == 0 ? [.. data, .. accountKey] : buffer);
            hash.CopyTo(buffer, 0);
        }

        var digits = new StringBuilder(30);
        Span<byte> chunk = stackalloc byte[8];
        for (var i = 0; i < 6; i++)
        {
            chunk.Clear();
            hash.AsSpan(i * 5, 5).CopyTo(chunk[3..]);
            var value = BinaryPrimitives.ReadUInt64BigEndian(chunk) % 100000;
            digits.Append(value.ToString("D5", System.Globalization.CultureInfo.InvariantCulture));
        }

        return digits.ToString();
    }

    private static string? Digits(string text)
    {
        var digits = text.Replace(" ", "", StringComparison.Ordinal);
        return digits.Length == 60 && digits.All(char.IsAsciiDigit) ? digits : null;
    }
}
