using System.Collections;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace ChatWire.Gateway.Transport;

/// <summary>
/// One connection of the lean transport (docs/architecture.md, "Lean transport"): the socket, its
/// <see cref="LeanReader"/> and <see cref="LeanWriter"/>, and the connection's features. It is its own
/// feature collection: the features it serves are fields; the four Kestrel sets (heartbeat, completion,
/// lifetime notification, metrics) all point at Kestrel's own per-connection object, kept as one reference
/// and a bit per feature; anything else (TLS's features on the TLS listener) goes to a small array. So no
/// dictionary or array is made for an ordinary connection. The connection id, the items, the ConnectionClosed
/// token, a replaced transport and the abort reason live in a second object made only when something needs
/// one of them (<see cref="Rare"/>).
/// </summary>
internal sealed class LeanConnection : ConnectionContext, IDuplexPipe, IFeatureCollection,
    IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature, IConnectionLifetimeFeature, IConnectionEndPointFeature
{
    private static long s_lastId;

    /// <summary>How long a disposed connection waits for its queued bytes to leave before closing its socket.</summary>
    internal const int DrainGraceMs = 2_000;

    private readonly long _number;
    private readonly LeanReader _reader;
    private readonly LeanWriter _writer;
    private object? _shared;
    private Rare? _rare;

    // An IPv4 peer's address (low 32 bits, in network order), port (bits 32-47) and RemoteV4Present; 0 otherwise.
    private long _remoteV4;
    private const long RemoteV4Present = 1L << 62;
    private int _featureRevision;
    private int _state;
    private Admission.AdmissionMiddleware? _admission;

    private const int ClosedFired = 1;
    private const int Aborted = 2;
    private const int Disposed = 4;
    private const int Admitted = 8;

    // Which feature types point at _shared: bit SharedShift + i for the type in s_sharedTypes[i].
    private const int SharedShift = 8;
    private const int SharedTypeCount = 8;

    // The listener kind whose admission slots the connection holds, in _state above the flags.
    private const int AdmittedShift = 16;

    // The feature types ever set to a connection's shared instance, each given its bit on first use (process-wide:
    // Kestrel sets the same four types on every connection). A ninth type would go to the array instead.
    private static readonly Type?[] s_sharedTypes = new Type?[SharedTypeCount];

    /// <summary>A connection accepted by the runtime (where the lean transport has no epoll set): its socket is kept.</summary>
    public LeanConnection(Socket socket, LeanBufferPool pool)
        : this(socket.SafeHandle, socket.RemoteEndPoint, pool)
    {
        RareState.Socket = socket;
    }

    /// <summary>A connection accepted with <c>accept4</c> (<see cref="LeanPoller.Accept"/>): only its handle.</summary>
    public LeanConnection(SafeSocketHandle handle, EndPoint? remote, LeanBufferPool pool)
    {
        Handle = handle;
        Pool = pool;
        _number = Interlocked.Increment(ref s_lastId);
        if (remote is IPEndPoint { AddressFamily: AddressFamily.InterNetwork } v4)
        {
            // Packed into a field, an IPv4 peer's address costs no objects; RemoteEndPoint makes one when asked.
            Span<byte> bytes = stackalloc byte[4];
            v4.Address.TryWriteBytes(bytes, out _);
            _remoteV4 = RemoteV4Present | ((long)v4.Port << 32) | BitConverter.ToUInt32(bytes);
        }
        else
        {
            base.RemoteEndPoint = remote;
        }

        _reader = new LeanReader(this);
        _writer = new LeanWriter(this);
    }

    /// <summary>The connection's socket handle: what the poller, the receives and the sends use.</summary>
    public SafeSocketHandle Handle { get; }

    /// <summary>
    /// A <see cref="System.Net.Sockets.Socket"/> over <see cref="Handle"/>, for what only the runtime's socket does
    /// (an asynchronous send once the kernel's buffer is full, a socket option). On Linux it is made on first use and
    /// kept, so a connection that never needs one carries none.
    /// </summary>
    public Socket Socket
    {
        get
        {
            var rare = RareState;
            if (Volatile.Read(ref rare.Socket) is { } socket)
            {
                return socket;
            }

            try
            {
                socket = new Socket(Handle);
            }
            catch (Exception ex) when (ex is SocketException or ArgumentException)
            {
                // The handle was closed under us (the connection is closing).
                throw new ObjectDisposedException(nameof(LeanConnection), ex);
            }

            return Interlocked.CompareExchange(ref rare.Socket, socket, null) ?? socket;
        }
    }

    public LeanBufferPool Pool { get; }

    /// <summary>The connection's number on its listener (its id, and its send queue).</summary>
    public long Number => _number;


    /// <summary>True while the connection holds any block of the pool (tests: an idle connection holds none).</summary>
    internal bool HoldsBuffer => _reader.HoldsBuffer || _writer.HoldsBuffer;

    public override string ConnectionId
    {
        // Made on demand and not kept: an idle connection does not carry its id string.
        get => Volatile.Read(ref _rare)?.ConnectionId ?? "lean-" + _number.ToString("x", CultureInfo.InvariantCulture);
        set => RareState.ConnectionId = value;
    }

    public override IFeatureCollection Features => this;

    public override IDictionary<object, object?> Items
    {
        get
        {
            var rare = RareState;
            return Volatile.Read(ref rare.Items) ?? Interlocked.CompareExchange(ref rare.Items, new ConnectionItems(), null) ?? rare.Items;
        }

        set => RareState.Items = value;
    }

    // A middleware may put its own pipe in front (the TLS listener's stream); otherwise the connection is its transport.
    public override IDuplexPipe Transport
    {
        get => Volatile.Read(ref _rare)?.Transport ?? this;
        set => RareState.Transport = ReferenceEquals(value, this) ? null : value;
    }

    PipeReader IDuplexPipe.Input => _reader;

    PipeWriter IDuplexPipe.Output => _writer;

    public override EndPoint? RemoteEndPoint
    {
        get
        {
            var packed = Volatile.Read(ref _remoteV4);
            if (packed == 0)
            {
                return base.RemoteEndPoint;
            }

            Span<byte> bytes = stackalloc byte[4];
            BitConverter.TryWriteBytes(bytes, (uint)packed);
            return new IPEndPoint(new IPAddress(bytes), (int)(packed >> 32) & 0xFFFF);
        }

        set
        {
            base.RemoteEndPoint = value;
            Volatile.Write(ref _remoteV4, 0);
        }
    }

    // Not kept per connection: asked of the socket each time.
    public override EndPoint? LocalEndPoint
    {
        get
        {
            if ((Volatile.Read(ref _state) & Disposed) != 0)
            {
                return null;
            }

            try
            {
                return Volatile.Read(ref _rare)?.Socket is { } socket ? socket.LocalEndPoint : LeanPoller.LocalEndPointOf(Handle);
            }
            catch (ObjectDisposedException)
            {
                // Closed meanwhile: no local address to give.
                return null;
            }
        }

        set => throw new NotSupportedException("The lean transport's local end point is its socket's.");
    }

    public override CancellationToken ConnectionClosed
    {
        get
        {
            var rare = RareState;
            var source = Volatile.Read(ref rare.Closed);
            if (source is null)
            {
                source = new CancellationTokenSource();
                var existing = Interlocked.CompareExchange(ref rare.Closed, source, null);
                if (existing is not null)
                {
                    source.Dispose();
                    source = existing;
                }
                else if ((Volatile.Read(ref _state) & ClosedFired) != 0)
                {
                    source.Cancel();
                }
            }

            return source.Token;
        }

        set => throw new NotSupportedException("The lean transport owns ConnectionClosed.");
    }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        Interlocked.CompareExchange(ref RareState.AbortReason, abortReason, null);
        if ((Interlocked.Or(ref _state, Aborted) & Aborted) != 0)
        {
            return;
        }

        // As Kestrel's socket transport does: FIN after what the kernel already holds, then the socket is
        // closed; the pending receive ends with the abort reason, a pending flush completes as IsCompleted.
        CloseSocket();
        _reader.End(abortReason);
        _writer.Fail(SocketError.Success);
        FireClosed();
    }

    /// <summary>
    /// The admission's slots this connection holds (the process slot; the listener's and address's too when
    /// <paramref name="admitted"/>), given back when it is disposed, after its socket is closed.
    /// </summary>
    internal void ReleaseOnDispose(Admission.AdmissionMiddleware admission, Admission.ListenerKind listener, bool admitted)
    {
        _admission = admission;
        Interlocked.Or(ref _state, ((int)listener << AdmittedShift) | (admitted ? Admitted : 0));
    }

    public override async ValueTask DisposeAsync()
    {
        if ((Interlocked.Or(ref _state, Disposed) & Disposed) != 0)
        {
            return;
        }

        _reader.Complete();
        _writer.Complete();

        // A flush completes before its bytes leave: what is still queued (a last ERROR, say) gets a bounded
        // moment to go out before the socket closes, as the protocol gives its last flush.
        var drain = _writer.DrainAsync();
        if (!drain.IsCompleted)
        {
            await Task.WhenAny(drain.AsTask(), Task.Delay(DrainGraceMs));
        }

        // Whatever is still being sent was given up: the socket closes now, with a FIN after the bytes the kernel
        // holds.
        Interlocked.CompareExchange(ref RareState.AbortReason, new ConnectionAbortedException("The connection was disposed."), null);
        CloseSocket();
        _writer.Fail(SocketError.Success);
        _reader.Dispose();
        FireClosed();
        if (Interlocked.Exchange(ref _admission, null) is { } admission)
        {
            var state = Volatile.Read(ref _state);
            admission.Release(this, (Admission.ListenerKind)(state >> AdmittedShift), (state & Admitted) != 0);
        }

        await base.DisposeAsync();
    }

    /// <summary>The receiving side ended: FIN (success), a reset, or the socket closed under it.</summary>
    internal void ReceiveEnded(SocketError error)
    {
        // After an abort, whatever the socket reports (the shutdown reads as an end of stream) is the abort.
        Exception? failure = error switch
        {
            _ when (Volatile.Read(ref _state) & (Aborted | Disposed)) != 0 => Volatile.Read(ref RareState.AbortReason) ?? new ConnectionAbortedException(),
            SocketError.Success => null,
            SocketError.ConnectionReset or SocketError.Shutdown => new ConnectionResetException("The peer reset the connection.", new SocketException((int)error)),
            SocketError.OperationAborted or SocketError.Interrupted or SocketError.InvalidArgument => new ConnectionAbortedException("The socket was closed.", new SocketException((int)error)),
            _ => new IOException($"Receive failed: {error}.", new SocketException((int)error)),
        };
        _reader.End(failure);
        FireClosed();
    }

    /// <summary>A send failed: the connection is done (the reader learns it from the receive that fails next).</summary>
    internal void SendFailed(SocketError error)
    {
        if ((Volatile.Read(ref _state) & (Aborted | Disposed)) != 0)
        {
            // The abort's own shutdown is what failed the send (EPIPE): the reader ends with the abort's reason,
            // whichever of the two gets there first.
            _reader.End(Volatile.Read(ref RareState.AbortReason) ?? new ConnectionAbortedException());
        }
        else if (error is SocketError.ConnectionReset or SocketError.Shutdown or SocketError.ConnectionAborted)
        {
            _reader.End(new ConnectionResetException("The peer reset the connection.", new SocketException((int)error)));
        }

        CloseSocket();
        FireClosed();
    }

    // The close goes through a Socket over the handle even when the connection never needed one: a handle
    // disposed on its own closes a TCP socket abortively (a reset, which can overtake the last bytes still in
    // the kernel's buffer) unless the runtime saw it shut down, which only Socket.Shutdown tells it.
    private void CloseSocket()
    {
        Socket socket;
        try
        {
            socket = Socket;
        }
        catch (ObjectDisposedException)
        {
            // Closed already (or the runtime could not take the handle: it is closed as it is).
            Handle.Dispose();
            _reader.SocketClosed();
            return;
        }

        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already reset or closed.
        }

        socket.Dispose();
        _reader.SocketClosed();
    }

    private void FireClosed()
    {
        if ((Interlocked.Or(ref _state, ClosedFired) & ClosedFired) != 0)
        {
            return;
        }

        if (Volatile.Read(ref _rare) is { } rare && Volatile.Read(ref rare.Closed) is { } source)
        {
            // Off this thread: the token's callbacks are the application's.
            ThreadPool.UnsafeQueueUserWorkItem(static s => s.Cancel(), source, preferLocal: false);
        }
    }

    // The feature collection. Served from fields: the connection's own features, and the features set to the
    // connection's first feature instance (_shared: Kestrel's per-connection object, which serves four); kept in
    // Rare.Features as (type, instance) pairs: whatever else Kestrel and its middleware set.
    bool IFeatureCollection.IsReadOnly => false;

    int IFeatureCollection.Revision => _featureRevision;

    object? IFeatureCollection.this[Type key]
    {
        get => GetFeature(key);
        set => SetFeature(key, value);
    }

    TFeature? IFeatureCollection.Get<TFeature>()
        where TFeature : default => (TFeature?)GetFeature(typeof(TFeature));

    void IFeatureCollection.Set<TFeature>(TFeature? instance)
        where TFeature : default => SetFeature(typeof(TFeature), instance);

    private object? GetFeature(Type key)
    {
        var features = Volatile.Read(ref _rare)?.Features;
        if (features is not null)
        {
            for (var i = 0; i < features.Length; i += 2)
            {
                if (ReferenceEquals(features[i], key))
                {
                    return features[i + 1];
                }
            }
        }

        if (Volatile.Read(ref _shared) is { } shared && HasSharedFeature(key))
        {
            return shared;
        }

        return IsOwnFeature(key) ? this : null;
    }

    private bool HasSharedFeature(Type key)
    {
        var index = SharedTypeIndex(key, add: false);
        return index >= 0 && (Volatile.Read(ref _state) & (1 << (SharedShift + index))) != 0;
    }

    // The bit of a feature type that may point at the shared instance; -1 when it has none (and, with add, none is free).
    private static int SharedTypeIndex(Type key, bool add)
    {
        for (var i = 0; i < SharedTypeCount; i++)
        {
            var type = Volatile.Read(ref s_sharedTypes[i]);
            if (type is null)
            {
                if (!add)
                {
                    return -1;
                }

                type = Interlocked.CompareExchange(ref s_sharedTypes[i], key, null) ?? key;
            }

            if (ReferenceEquals(type, key))
            {
                return i;
            }
        }

        return -1;
    }

    private static bool IsOwnFeature(Type key) =>
        key == typeof(IConnectionIdFeature) || key == typeof(IConnectionTransportFeature) || key == typeof(IConnectionItemsFeature)
        || key == typeof(IConnectionLifetimeFeature) || key == typeof(IConnectionEndPointFeature);

    private void SetFeature(Type key, object? instance)
    {
        _featureRevision++;
        var rare = Volatile.Read(ref _rare);
        var features = rare?.Features;
        if (features is null || Array.IndexOf(features, key) < 0)
        {
            var index = SharedTypeIndex(key, add: instance is not null);
            if (index >= 0)
            {
                var bit = 1 << (SharedShift + index);
                if (instance is not null && ReferenceEquals(Interlocked.CompareExchange(ref _shared, instance, null) ?? instance, instance))
                {
                    Interlocked.Or(ref _state, bit);
                    return;
                }

                // Another instance, or a removal: the array below answers for this type from now on.
                Interlocked.And(ref _state, ~bit);
            }
        }

        var free = -1;
        if (features is not null)
        {
            for (var i = 0; i < features.Length; i += 2)
            {
                if (ReferenceEquals(features[i], key))
                {
                    features[i + 1] = instance;
                    return;
                }

                if (features[i] is null && free < 0)
                {
                    free = i;
                }
            }
        }

        if (free < 0)
        {
            free = features?.Length ?? 0;
            Array.Resize(ref features, free + 8);
            (rare ?? RareState).Features = features;
        }

        features![free] = key;
        features[free + 1] = instance;
    }

    IEnumerator<KeyValuePair<Type, object>> IEnumerable<KeyValuePair<Type, object>>.GetEnumerator()
    {
        var features = Volatile.Read(ref _rare)?.Features ?? [];
        for (var i = 0; i < features.Length; i += 2)
        {
            if (features[i] is Type key && features[i + 1] is { } value)
            {
                yield return new KeyValuePair<Type, object>(key, value);
            }
        }

        for (var i = 0; i < SharedTypeCount; i++)
        {
            if (Volatile.Read(ref s_sharedTypes[i]) is { } type && !IsOwnFeature(type) && Array.IndexOf(features, type) < 0 && GetFeature(type) is { } value)
            {
                yield return new KeyValuePair<Type, object>(type, value);
            }
        }

        foreach (var own in (Type[])[typeof(IConnectionIdFeature), typeof(IConnectionTransportFeature), typeof(IConnectionItemsFeature), typeof(IConnectionLifetimeFeature), typeof(IConnectionEndPointFeature)])
        {
            if (GetFeature(own) is { } value)
            {
                yield return new KeyValuePair<Type, object>(own, value);
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => ((IEnumerable<KeyValuePair<Type, object>>)this).GetEnumerator();

    private Rare RareState => Volatile.Read(ref _rare) ?? Interlocked.CompareExchange(ref _rare, new Rare(), null) ?? _rare!;

    /// <summary>What few connections need, made on first use: an idle connection does not carry these fields.</summary>
    private sealed class Rare
    {
        public string? ConnectionId;
        public IDictionary<object, object?>? Items;
        public CancellationTokenSource? Closed;
        public IDuplexPipe? Transport;
        public ConnectionAbortedException? AbortReason;

        // The runtime's socket, where it accepted the connection or once something needed it (see Socket).
        public Socket? Socket;

        // (type, instance) pairs of the features set on the connection that are neither its own nor shared.
        public object?[]? Features;
    }
}
