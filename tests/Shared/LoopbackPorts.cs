using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ChatWire.Tests.Shared;

/// <summary>
/// Free loopback ports below the kernel's ephemeral range, for a server a test stops and starts again on the same
/// port: a port from a port-0 bind lies inside that range, where any outgoing connection or port-0 listener of a
/// parallel test may take it while the server is down.
/// </summary>
internal static class LoopbackPorts
{
    public static List<int> PickBelowEphemeral(int count)
    {
        var ephemeralStart = EphemeralRangeStart();
        for (var attempt = 0; attempt < 100; attempt++)
        {
            // Bound together, then released: distinct, and free at this moment.
            var listeners = new List<TcpListener>();
            try
            {
                for (var i = 0; i < count; i++)
                {
                    var port = ephemeralStart > 12_000 ? Random.Shared.Next(10_000, ephemeralStart) : 0;
                    var listener = new TcpListener(IPAddress.Loopback, port);
                    listeners.Add(listener);
                    listener.Start();
                }

                return listeners.Select(listener => ((IPEndPoint)listener.LocalEndpoint).Port).ToList();
            }
            catch (SocketException)
            {
                // Taken (or picked twice); pick again.
            }
            finally
            {
                foreach (var listener in listeners)
                {
                    listener.Dispose();
                }
            }
        }

        throw new InvalidOperationException("No free loopback ports found.");
    }

    private static int EphemeralRangeStart()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(range[0], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 0;
        }
    }
}
