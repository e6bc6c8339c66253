using System.Net;
using System.Net.Sockets;

namespace ChatWire.Gateway.Push;

/// <summary>
/// Where a webhook may point: https only, no user info, and (unless the operator allows it) no loopback,
/// private, shared (CGNAT), link-local, unique-local, multicast or unspecified address. Checked when the URL
/// is registered and again at every connection, on the addresses DNS gives then (a name that resolved to a
/// public address at registration may point inside later); the connection goes to a checked address, never
/// to a name the socket layer resolves on its own. Redirects are not followed.
/// </summary>
internal sealed class WebhookAddressPolicy(bool allowPrivate)
{
    public const int MaxUrlLength = 2048;

    /// <summary>The longest host name DNS carries, in its text form (RFC 1035's 255 octets on the wire).</summary>
    public const int MaxHostLength = 253;

    public bool AllowPrivate { get; } = allowPrivate;

    /// <summary>Why <paramref name="url"/> may not be registered, or null when it may.</summary>
    public async Task<string?> CheckUrlAsync(string url, CancellationToken cancellationToken)
    {
        if (url.Length > MaxUrlLength || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return $"token must be an absolute https URL of at most {MaxUrlLength} characters.";
        }

        // Written as sent, a URL is printable ASCII (RFC 3986); a control or format character (a bidi override,
        // say) would be escaped by the parser and make the stored URL read differently from the one requested.
        if (url.Any(c => c is <= ' ' or >= '\x7f'))
        {
            return "A webhook URL is printable ASCII: percent-encode anything else.";
        }

        if (uri.Scheme != Uri.UriSchemeHttps)
        {
            return "A webhook URL must use https.";
        }

        if (uri.UserInfo.Length > 0 || uri.Fragment.Length > 0)
        {
            return "A webhook URL may not carry user info or a fragment.";
        }

        if (uri.Port == 0)
        {
            return "A webhook URL's port is 1 to 65535.";
        }

        // DNS's own limit; the resolver throws on a longer name rather than saying it does not resolve.
        if (uri.IdnHost.Length > MaxHostLength)
        {
            return $"A webhook URL's host name is at most {MaxHostLength} characters.";
        }

        try
        {
            await ResolveAllowedAsync(uri.IdnHost, cancellationToken);
            return null;
        }
        catch (WebhookDestinationRefusedException ex)
        {
            return ex.Message;
        }
    }

    /// <summary>The addresses of <paramref name="host"/>; throws when it has none or any of them is refused.</summary>
    public async Task<IPAddress[]> ResolveAllowedAsync(string host, CancellationToken cancellationToken)
    {
        IPAddress[] addresses;
        if (IPAddress.TryParse(host.Trim('[', ']'), out var literal))
        {
            addresses = [literal];
        }
        else
        {
            try
            {
                addresses = await Dns.GetHostAddressesAsync(host, cancellationToken);
            }
            catch (Exception ex) when (ex is SocketException or ArgumentException)
            {
                // ArgumentException: a name DNS cannot carry (over 255 characters, say).
                throw new WebhookDestinationRefusedException($"The webhook host {host} does not resolve.");
            }
        }

        if (addresses.Length == 0)
        {
            throw new WebhookDestinationRefusedException($"The webhook host {host} does not resolve.");
        }

        // Every address, not the first: a name with one public and one private address could reach either. The
        // address itself is not named: that would tell any user what the server's DNS says about internal names.
        if (addresses.Any(a => IsNeverADestination(a) || (!AllowPrivate && IsInternal(a))))
        {
            throw new WebhookDestinationRefusedException(
                AllowPrivate
                    ? $"The webhook host {host} resolves to a multicast, broadcast or unspecified address."
                    : $"The webhook host {host} resolves to an internal address; webhooks must reach a public address.");
        }

        return addresses;
    }

    /// <summary>The SocketsHttpHandler connect step: resolves, checks, and connects to a checked address.</summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var addresses = await ResolveAllowedAsync(context.DnsEndPoint.Host, cancellationToken);
        Exception? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
        }

        throw new HttpRequestException($"No address of {context.DnsEndPoint.Host} accepted the connection.", last);
    }

    /// <summary>
    /// Addresses no webhook may reach even where internal ones are allowed: unspecified (0.0.0.0/8, ::), limited
    /// broadcast, and multicast (224.0.0.0/4, ff00::/8). A request to one is never a request to one server.
    /// </summary>
    public static bool IsNeverADestination(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            Span<byte> b = stackalloc byte[4];
            address.TryWriteBytes(b, out _);
            return b[0] == 0 || b[0] >= 224;
        }

        return address.Equals(IPAddress.IPv6Any) || address.IsIPv6Multicast;
    }

    /// <summary>Whether the address is not on the public internet (RFC 1918, 6598, 3927, 4193, 4291 and the special ranges).</summary>
    public static bool IsInternal(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast))
        {
            return true;
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            Span<byte> b = stackalloc byte[4];
            address.TryWriteBytes(b, out _);
            return b[0] == 0 // this network
                || b[0] == 10
                || (b[0] == 100 && (b[1] & 0xC0) == 64) // 100.64.0.0/10, shared address space
                || b[0] == 127
                || (b[0] == 169 && b[1] == 254)
                || (b[0] == 172 && (b[1] & 0xF0) == 16)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 192 && b[1] == 0 && b[2] == 0) // IETF protocol assignments
                || (b[0] == 192 && b[1] == 0 && b[2] == 2) // documentation (TEST-NET-1)
                || (b[0] == 192 && b[1] == 88 && b[2] == 99) // the former 6to4 relay anycast
                || (b[0] == 198 && (b[1] & 0xFE) == 18) // benchmarking
                || (b[0] == 198 && b[1] == 51 && b[2] == 100) // documentation (TEST-NET-2)
                || (b[0] == 203 && b[1] == 0 && b[2] == 113) // documentation (TEST-NET-3)
                || b[0] >= 224; // multicast, reserved
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            Span<byte> b = stackalloc byte[16];
            address.TryWriteBytes(b, out _);
            // Only global unicast (2000::/3) leaves the machine's networks; everything else is refused whole: the
            // IPv4-compatible and -translated forms (::a.b.c.d, ::ffff:0:a.b.c.d), NAT64 (64:ff9b::/96), discard
            // (100::/64), unique local, link local, multicast. Within it, the ranges that wrap an IPv4 address
            // or are not routed are refused too.
            return (b[0] & 0xE0) != 0x20
                || (b[0] == 0x20 && b[1] == 0x01 && b[2] < 0x02) // 2001::/23 IETF protocol assignments, Teredo (2001::/32) among them
                || (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8) // 2001:db8::/32 documentation
                || (b[0] == 0x20 && b[1] == 0x02) // 2002::/16 6to4, which wraps any IPv4 address
                || (b[0] == 0x3F && b[1] == 0xFF && (b[2] & 0xF0) == 0); // 3fff::/20 documentation
        }

        return true;
    }
}

/// <summary>A webhook's destination is not allowed (or does not resolve).</summary>
internal sealed class WebhookDestinationRefusedException(string message) : Exception(message);
