using System.Net;

namespace ChatWire.Gateway.Hosting;

internal static class EndpointParser
{
    public static IPEndPoint Parse(string value) =>
        TryParse(value, out var endpoint) ? endpoint : throw new FormatException($"'{value}' is not host:port.");

    /// <summary>Parses <c>host:port</c> where host is an IP literal, <c>localhost</c> or <c>*</c>/<c>0.0.0.0</c> (any).</summary>
    public static bool TryParse(string value, out IPEndPoint endpoint)
    {
        endpoint = null!;
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !ushort.TryParse(value.AsSpan(colon + 1), out var port))
        {
            return false;
        }

        var host = value[..colon].Trim('[', ']');
        IPAddress? address = host switch
        {
            "localhost" => IPAddress.Loopback,
            "*" => IPAddress.Any,
            _ => IPAddress.TryParse(host, out var parsed) ? parsed : null,
        };
        if (address is null)
        {
            return false;
        }

        endpoint = new IPEndPoint(address, port);
        return true;
    }
}
