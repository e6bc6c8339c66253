using ChatWire.Client.Internal;

namespace ChatWire.Client;

// GO_AWAY (docs/protocol.md §4.27) and the endpoint list: how a client leaves a draining node for another.
public sealed partial class ChatWireConnection
{
    // How long a link asked to go away waits for the answers to requests already sent before it closes.
    private static readonly TimeSpan MoveAnswerWait = TimeSpan.FromSeconds(5);

    private int _endpointIndex;

    /// <summary>The endpoint the connection uses now: <see cref="ChatWireConnectionOptions.Host"/> or one of the fallbacks.</summary>
    public System.Net.DnsEndPoint CurrentEndpoint
    {
        get
        {
            var options = CurrentEndpointOptions();
            return new System.Net.DnsEndPoint(options.Host, options.Port);
        }
    }

    private ChatWireConnectionOptions CurrentEndpointOptions()
    {
        var index = Volatile.Read(ref _endpointIndex);
        if (index == 0 || _options.FallbackEndpoints.Count == 0)
        {
            return _options;
        }

        var endpoint = _options.FallbackEndpoints[(index - 1) % _options.FallbackEndpoints.Count];
        return _options with { Host = endpoint.Host, Port = endpoint.Port };
    }

    private void NextEndpoint()
    {
        var count = _options.FallbackEndpoints.Count + 1;
        if (count > 1)
        {
            var current = Volatile.Read(ref _endpointIndex);
            Volatile.Write(ref _endpointIndex, (current + 1) % count);
        }
    }

    // After a delay picked in [0, window] (so a node's clients do not all land on the others at once): new
    // requests wait for the next link, the ones in flight get their answers (bounded), then the link closes
    // and the supervisor reconnects at once, to the next endpoint, and catches up from the watermarks.
    private async Task MoveAwayAsync(FrameLink link, uint reconnectWindowMs)
    {
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * reconnectWindowMs), link.Lifetime).ConfigureAwait(false);
            Retire(link);
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (!_pending.IsEmpty && waited.Elapsed < MoveAnswerWait)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), link.Lifetime).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // The link ended first (the server closed it at its deadline): the supervisor reconnects anyway.
            return;
        }

        link.Abort(new IOException("The server is draining and asked the client to reconnect to another node (GO_AWAY)."));
    }

    // Takes the link out of service for new requests while it stays open for the answers it still owes.
    private void Retire(FrameLink link)
    {
        lock (_stateLock)
        {
            if (!ReferenceEquals(_link, link))
            {
                return;
            }

            _link = null;
            if (_linkReady.Task.IsCompleted && _state != ConnectionState.Closed)
            {
                _linkReady = NewLinkSignal();
            }
        }
    }
}
