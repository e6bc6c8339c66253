namespace ChatWire.Client.Internal;

// A pinned value (a certificate hash, a Noise server key) as people copy it: hex digits in any case, with the colons,
// spaces or dashes that tools print between bytes.
internal static class PinnedHex
{
    /// <summary>The <paramref name="length"/> bytes in <paramref name="hex"/>; <paramref name="what"/> names the value in errors.</summary>
    /// <exception cref="ArgumentException">Not hex, or not <paramref name="length"/> bytes.</exception>
    public static byte[] Parse(string hex, int length, string what, string paramName)
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
            throw new ArgumentException($"{what} must be {length * 2} hex digits.", paramName, ex);
        }

        return bytes.Length == length
            ? bytes
            : throw new ArgumentException($"{what} must be {length} bytes ({length * 2} hex digits); got {bytes.Length} bytes.", paramName);
    }
}
