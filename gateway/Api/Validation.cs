using System.Text.RegularExpressions;
using ChatWire.Protocol;
using ChatWire.Storage.Directory;

namespace ChatWire.Gateway.Api;

internal static partial class Validation
{
    /// <summary>The longest password accepted, in UTF-8 bytes: longer ones are refused before any hashing.</summary>
    public const int MaxPasswordBytes = 1024;

    /// <summary>The shortest new password, in characters (Unicode scalar values).</summary>
    public const int MinPasswordCharacters = 8;

    public const int MinUsernameLength = 3;

    public const int MaxUsernameLength = 32;

    /// <summary>A username after trimming and folding to lower case; the OpenAPI document states it too.</summary>
    public const string UsernamePatternText = "^[a-z0-9._-]{3,32}$";

    /// <summary>The longest username a login looks up: longer ones are refused before any lookup or throttle.</summary>
    public const int MaxLoginUsernameLength = 64;

    /// <summary>The longest name people read (display, team, device names), in characters after NFC.</summary>
    public const int MaxDisplayTextLength = 64;

    public const int MaxChannelNameLength = 64;

    /// <summary>A channel name after trimming and folding to lower case; the OpenAPI document states it too.</summary>
    public const string ChannelPatternText = "^[a-z0-9_-]{1,64}$";

    public static string Username(string? value)
    {
        var name = Required("username", value).Trim().ToLowerInvariant();
        if (!UsernamePattern().IsMatch(name))
        {
            throw RequestRefusedException.Validation("username", $"username must be {MinUsernameLength}-{MaxUsernameLength} characters of a-z, 0-9, '.', '_' or '-'.");
        }

        // 32 hex digits parse as a UUID: such a name could be mistaken for a user id wherever both are accepted.
        if (Guid.TryParse(name, out _))
        {
            throw RequestRefusedException.Validation("username", "username must not be a UUID.");
        }

        return name;
    }

    /// <summary>
    /// A new password (NIST SP 800-63B): 8 characters to 1,024 UTF-8 bytes, not only whitespace, no control
    /// characters, not the username or containing it, and not on the list of the most common passwords.
    /// </summary>
    public static string Password(string field, string? value, string username)
    {
        var password = PasswordToCheck(field, value);
        // Characters, not UTF-16 units: four emoji are four characters.
        if (password.EnumerateRunes().Count() < MinPasswordCharacters)
        {
            throw RequestRefusedException.Validation(field, $"{field} must be at least {MinPasswordCharacters} characters.");
        }

        if (string.IsNullOrWhiteSpace(password) || password.Any(char.IsControl))
        {
            throw RequestRefusedException.Validation(field, $"{field} must not be only spaces or hold control characters.");
        }

        if (password.Contains(username, StringComparison.OrdinalIgnoreCase))
        {
            throw RequestRefusedException.Validation(field, $"{field} must not contain the username.");
        }

        if (Accounts.CommonPasswords.Contains(password))
        {
            throw RequestRefusedException.Validation(field, $"{field} is one of the most common passwords; choose another.");
        }

        return password;
    }

    /// <summary>A password to check against a stored hash: present and at most <see cref="MaxPasswordBytes"/>, nothing more.</summary>
    public static string PasswordToCheck(string field, string? value)
    {
        var password = Required(field, value);
        if (System.Text.Encoding.UTF8.GetByteCount(password) > MaxPasswordBytes)
        {
            throw RequestRefusedException.Validation(field, $"{field} must be at most {MaxPasswordBytes} bytes of UTF-8.");
        }

        return password;
    }

    /// <summary>
    /// A name people read (display, team, device names): trimmed, normalized to NFC, 1 to
    /// <paramref name="max"/> characters, without control characters or invisible formatting characters
    /// (bidirectional overrides such as U+202E, zero-width spaces), which could make one name look like
    /// another. The zero-width joiner is kept: emoji sequences need it. A name must show something: not only
    /// joiners, combining marks and letters drawn as nothing (a name of Hangul fillers reads as blank).
    /// </summary>
    public static string DisplayText(string field, string? value, int max = MaxDisplayTextLength)
    {
        var text = ReadableText(field, value, max);
        return HasVisible(text) ? text : throw RequestRefusedException.Validation(field, $"{field} must show something: not only combining marks, joiners or blank letters such as U+3164.");
    }

