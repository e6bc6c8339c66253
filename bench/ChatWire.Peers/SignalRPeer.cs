using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;

namespace ChatWire.Peers;

/// <summary>
/// The ASP.NET Core SignalR hub of bench/ChatWire.SignalRPeer, spoken to with Microsoft's SignalR client over
/// WebSockets (JSON hub protocol, no negotiate round trip): a subscriber joins a group, the publisher invokes
/// the hub's Send once per message and a batch is confirmed when all its invocations completed.
/// </summary>
internal sealed class SignalRPeer(int port) : IPeer
{
    private readonly Uri _hub = new($"http://127.0.0.1:{port}/hub");

    public async Task<IPeerSubscription> SubscribeAsync(string topic)
    {
        var connection = await StartAsync();
        var subscription = new Subscription(connection);
        await connection.InvokeAsync("Join", topic);
        return subscription;
    }

    public async Task<IPeerPublisher> ConnectPublisherAsync() => new Publisher(await StartAsync());

    private async Task<HubConnection> StartAsync()
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(_hub, HttpTransportType.WebSockets, options => options.SkipNegotiation = true)
            .Build();
        await connection.StartAsync();
        return connection;
    }

    private sealed class Subscription : IPeerSubscription
    {
        private readonly HubConnection _connection;
        private float[]? _latencies;
        private int _count;
        private int _received;
        private TaskCompletionSource? _done;

        public Subscription(HubConnection connection)
        {
            _connection = connection;
            // The client calls one connection's handlers one at a time, so the counters need no lock.
            connection.On<string>("m", payload =>
            {
                if (_done is null || _received >= _count)
                {
                    return;
                }

                _latencies![_received] = PushParser.LatencyMs(System.Text.Encoding.ASCII.GetBytes(payload));
                if (++_received == _count)
                {
                    _done.TrySetResult();
                }
            });
            connection.Closed += _ =>
            {
                _done?.TrySetResult();
                return Task.CompletedTask;
            };
        }

        public Task ReceiveAsync(int count, float[] latencies)
        {
            _received = 0;
            _latencies = latencies;
            _count = count;
            _done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _done.Task;
        }

        public ValueTask DisposeAsync() => _connection.DisposeAsync();
    }

    private sealed class Publisher(HubConnection connection) : IPeerPublisher
    {
        public Task PublishBatchAsync(string topic, IReadOnlyList<string> bodies) =>
            Task.WhenAll(bodies.Select(body => connection.InvokeAsync("Send", topic, body)));

        public ValueTask DisposeAsync() => connection.DisposeAsync();
    }
}
