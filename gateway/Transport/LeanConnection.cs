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
/// feature collection: the features it serves are fields, and the few Kestrel sets (heartbeat, completion,
/// metrics; TLS's on the TLS listener) go to a small array, so no dictionary is made per connection. The
/// connection id, the items and the ConnectionClosed token are made only when something asks for them.
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
    private string? _connectionId;
    private IDuplexPipe _transport;
    private IDictionary<object, object?>? _items;
    private EndPoint? _remote;
    private CancellationTokenSource? _closed;
    private object?[]? _features;
    private int _featureRevision;
    private ConnectionAbortedException? _abortReason;
    private int _state;
    private Admission.AdmissionMiddleware? _admission;

    private const int ClosedFired = 1;
    private const int Aborted = 2;
    private const int Disposed = 4;
    private const int Admitted = 8;

    // The listener kind whose admission slots the connection holds, in _state above the flags.
    private const int AdmittedShift = 16;

    public LeanConnection(Socket socket, LeanBufferPool pool)
    {
        Socket = socket;
        Pool = pool;
        _number = Interlocked.Increment(ref s_lastId);
        _remote = socket.RemoteEndPoint;
        _reader = new LeanReader(this);
        _writer = new LeanWriter(this);
        _transport = this;
    }

    public Socket Socket { get; }

    public LeanBufferPool Pool { get; }

    /// <summary>The connection's number on its listener (its id, and its send queue).</summary>
    public long Number => _number;


    /// <summary>True while the connection holds any block of the pool (tests: an idle connection holds none).</summary>
    internal bool HoldsBuffer => _reader.HoldsBuffer || _writer.HoldsBuffer;

    public override string ConnectionId
    {
        // Made on demand and not kept: an idle connection does not carry its id string.
        get => _connectionId ?? "lean-" + _number.ToString("x", CultureInfo.InvariantCulture);
        set => _connectionId = value;
    }

    public override IFeatureCollection Features => this;

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new ConnectionItems();
        set => _items = value;
    }

    public override IDuplexPipe Transport
    {
        get => _transport;
        set => _transport = value;
    }

    PipeReader IDuplexPipe.Input => _reader;

    PipeWriter IDuplexPipe.Output => _writer;

    public override EndPoint? RemoteEndPoint
    {
        get => _remote;
        set => _remote = value;
    }

    // Not kept per connection: the socket keeps its own once asked.
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
                return Socket.LocalEndPoint;
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
            var source = Volatile.Read(ref _closed);
            if (source is null)
            {
                source = new CancellationTokenSource();
                var existing = Interlocked.CompareExchange(ref _closed, source, null);
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
        Interlocked.CompareExchange(ref _abortReason, abortReason, null);
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
        Interlocked.CompareExchange(ref _abortReason, new ConnectionAbortedException("The connection was disposed."), null);
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
            _ when (Volatile.Read(ref _state) & (Aborted | Disposed)) != 0 => Volatile.Read(ref _abortReason) ?? new ConnectionAbortedException(),
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
        if (error is SocketError.ConnectionReset or SocketError.Shutdown or SocketError.ConnectionAborted)
        {
            _reader.End(new ConnectionResetException("The peer reset the connection.", new SocketException((int)error)));
        }

        CloseSocket();
        FireClosed();
    }

    private void CloseSocket()
    {
        try
        {
            Socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already reset or closed.
        }

        Socket.Dispose();
        _reader.SocketClosed();
    }

    private void FireClosed()
    {
        if ((Interlocked.Or(ref _state, ClosedFired) & ClosedFired) != 0)
        {
            return;
        }

        if (Volatile.Read(ref _closed) is { } source)
        {
            // Off this thread: the token's callbacks are the application's.
            ThreadPool.UnsafeQueueUserWorkItem(static s => s.Cancel(), source, preferLocal: false);
        }
    }

    // The feature collection. Served from fields: the connection's own features; kept in _features (type,
    // instance pairs): whatever Kestrel and its middleware set.
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
        var features = _features;
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

        return IsOwnFeature(key) ? this : null;
    }

    private static bool IsOwnFeature(Type key) =>
        key == typeof(IConnectionIdFeature) || key == typeof(IConnectionTransportFeature) || key == typeof(IConnectionItemsFeature)
        || key == typeof(IConnectionLifetimeFeature) || key == typeof(IConnectionEndPointFeature);

    private void SetFeature(Type key, object? instance)
    {
        _featureRevision++;
        var features = _features;
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
            _features = features;
        }

        features![free] = key;
        features[free + 1] = instance;
    }

    IEnumerator<KeyValuePair<Type, object>> IEnumerable<KeyValuePair<Type, object>>.GetEnumerator()
    {
        var features = _features ?? [];
        for (var i = 0; i < features.Length; i += 2)
        {
            if (features[i] is Type key && features[i + 1] is { } value)
            {
                yield return new KeyValuePair<Type, object>(key, value);
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
}
