using System.Net;
using System.Net.Sockets;

namespace ChatWire.Gateway.Admission;

/// <summary>
/// The key limits are counted under for a client address: an IPv4 address as it is (an IPv4-mapped IPv6
/// address as its IPv4 address), an IPv6 address by its /64 prefix — one subscriber usually holds a whole
/// /64, so counting single IPv6 addresses would let one host take any number of slots.
/// </summary>
internal static class ClientAddress
{
    public static IPAddress? Group(IPAddress? address)
    {
        if (address is null)
        {
            return null;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes);
    }

    /// <summary>An IPv4-mapped IPv6 address as its IPv4 address, any other as it is: how a trusted proxy's exact address is matched.</summary>
    public static IPAddress Unmapped(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    /// <summary>The group as text, for throttle keys: <c>203.0.113.7</c>, <c>2001:db8:1:2::/64</c>.</summary>
    public static string? Key(IPAddress? address) =>
        Group(address) is not { } group ? null : GroupKey(group);

    /// <summary>The key of a group <see cref="Group"/> returned.</summary>
    public static string GroupKey(IPAddress group) =>
        group.AddressFamily == AddressFamily.InterNetworkV6 ? group + "/64" : group.ToString();
}
