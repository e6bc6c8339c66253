using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ChatWire.Gateway.Transport;

/// <summary>
/// Read readiness for lean connections on Linux, without a pending receive per connection: one epoll set for the
/// process and one thread waiting on it. A connection waiting for bytes is armed in the set (one-shot); when its
/// socket becomes readable (bytes, FIN, reset) the thread hands the connection's reader to the thread pool, which
/// reads what the kernel holds, and the reader arms the socket again when it wants more. The lean listeners wait
/// for connections to accept the same way, and accept them with <c>accept4</c> themselves (<see cref="Accept"/>).
/// </summary>
/// <remarks>
/// <para>
/// Why not <see cref="Socket.ReceiveAsync(SocketAsyncEventArgs)"/> with zero bytes: on Linux each pending receive
/// keeps the socket's <c>SocketAsyncContext</c>, its receive operation, a completion delegate and the
/// <see cref="SocketAsyncEventArgs"/> alive, about 0.6 KB per idle connection. Here an idle connection costs a slot
/// in a table (12 bytes) and its registration in the kernel's epoll set. The runtime's own socket engine still
/// serves the connection's rare asynchronous sends (a send that would block) and everything else in the process.
/// </para>
/// <para>
/// The set holds a key per socket, never a pointer: slot index and a generation, so an event that arrives after
/// its connection is gone (and its slot reused) is recognised and dropped. Every <c>epoll_ctl</c> on a socket holds
/// a reference on its handle, so a closed socket's descriptor number, which the kernel may already have given to a
/// new connection, is never touched.
/// </para>
/// </remarks>
internal sealed unsafe partial class LeanPoller
{
    private const int EpollCtlAdd = 1;
    private const int EpollCtlDel = 2;
    private const int EpollCtlMod = 3;
    private const uint EpollIn = 0x001;
    private const uint EpollRdHup = 0x2000;
    private const uint EpollOneShot = 1u << 30;
    private const int EpollCloexec = 0x80000;
    private const int Eintr = 4;
    private const int MaxEvents = 256;

    // struct epoll_event is packed on x86 and x86-64 (12 bytes: events, then the 64-bit data); 16 bytes elsewhere.
    private static readonly int EventSize = RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86 ? 12 : 16;
    private static readonly int DataOffset = EventSize == 12 ? 4 : 8;

    private static readonly Lazy<LeanPoller?> SharedPoller = new(Create);

    private readonly int _epoll;
    private readonly Lock _slotsLock = new();
    private IThreadPoolWorkItem?[] _slots = new IThreadPoolWorkItem?[1024];
    private uint[] _generations = new uint[1024];
    private int[] _free = new int[1024];
    private int _freeCount;
    private int _used;

    private LeanPoller(int epoll)
    {
        _epoll = epoll;
        var thread = new Thread(Run) { IsBackground = true, Name = "ChatWire lean epoll" };
        thread.UnsafeStart();
    }

    /// <summary>The process's poller; null where epoll is not available (then readers use a zero-byte receive).</summary>
    public static LeanPoller? Shared => SharedPoller.Value;

