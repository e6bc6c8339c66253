namespace ChatWire.Crypto;

/// <summary>RFC 4648 base32 (alphabet A–Z, 2–7), without padding; decoding ignores case.</summary>
internal static class Base32
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    /// <summary>The first <paramref name="bits"/> bits of <paramref name="bytes"/> as characters, 5 bits each (bits is a multiple of 5).</summary>
    public static string EncodeBits(ReadOnlySpan<byte> bytes, int bits)
    {
        if (bits % 5 != 0 || bits > bytes.Length * 8)
        {
            throw new ArgumentOutOfRangeException(nameof(bits));
        }

        var chars = new char[bits / 5];
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = Alphabet[ReadBits(bytes, i * 5, 5)];
        }

        return new string(chars);
    }

    /// <summary>Every byte, with the last character zero-padded on the right (RFC 4648 without "=").</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var bits = bytes.Length * 8;
        var padded = new byte[bytes.Length + 1];
        bytes.CopyTo(padded);
        return EncodeBits(padded, (bits + 4) / 5 * 5);
    }

    /// <summary>Decodes <paramref name="text"/> into exactly <paramref name="byteCount"/> bytes; false on a bad character, length or non-zero pad bits.</summary>
    public static bool TryDecode(ReadOnlySpan<char> text, int byteCount, out byte[] bytes)
    {
        bytes = [];
        var totalBits = text.Length * 5;
        if (totalBits < byteCount * 8 || totalBits - (byteCount * 8) >= 5)
        {
            return false;
        }

        var result = new byte[byteCount + 1];
        for (var i = 0; i < text.Length; i++)
        {
            var value = Alphabet.IndexOf(AsciiUpper(text[i]));
            if (value < 0)
            {
                return false;
            }

            for (var b = 0; b < 5; b++)
            {
                if ((value & (0x10 >> b)) != 0)
                {
                    var bit = (i * 5) + b;
                    result[bit / 8] |= (byte)(0x80 >> (bit % 8));
                }
            }
        }

        // Bits past the last byte land in the spare byte; a canonical encoding leaves them zero.
        if (result[byteCount] != 0)
        {
            return false;
        }

        bytes = result[..byteCount];
        return true;
    }

    /// <summary>Whether every character is in the alphabet (either case).</summary>
    public static bool IsAlphabet(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (!Alphabet.Contains(AsciiUpper(c), StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    private static int ReadBits(ReadOnlySpan<byte> bytes, int offset, int count)
    {
        var value = 0;
        for (var i = 0; i < count; i++)
        {
            var bit = offset + i;
            value = (value << 1) | ((bytes[bit / 8] >> (7 - (bit % 8))) & 1);
        }

        return value;
    }

    // Only ASCII letters fold: char.ToUpperInvariant would also read 'ı' as 'I' and 'ſ' as 'S'.
    private static char AsciiUpper(char c) => char.IsAsciiLetterLower(c) ? (char)(c - ('a' - 'A')) : c;
}
