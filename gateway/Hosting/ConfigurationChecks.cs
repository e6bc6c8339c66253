using System.Reflection;
using System.Text.RegularExpressions;

namespace ChatWire.Gateway.Hosting;

/// <summary>
/// Reading the settings sections: a value that does not convert is a one-line failure naming the key (not
/// a stack trace), and a key no setting has is reported so that a typo does not silently keep a default.
/// </summary>
internal static partial class ConfigurationChecks
{
    private static readonly Dictionary<string, Type> Sections = new(StringComparer.OrdinalIgnoreCase)
    {
        [GatewayOptions.Section] = typeof(GatewayOptions),
        [AuthOptions.Section] = typeof(AuthOptions),
        [LimitsOptions.Section] = typeof(LimitsOptions),
        [StorageOptions.Section] = typeof(StorageOptions),
        [RoutingOptions.Section] = typeof(RoutingOptions),
        [AttachmentsOptions.Section] = typeof(AttachmentsOptions),
        [Admin.AdminOptions.Section] = typeof(Admin.AdminOptions),
        [Push.PushOptions.Section] = typeof(Push.PushOptions),
    };

    /// <summary>Binds a section; a value that does not convert adds a failure and leaves the defaults.</summary>
    public static T Bind<T>(IConfiguration configuration, string section, List<string> failures)
        where T : new()
    {
        try
        {
            return configuration.GetSection(section).Get<T>() ?? new T();
        }
        catch (InvalidOperationException ex) when (ConversionFailure().Match(ex.Message) is { Success: true } match)
        {
            var key = match.Groups["key"].Value;
            failures.Add($"{key} must be {Describe(match.Groups["type"].Value)}; got '{configuration[key]}'.");
            return new T();
        }
    }

    /// <summary>Keys under the known sections that no setting has, e.g. <c>Gateway:HeartbeatIntervalMS2</c>.</summary>
    public static IEnumerable<string> UnknownKeys(IConfiguration configuration)
    {
        foreach (var (name, type) in Sections)
        {
            var known = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
            foreach (var child in configuration.GetSection(name).GetChildren())
            {
                if (!known.Contains(child.Key))
                {
                    yield return $"{name}:{child.Key}";
                }
            }
        }
    }

    private static string Describe(string type) => type switch
    {
        "System.Int32" or "System.Int64" or "System.UInt32" => "a whole number",
        "System.TimeSpan" => "a duration such as 30.00:00:00 (days.hours:minutes:seconds)",
        "System.Boolean" => "true or false",
        "System.Double" => "a number",
        _ => "a valid value",
    };

    [GeneratedRegex("Failed to convert configuration value (?:'[^']*' )?at '(?<key>[^']+)' to type '(?<type>[^']+)'")]
    private static partial Regex ConversionFailure();
}
