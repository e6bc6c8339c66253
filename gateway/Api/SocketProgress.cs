using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace ChatWire.Gateway.Api;

/// <summary>
/// How far a TCP peer has taken what was sent to it, from the kernel's TCP_INFO (Linux): the count of bytes it
/// acknowledged. A response's writes finish only when the send buffer frees room, which it does in large steps, so
/// their timing cannot tell a slow reader from one that reads nothing; this count can.
/// </summary>
internal static class SocketProgress
{
    // getsockopt(IPPROTO_TCP, TCP_INFO): struct tcp_info, whose u32 tcpi_snd_mss is at byte 16 and u64 tcpi_bytes_acked
    // at byte 120 (Linux 4.1 and later; the layout only grows at its end), in the host's byte order.
    private const int TcpInfo = 11;
    private const int SendMssOffset = 16;
    private const int BytesAckedOffset = 120;
    private const int Needed = BytesAckedOffset + sizeof(ulong);

    /// <summary>
    /// Bytes the peer acknowledged on <paramref name="socket"/>, and the segment size it is sent in (acknowledgements
    /// of a slow reader come about one segment at a time: as its window reopens); null where the system cannot say.
    /// </summary>
    public static (ulong Acknowledged, int SegmentBytes)? Read(Socket? socket)
    {
        if (socket is null || !OperatingSystem.IsLinux())
        {
            return null;
        }

        Span<byte> info = stackalloc byte[256];
        try
        {
            var length = socket.GetRawSocketOption((int)ProtocolType.Tcp, TcpInfo, info);
            return length >= Needed
                ? (MemoryMarshal.Read<ulong>(info[BytesAckedOffset..]), (int)MemoryMarshal.Read<uint>(info[SendMssOffset..]))
                : null;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return null;
        }
    }
}
