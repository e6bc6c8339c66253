using System.Net;
using System.Net.Sockets;

namespace ChatWire.Tests.Shared;

/// <summary>
/// A TCP relay on loopback between one gateway and one of its backends (the real server behind it), so that a test
/// can cut that one link, as a network partition would, where <c>tc netem</c> and <c>iptables</c> need root. While
/// the link is cut, no byte is read or passed on in either direction: both ends see silence, and what they send
/// waits in their kernels' buffers, as unacknowledged segments wait for a partition to heal. A connection made
/// meanwhile is accepted and left hanging. <see cref="Refuse"/> is the other kind of partition, one that answers
/// (a firewall's reject): every connection is closed at once, and each new one as soon as it is accepted.
/// <see cref="Heal"/> lets everything flow again; a connection an end gave up on meanwhile is closed on the other
/// side once its bytes have been passed on.
/// </summary>
internal sealed class LinkProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly IPEndPoint _upstream;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _sockets = [];
    private readonly Task _accepting;
    private TaskCompletionSource _open = Completed();
    private bool _refusing;

    private LinkProxy(IPEndPoint upstream)
    {
        _upstream = upstream;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>The address a gateway connects to instead of the backend's.</summary>
    public IPEndPoint Endpoint => (IPEndPoint)_listener.LocalEndpoint;

    public bool IsCut => !_open.Task.IsCompleted;

    public static LinkProxy Start(IPEndPoint upstream) => new(upstream);

    /// <summary>From now on nothing passes, in either direction, on any connection, old or new.</summary>
    public void Cut()
    {
        lock (_sockets)
        {
            if (!IsCut)
            {
                _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    /// <summary>From now on until <see cref="Heal"/>, every connection, open or new, is closed.</summary>
    public void Refuse()
    {
        lock (_sockets)
        {
            _refusing = true;
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }
        }
    }

    public void Heal()
    {
        lock (_sockets)
        {
            _refusing = false;
            _open.TrySetResult();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        Heal();
        _listener.Stop();
        lock (_sockets)
        {
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }
        }

        await _accepting;
        _stop.Dispose();
    }

    private static TaskCompletionSource Completed()
    {
        var open = new TaskCompletionSource();
        open.SetResult();
        return open;
    }

    private Task WhileCut()
    {
        lock (_sockets)
        {
            return _open.Task.WaitAsync(_stop.Token);
        }
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptSocketAsync(_stop.Token);
                _ = RelayAsync(client);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task RelayAsync(Socket client)
    {
        var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        lock (_sockets)
        {
            if (_refusing)
            {
                client.Dispose();
                upstream.Dispose();
                return;
            }

            _sockets.Add(client);
            _sockets.Add(upstream);
        }

        try
        {
            await WhileCut();
            await upstream.ConnectAsync(_upstream, _stop.Token);
            await Task.WhenAll(PumpAsync(client, upstream), PumpAsync(upstream, client));
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            lock (_sockets)
            {
                _sockets.Remove(client);
                _sockets.Remove(upstream);
            }

            client.Dispose();
            upstream.Dispose();
        }
    }

    // One direction: a read is started only while the link is whole, and what it brought waits for the link too.
    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                await WhileCut();
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                await WhileCut();
                if (read == 0)
                {
                    break;
                }

                for (var sent = 0; sent < read;)
                {
                    sent += await to.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None, _stop.Token);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        // An end closed (or reset): so does the other, once what came before has been passed on.
        from.Dispose();
        to.Dispose();
    }
}
