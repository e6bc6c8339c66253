extern alias gateway;

using System.Buffers;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.Benchmarks;

/// <summary>
/// The allocation check's workloads that need the gateway (<see cref="InProcessGateway"/>): dispatch of PING
/// and TYPING on an authenticated connection, and one EVENT's delivery to a connection, i.e. what a delivery
/// lane does per recipient with the frame the fan-out serialized once.
/// </summary>
internal sealed class GatewayWorkloads : IAsyncDisposable
{
    public const int Recipients = 100;

    private readonly InProcessGateway _gateway;
    private readonly PipeSession[] _sessions;
    private readonly ReadOnlySequence<byte> _ping;
    private readonly ReadOnlySequence<byte> _typing;
    private readonly byte[] _event = FrameCodec.ToArray(SampleFrames.Message());

    private GatewayWorkloads(InProcessGateway gateway, PipeSession[] sessions)
    {
        _gateway = gateway;
        _sessions = sessions;
        _ping = SampleFrames.Body(new Ping(7));
        _typing = SampleFrames.Body(new Typing(8, gateway.ChannelId));
    }

    public static async Task<GatewayWorkloads> StartAsync()
    {
        var gateway = await InProcessGateway.StartAsync(Recipients);
        var sessions = new PipeSession[Recipients];
        for (var i = 0; i < Recipients; i++)
        {
            sessions[i] = await gateway.OpenAsync(i);
        }

        // Whatever followed AUTH_OK (presence, say) is not part of any workload.
        await Task.Delay(500);
        foreach (var session in sessions)
        {
            session.Drain();
        }

        return new GatewayWorkloads(gateway, sessions);
    }

    public void DispatchPing(int iterations)
    {
        for (var i = 0; i < iterations; i++)
        {
            SessionDispatch.Dispatch(_sessions[0], _ping);
        }
    }

    // Past the first, each TYPING within the 2 s throttle interval is answered OK and not published.
    public void DispatchTyping(int iterations)
    {
        for (var i = 0; i < iterations; i++)
        {
            SessionDispatch.Dispatch(_sessions[0], _typing);
        }
    }

    public void DeliverEvent(int iterations)
    {
        // The USER_TYPING a passing TYPING sent the others is not part of this workload.
        foreach (var session in _sessions)
        {
            session.Drain();
        }

        for (var i = 0; i < iterations; i++)
        {
            var session = _sessions[i % Recipients];
            // As a delivery lane writes: unflushed, then one flush for the batch (here a batch of one).
            if (session.Connection.DeliverUnflushed(_event) == gateway::ChatWire.Gateway.Delivery.DeliveryWrite.WrittenFlushOwed)
            {
                session.Connection.FlushDeliveries();
            }

            if (session.Drain() is var drained && drained != _event.Length)
            {
                throw new InvalidOperationException($"{drained} bytes written to the connection's output; the EVENT is {_event.Length}.");
            }
        }
    }

    public ValueTask DisposeAsync() => _gateway.DisposeAsync();
}
