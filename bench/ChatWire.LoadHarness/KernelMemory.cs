using System.Globalization;

namespace ChatWire.LoadHarness;

/// <summary>
/// The kernel's memory as far as sockets cost it, machine-wide: the slab total from /proc/meminfo, the TCP
/// line of /proc/net/sockstat (sockets in use and allocated, and the pages their buffers hold), and from
/// /proc/slabinfo (readable by root only) the bytes of the caches an established TCP socket takes objects
/// from. The difference between two readings, divided by the sockets opened in between, is the kernel's
/// cost of one socket (both ends of a loopback connection are on this machine: two sockets per connection).
/// </summary>
internal sealed record KernelMemory(
    long SlabBytes,
    long SlabUnreclaimableBytes,
    int TcpInUse,
    int TcpAllocated,
    long TcpBufferPages,
    IReadOnlyDictionary<string, long> SocketCacheBytes)
{
    /// <summary>Slab caches an idle established TCP socket (with its file, and an epoll registration) uses.</summary>
    private static readonly string[] SocketCaches =
        ["TCP", "sock_inode_cache", "filp", "dentry", "eventpoll_epi", "eventpoll_pwq", "tcp_bind_bucket", "tcp_bind2_bucket", "skbuff_head_cache", "selinux_file_security"];

    public long SocketCachesTotal => SocketCacheBytes.Values.Sum();

    public static KernelMemory Read()
    {
        long slab = 0, unreclaimable = 0;
        foreach (var line in ReadLines("/proc/meminfo"))
        {
            if (line.StartsWith("Slab:", StringComparison.Ordinal))
            {
                slab = Kb(line);
            }
            else if (line.StartsWith("SUnreclaim:", StringComparison.Ordinal))
            {
                unreclaimable = Kb(line);
            }
        }

        int inUse = 0, allocated = 0;
        long pages = 0;
        foreach (var line in ReadLines("/proc/net/sockstat"))
        {
            // "TCP: inuse 5 orphan 0 tw 0 alloc 7 mem 1"
            if (line.StartsWith("TCP:", StringComparison.Ordinal))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                for (var i = 1; i + 1 < fields.Length; i += 2)
                {
                    var value = long.Parse(fields[i + 1], CultureInfo.InvariantCulture);
                    switch (fields[i])
                    {
                        case "inuse": inUse = (int)value; break;
                        case "alloc": allocated = (int)value; break;
                        case "mem": pages = value; break;
                    }
                }
            }
        }

        var caches = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in ReadLines("/proc/slabinfo"))
        {
            // name <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables … : slabdata …
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 3 && SocketCaches.Contains(fields[0]) && long.TryParse(fields[2], CultureInfo.InvariantCulture, out var objects)
                && long.TryParse(fields[3], CultureInfo.InvariantCulture, out var size))
            {
                caches[fields[0]] = objects * size;
            }
        }

        return new KernelMemory(slab, unreclaimable, inUse, allocated, pages, caches);
    }

    private static long Kb(string line) =>
        long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;

    private static string[] ReadLines(string path)
    {
        try
        {
            return File.ReadAllLines(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
