namespace ChatWire.Gateway.Conversations;

/// <summary>
/// The content-type rule of SEND (docs/protocol.md §3.1): <c>type/subtype</c> with optional parameters,
/// printable ASCII only, so no control character (CR, LF, NUL, …) gets through and the value is safe to log and
/// to show. Type and subtype are RFC 6838 restricted names; each parameter is RFC 9110's (§5.6.6)
/// <c>; name=value</c>, the name a token and the value a token or a quoted string, with optional spaces or tabs
/// around the semicolons.
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
        var essence = (parameters < 0 ? value : value[..parameters]).TrimEnd(' ');
        var slash = essence.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 && IsRestrictedName(essence.AsSpan(0, slash)) && IsRestrictedName(essence.AsSpan(slash + 1))
            && (parameters < 0 || AreParameters(value.AsSpan(parameters)));
    }

    private const string Whitespace = " \t";

    // *( OWS ";" OWS [ name "=" ( token / quoted-string ) ] ): RFC 9110 lets a parameter between two semicolons be
    // left out, but not a name without its value.
    private static bool AreParameters(ReadOnlySpan<char> rest)
    {
        while (!rest.IsEmpty)
        {
            if (rest[0] != ';')
            {
                return false;
            }

            rest = rest[1..].TrimStart(Whitespace);
            if (rest.IsEmpty || rest[0] == ';')
            {
                continue;
            }

            var name = TokenLength(rest);
            if (name == 0 || name == rest.Length || rest[name] != '=')
            {
                return false;
            }

            rest = rest[(name + 1)..];
            var valueLength = !rest.IsEmpty && rest[0] == '"' ? QuotedStringLength(rest) : TokenLength(rest);
            if (valueLength == 0)
            {
                return false;
            }

            rest = rest[valueLength..].TrimStart(Whitespace);
        }

        return true;
    }

    // RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    private static int TokenLength(ReadOnlySpan<char> text)
    {
        var i = 0;
        while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || "!#$%&'*+-.^_`|~".Contains(text[i])))
        {
            i++;
        }

        return i;
    }

    // RFC 9110 §5.6.4: DQUOTE *( qdtext / "\" char ) DQUOTE; 0 when it does not end.
    private static int QuotedStringLength(ReadOnlySpan<char> text)
    {
        for (var i = 1; i < text.Length; i++)
        {
            if (text[i] == '\\')
            {
                i++;
            }
            else if (text[i] == '"')
            {
                return i + 1;
            }
        }

        return 0;
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
