namespace ChatWire.Gateway.Conversations;

/// <summary>
/// The content-type rule of SEND (docs/protocol.md §4.8): <c>type/subtype</c> with optional <c>; parameters</c>,
/// printable ASCII only. Type and subtype are RFC 6838 restricted names; parameters are not parsed further,
/// but no control character (CR, LF, NUL, …) can get through, so the value is safe to log and to show.
/// </summary>
internal static class MediaType
{
    public static bool IsValid(string value)
    {
        foreach (var c in value)
        {
            if (c is < ' ' or > '~')
            {
                return false;
            }
        }

        var parameters = value.IndexOf(';', StringComparison.Ordinal);
        var essence = (parameters < 0 ? value : value[..parameters]).TrimEnd();
        var slash = essence.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 && IsRestrictedName(essence.AsSpan(0, slash)) && IsRestrictedName(essence.AsSpan(slash + 1));
    }

    // RFC 6838 §4.2: restricted-name-first (letter or digit), then up to 126 of letters, digits and !#$&-^_.+
    private static bool IsRestrictedName(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty || name.Length > 127 || !char.IsAsciiLetterOrDigit(name[0]))
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('!' or '#' or '$' or '&' or '-' or '^' or '_' or '.' or '+'))
            {
                return false;
            }
        }

        return true;
    }
}
