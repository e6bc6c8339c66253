namespace ChatWire.Gateway.Tests.Infrastructure;

/// <summary>Test settings that put the protocol listeners on a given transport (Gateway:ProtocolTransport).</summary>
public static class TransportSettings
{
    /// <summary><paramref name="overrides"/> plus the transport setting (which the overrides may still set themselves).</summary>
    public static Dictionary<string, string?> TransportOverride(IReadOnlyDictionary<string, string?>? overrides, string transport)
    {
        var settings = new Dictionary<string, string?> { ["Gateway:ProtocolTransport"] = transport };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        return settings;
    }
}
