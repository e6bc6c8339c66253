using System.Buffers;
using System.Text;

namespace ChatWire.Gateway.Conversations;

/// <summary>Unicode normalization that answers instead of throwing, for text people send.</summary>
internal static class UnicodeText
{
    /// <summary>
    /// <paramref name="text"/> in Normalization Form C, or null when it holds something that is not a character
    /// for interchange: a lone UTF-16 surrogate (JSON can spell one as <c>\ud800</c>) or a noncharacter (U+FDD0 to
    /// U+FDEF, or any code point ending in FFFE or FFFF). The platform's normalizer throws on some of these,
    /// so they are found first and the caller refuses the field.
    /// </summary>
    public static string? ToNfc(string text)
    {
        var rest = text.AsSpan();
        while (!rest.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(rest, out var rune, out var used) != OperationStatus.Done || IsNoncharacter(rune.Value))
            {
                return null;
            }

            rest = rest[used..];
        }

        try
        {
            return text.IsNormalized(NormalizationForm.FormC) ? text : text.Normalize(NormalizationForm.FormC);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    private static bool IsNoncharacter(int value) => value is >= 0xFDD0 and <= 0xFDEF || (value & 0xFFFE) == 0xFFFE;
}