    private static LeanPoller? Create()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.Arm64))
        {
            return null;
        }

        var epoll = epoll_create1(EpollCloexec);
        return epoll < 0 ? null : new LeanPoller(epoll);
    }

    /// <summary>
    /// Gives <paramref name="waiter"/> (a connection's reader, or a listener) a key of its own: it is queued to the
    /// thread pool when its socket, armed with the key, is readable. <see cref="Release"/> gives the key back.
    /// </summary>
    public ulong Register(IThreadPoolWorkItem waiter)
    {
        lock (_slotsLock)
        {
            int index;
            if (_freeCount > 0)
            {
                index = _free[--_freeCount];
            }
            else
            {
                if (_used == _slots.Length)
                {
                    Array.Resize(ref _slots, _slots.Length * 2);
                    Array.Resize(ref _generations, _generations.Length * 2);
                    Array.Resize(ref _free, _free.Length * 2);
                }

                index = _used++;
            }

            _slots[index] = waiter;
            return ((ulong)_generations[index] << 32) | (uint)(index + 1);
        }
    }

    /// <summary>
    /// Asks for one wake-up when the socket of <paramref name="handle"/> is readable (or already is). False when the socket is
    /// closed: no wake-up will come.
    /// </summary>
    public bool Arm(SafeSocketHandle handle, ulong key, bool first)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var ev = stackalloc byte[16];
            *(uint*)ev = EpollIn | EpollRdHup | EpollOneShot;
            *(ulong*)(ev + DataOffset) = key;
            return epoll_ctl(_epoll, first ? EpollCtlAdd : EpollCtlMod, (int)handle.DangerousGetHandle(), ev) == 0;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Takes the socket out of the set (if still open) and frees the key.</summary>
    public void Release(SafeSocketHandle handle, ulong key)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var ev = stackalloc byte[16];
            epoll_ctl(_epoll, EpollCtlDel, (int)handle.DangerousGetHandle(), ev);
        }
        catch (ObjectDisposedException)
        {
            // Closed: the kernel has taken it out of the set.
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }

        var index = (int)(uint)key - 1;
        lock (_slotsLock)
        {
            if (_slots[index] is null || _generations[index] != (uint)(key >> 32))
            {
                return;
            }

            _slots[index] = null;
            _generations[index]++;
            _free[_freeCount++] = index;
        }
    }

    /// <summary>
    /// <c>recvmsg</c> with <c>MSG_DONTWAIT</c>: what the kernel holds, without waiting. The socket stays in the runtime's
    /// blocking mode: switching it to non-blocking, or a non-blocking receive through <see cref="Socket"/>, would
    /// give it the runtime's asynchronous state for the rest of its life.
    /// </summary>
    public static int Receive(SafeSocketHandle handle, Span<byte> buffer, out SocketError error)
    {
        fixed (byte* bytes = buffer)
        {
            var vector = new IoVector { Base = bytes, Length = (nuint)buffer.Length };
            var message = new MessageHeader { Vectors = &vector, VectorCount = 1 };
            return Transfer(handle, &message, send: false, out error);
        }
    }

    /// <summary>Blocks one gathering send hands to the kernel at most (256 KiB at the default block size).</summary>
    public const int MaxGather = 64;

    /// <summary>
    /// <c>sendmsg</c> with <c>MSG_DONTWAIT | MSG_NOSIGNAL</c> over a chain of blocks, from <paramref name="offset"/> in
    /// <paramref name="first"/> on (at most <see cref="MaxGather"/> blocks): the events queued for a connection leave
    /// in one system call however many blocks they fill. Returns the bytes the kernel took, which may end inside any
    /// block. The blocks' arrays are on the pinned object heap (<see cref="LeanSegment.Array"/>), so their addresses
    /// stay valid without pinning.
    /// </summary>
    public static int SendChain(SafeSocketHandle handle, LeanSegment first, int offset, out SocketError error)
    {
        var vectors = stackalloc IoVector[MaxGather];
        var count = 0;
        for (var segment = first; segment is not null && count < MaxGather; segment = segment.NextSegment)
        {
            var start = ReferenceEquals(segment, first) ? offset : 0;
            if (segment.End > start)
            {
                vectors[count].Base = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(segment.Array)) + start;
                vectors[count].Length = (nuint)(segment.End - start);
                count++;
            }
        }

        error = SocketError.Success;
        if (count == 0)
        {
            return 0;
        }

        var message = new MessageHeader { Vectors = vectors, VectorCount = (nuint)count };
        return Transfer(handle, &message, send: true, out error);
    }

    // sendmsg or recvmsg without waiting, retried on EINTR, with a reference held on the handle for the call (a
    // handle closed meanwhile is never used by number).
    private static int Transfer(SafeSocketHandle handle, MessageHeader* message, bool send, out SocketError error)
    {
        const int MsgDontWait = 0x40;
        const int MsgNoSignal = 0x4000;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var fd = (int)handle.DangerousGetHandle();
            while (true)
            {
                var result = send ? sendmsg(fd, message, MsgDontWait | MsgNoSignal) : recvmsg(fd, message, MsgDontWait);
                if (result >= 0)
                {
                    error = SocketError.Success;
                    return (int)result;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno != Eintr)
                {
                    error = ErrorOf(errno);
                    return 0;
                }
            }
        }
        catch (ObjectDisposedException)
        {
            error = SocketError.OperationAborted;
            return 0;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// <c>accept4</c> on a non-blocking listening socket: the next connection waiting in its backlog as a handle the
    /// caller owns (close-on-exec, in blocking mode as the runtime's own accept leaves it, with Nagle's algorithm
    /// off) and its peer's address; null with the error when there is none (<see cref="SocketError.WouldBlock"/>)
    /// or the accept failed. No <see cref="Socket"/> is made: a lean connection on Linux needs only the handle, and
    /// a <see cref="Socket"/> would keep 0.18 KB more per connection (itself and the addresses it caches).
    /// </summary>
    public static SafeSocketHandle? Accept(SafeSocketHandle listener, out EndPoint? remote, out SocketError error)
    {
        const int SockCloexec = 0x80000;
        const int IpProtoTcp = 6;
        const int TcpNoDelay = 1;
        remote = null;
        var added = false;
        try
        {
            listener.DangerousAddRef(ref added);
            var address = stackalloc byte[128];
            while (true)
            {
                var length = 128;
                var fd = accept4((int)listener.DangerousGetHandle(), address, &length, SockCloexec);
                if (fd < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == Eintr)
                    {
                        continue;
                    }

                    error = AcceptErrorOf(errno);
                    return null;
                }

                var handle = new SafeSocketHandle(fd, ownsHandle: true);
                var one = 1;
                setsockopt(fd, IpProtoTcp, TcpNoDelay, &one, sizeof(int));
                remote = EndPointOf(address, length);
                error = SocketError.Success;
                return handle;
            }
        }
        catch (ObjectDisposedException)
        {
            error = SocketError.OperationAborted;
            return null;
        }
        finally
        {
            if (added)
            {
                listener.DangerousRelease();
            }
        }
    }

    /// <summary>The socket's local address (<c>getsockname</c>), made when asked; null when the socket is closed.</summary>
    public static EndPoint? LocalEndPointOf(SafeSocketHandle handle)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var address = stackalloc byte[128];
            var length = 128;
            return getsockname((int)handle.DangerousGetHandle(), address, &length) == 0 ? EndPointOf(address, length) : null;
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    // struct sockaddr_in (AF_INET 2: family, port in network order, 4 address bytes) or sockaddr_in6 (AF_INET6 10:
    // family, port, flow info, 16 address bytes, scope id); the family is in host order.
    private static IPEndPoint? EndPointOf(byte* address, int length)
    {
        var family = *(ushort*)address;
        var port = (address[2] << 8) | address[3];
        if (family == 2 && length >= 8)
        {
            return new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(address + 4, 4)), port);
        }

        if (family == 10 && length >= 28)
        {
            return new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(address + 8, 16), *(uint*)(address + 24)), port);
        }

        return null;
    }

    // Linux errno values of accept4, as the runtime's own accept reports them.
    private static SocketError AcceptErrorOf(int errno) => errno switch
    {
        11 => SocketError.WouldBlock, // EAGAIN, EWOULDBLOCK
        103 => SocketError.ConnectionAborted, // ECONNABORTED
        71 => SocketError.ConnectionAborted, // EPROTO (the peer gave up during the handshake)
        24 or 23 => SocketError.TooManyOpenSockets, // EMFILE, ENFILE
        105 or 12 => SocketError.NoBufferSpaceAvailable, // ENOBUFS, ENOMEM
        9 or 22 => SocketError.OperationAborted, // EBADF, EINVAL (closed or no longer listening)
        _ => SocketError.SocketError,
    };

    // Linux errno values of a stream socket's recv and send, as the runtime's own socket calls report them.
    private static SocketError ErrorOf(int errno) => errno switch
    {
        11 => SocketError.WouldBlock, // EAGAIN, EWOULDBLOCK
        104 => SocketError.ConnectionReset, // ECONNRESET
        32 => SocketError.Shutdown, // EPIPE
        107 => SocketError.NotConnected, // ENOTCONN
        110 => SocketError.TimedOut, // ETIMEDOUT
        9 => SocketError.OperationAborted, // EBADF
        103 => SocketError.ConnectionAborted, // ECONNABORTED
        113 => SocketError.HostUnreachable, // EHOSTUNREACH
        101 => SocketError.NetworkUnreachable, // ENETUNREACH
        105 => SocketError.NoBufferSpaceAvailable, // ENOBUFS
        12 => SocketError.NoBufferSpaceAvailable, // ENOMEM
        _ => SocketError.SocketError,
    };

    private void Run()
    {
        var events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * EventSize));
        while (true)
        {
            var count = epoll_wait(_epoll, events, MaxEvents, -1);
            if (count < 0)
            {
                if (Marshal.GetLastPInvokeError() == Eintr)
                {
                    continue;
                }

                // The set itself failed (it is never closed): nothing can be waited for any more.
                Environment.FailFast($"epoll_wait failed with errno {Marshal.GetLastPInvokeError()}.");
            }

            for (var i = 0; i < count; i++)
            {
                var key = *(ulong*)(events + (i * EventSize) + DataOffset);
                var waiter = Find(key);
                if (waiter is not null)
                {
                    ThreadPool.UnsafeQueueUserWorkItem(waiter, preferLocal: false);
                }
            }
        }
    }

    private IThreadPoolWorkItem? Find(ulong key)
    {
        var index = (int)(uint)key - 1;
        lock (_slotsLock)
        {
            return index >= 0 && index < _used && _generations[index] == (uint)(key >> 32) ? _slots[index] : null;
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_ctl(int epfd, int op, int fd, byte* ev);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_wait(int epfd, byte* events, int maxevents, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recvmsg(int fd, MessageHeader* message, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint sendmsg(int fd, MessageHeader* message, int flags);

    // struct iovec and struct msghdr of the LP64 Linux ABI (x64 and arm64, the only systems the poller runs on).
    [StructLayout(LayoutKind.Sequential)]
    private struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* Vectors;
        public nuint VectorCount;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int accept4(int fd, byte* address, int* length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getsockname(int fd, byte* address, int* length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsockopt(int fd, int level, int name, void* value, int length);
}
