using System.Collections.Frozen;

namespace ChatWire.Gateway.Accounts;

/// <summary>
/// The most common passwords (<c>common-passwords.txt</c>, embedded), refused at sign-up and password
/// change. Compared case-insensitively, so "Password1" is as refused as "password1".
/// </summary>
internal static class CommonPasswords
{
    private static readonly FrozenSet<string> List = Load();

    public static bool Contains(string password) => List.Contains(password);

    private static FrozenSet<string> Load()
    {
        using var stream = typeof(CommonPasswords).Assembly.GetManifestResourceStream("ChatWire.Gateway.CommonPasswords")
            ?? throw new InvalidOperationException("The common-password list is not embedded in the gateway.");
        using var reader = new StreamReader(stream);
        var words = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0 && line[0] != '#')
            {
                words.Add(line.Trim());
            }
        }

        return words.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
    }
}
