using System.Globalization;

namespace ChatWire.Gateway.Api;

/// <summary>
/// Key material in request bodies: standard base64 (with padding) of an exact length for keys (32 bytes),
/// signatures (64) and hashes (32), and of a bounded length for sealed blobs. Anything else is VALIDATION_FAILED
/// naming the field: a key of the wrong length would only fail later, on some other device.
/// </summary>
internal static class KeyValidation
{
    public const int KeyLength = 32;

    public const int SignatureLength = 64;

    public const int HashLength = 32;

    /// <summary>A sealed sender-chain seed: a history-mode seal is 252 bytes, a strict-mode one-shot a few more.</summary>
    public const int MaxSealedSeedLength = 2048;

    /// <summary>A link payload carries the account and history private keys sealed to the new device.</summary>
    public const int MaxLinkPayloadLength = 32 * 1024;

    /// <summary>A recovery backup carries the account and history private keys sealed under the recovery key.</summary>
    public const int MaxRecoveryBackupLength = 32 * 1024;

    public static byte[] Exact(string field, string? value, int length)
    {
        var bytes = Decode(field, value);
        return bytes.Length == length
            ? bytes
            : throw RequestRefusedException.Validation(field, string.Create(CultureInfo.InvariantCulture, $"{field} must be {length} bytes (base64); got {bytes.Length}."));
    }

    public static byte[] Bounded(string field, string? value, int max)
    {
        var bytes = Decode(field, value);
        return bytes.Length is > 0 and var n && n <= max
            ? bytes
            : throw RequestRefusedException.Validation(field, string.Create(CultureInfo.InvariantCulture, $"{field} must be 1 to {max} bytes (base64)."));
    }

    public static int Positive(string field, int? value) =>
        value is > 0 and var v ? v : throw RequestRefusedException.Validation(field, $"{field} is required: a positive integer.");

    public static long Positive(string field, long? value) =>
        value is > 0 and var v ? v : throw RequestRefusedException.Validation(field, $"{field} is required: a positive integer.");

    public static string Encode(byte[] bytes) => Convert.ToBase64String(bytes);

    private static byte[] Decode(string field, string? value)
    {
        var text = Validation.Required(field, value);
        var buffer = new byte[(text.Length / 4 * 3) + 3];

        return TryDecodeStrict(text, buffer, out var written)
            ? buffer.AsSpan(0, written).ToArray()
            : throw RequestRefusedException.Validation(field, $"{field} must be standard base64 with padding.");
    }

    /// <summary>
    /// Standard base64 with its padding and nothing else: the runtime's decoder skips spaces, tabs and line breaks
    /// anywhere in the text, so two different strings would stand for the same key.
    /// </summary>
    public static bool TryDecodeStrict(string text, Span<byte> bytes, out int written)
    {
        written = 0;
        return !text.AsSpan().ContainsAny(" \t\r\n") && Convert.TryFromBase64String(text, bytes, out written);
    }
}
