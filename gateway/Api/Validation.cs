using System.Text.RegularExpressions;
using ChatWire.Protocol;
using ChatWire.Storage.Directory;

namespace ChatWire.Gateway.Api;

internal static partial class Validation
{
    public static string Username(string? value)
    {
        var name = Required("username", value).Trim().ToLowerInvariant();
        if (!UsernamePattern().IsMatch(name))
        {
            throw RequestRefusedException.Validation("username", "username must be 3-32 characters of a-z, 0-9, '.', '_' or '-'.");
        }

        return name;
    }

    public static string Password(string field, string? value)
    {
        var password = Required(field, value);
        if (password.Length is < 8 or > 1024)
        {
            throw RequestRefusedException.Validation(field, $"{field} must be 8-1024 characters.");
        }

        return password;
    }

    public static string DisplayText(string field, string? value, int max = 64)
    {
        var text = Required(field, value).Trim();
        if (text.Length == 0 || text.Length > max || text.Any(char.IsControl))
        {
            throw RequestRefusedException.Validation(field, $"{field} must be 1-{max} characters without control characters.");
        }

        return text;
    }

    public static string ChannelName(string? value)
    {
        var name = Required("name", value).Trim().ToLowerInvariant();
        if (!ChannelPattern().IsMatch(name))
        {
            throw RequestRefusedException.Validation("name", "name must be 1-64 characters of a-z, 0-9, '_' or '-'.");
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

    public static string TypeName(ConversationKind kind) => kind switch
    {
        ConversationKind.PublicChannel => "public",
        ConversationKind.PrivateChannel => "private",
        ConversationKind.DirectMessage => "dm",
        _ => "group",
    };

    public static RequestRefusedException NotAMember(string what) => new(ErrorCode.NotAMember, $"You are not a member of this {what}.");

    public static RequestRefusedException NotFound(string what) => new(ErrorCode.NotFound, $"No such {what}.");

    [GeneratedRegex("^[a-z0-9._-]{3,32}$")]
    private static partial Regex UsernamePattern();

    [GeneratedRegex("^[a-z0-9_-]{1,64}$")]
    private static partial Regex ChannelPattern();
}