    // DisplayText's rules but the visible one, which each caller words for its field.
    private static string ReadableText(string field, string? value, int max)
    {
        var text = Conversations.UnicodeText.ToNfc(Required(field, value).Trim())
            ?? throw RequestRefusedException.Validation(field, $"{field} must be Unicode text without noncharacters such as U+FFFE.");

        // Characters are Unicode scalar values (an emoji outside the BMP is one, not two UTF-16 units), and the
        // formatting characters above the BMP (tag characters, musical formatting) are refused like those in it.
        var characters = 0;
        var control = false;
        var formatting = false;
        foreach (var rune in text.EnumerateRunes())
        {
            characters++;
            control |= System.Text.Rune.IsControl(rune);
            formatting |= IsInvisibleFormatting(rune);
        }

        if (characters == 0 || characters > max || control)
        {
            throw RequestRefusedException.Validation(field, $"{field} must be 1-{max} characters without control characters.");
        }

        if (formatting)
        {
            throw RequestRefusedException.Validation(field, $"{field} must not hold invisible formatting characters such as direction overrides.");
        }

        return text;
    }

    /// <summary>
    /// An invisible formatting character a name people read may not hold: any of Unicode's format characters (Cf)
    /// but the zero-width joiner, which emoji sequences need.
    /// </summary>
    public static bool IsInvisibleFormatting(System.Text.Rune rune) =>
        rune.Value != 0x200D && System.Text.Rune.GetUnicodeCategory(rune) == System.Globalization.UnicodeCategory.Format;

    /// <summary>
    /// A channel's topic: <see cref="DisplayText"/> up to <paramref name="max"/> characters, on one line (no line or
    /// paragraph separator) and with something visible in it (not only joiners, combining marks and spaces).
    /// </summary>
    public static string Topic(string value, int max)
    {
        var text = ReadableText("topic", value, max);
        foreach (var rune in text.EnumerateRunes())
        {
            if (System.Text.Rune.GetUnicodeCategory(rune) is System.Globalization.UnicodeCategory.LineSeparator or System.Globalization.UnicodeCategory.ParagraphSeparator)
            {
                throw RequestRefusedException.Validation("topic", "topic must be one line: no line or paragraph separators.");
            }
        }

        return HasVisible(text) ? text : throw RequestRefusedException.Validation("topic", "topic must hold something visible, not only joiners and combining marks; send \"\" to clear it.");
    }

    // Something drawn: not a space, a joiner, a combining mark alone or a blank letter.
    private static bool HasVisible(string text)
    {
        foreach (var rune in text.EnumerateRunes())
        {
            if (rune.Value != 0x200D && !System.Text.Rune.IsWhiteSpace(rune) && !IsBlankLetter(rune)
                && System.Text.Rune.GetUnicodeCategory(rune) is not (System.Globalization.UnicodeCategory.NonSpacingMark or System.Globalization.UnicodeCategory.EnclosingMark))
            {
                return true;
            }
        }

        return false;
    }

    // Letters and symbols that are drawn as nothing: the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0) and the blank
    // braille pattern (U+2800), the usual ways to make text look empty without a space or a format character.
    private static bool IsBlankLetter(System.Text.Rune rune) => rune.Value is 0x115F or 0x1160 or 0x3164 or 0xFFA0 or 0x2800;

    public static string ChannelName(string? value)
    {
        var name = Required("name", value).Trim().ToLowerInvariant();
        if (!ChannelPattern().IsMatch(name))
        {
            throw RequestRefusedException.Validation("name", $"name must be 1-{MaxChannelNameLength} characters of a-z, 0-9, '_' or '-'.");
        }

        return name;
    }

    public static string Required(string field, string? value) =>
        string.IsNullOrEmpty(value) ? throw RequestRefusedException.Validation(field, $"{field} is required.") : value;

    public static string RoleName(TeamRole role) => role switch
    {
        TeamRole.Owner => "owner",
        TeamRole.Admin => "admin",
        _ => "member",
    };

    public static string StatusName(Protocol.Frames.PresenceStatus status) => status switch
    {
        Protocol.Frames.PresenceStatus.Online => "online",
        Protocol.Frames.PresenceStatus.Away => "away",
        Protocol.Frames.PresenceStatus.DoNotDisturb => "dnd",
        _ => "offline",
    };

    public static string TypeName(ConversationKind kind) => kind switch
    {
        ConversationKind.PublicChannel => "public",
        ConversationKind.PrivateChannel => "private",
        ConversationKind.DirectMessage => "dm",
        _ => "group",
    };

    public static RequestRefusedException NotAMember(string what) => new(ErrorCode.NotAMember, $"You are not a member of this {what}.");

    public static RequestRefusedException NotFound(string what) => new(ErrorCode.NotFound, $"No such {what}.");

    [GeneratedRegex(UsernamePatternText)]
    private static partial Regex UsernamePattern();

    [GeneratedRegex(ChannelPatternText)]
    private static partial Regex ChannelPattern();
}
