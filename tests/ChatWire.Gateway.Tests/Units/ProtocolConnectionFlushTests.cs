using System.Buffers;
using System.IO.Pipelines;
using System.Reflection;
using System.Threading.Tasks.Sources;
using ChatWire.Gateway.Connections;
using ChatWire.Gateway.Hosting;
using ChatWire.Gateway.Observability;
using ChatWire.Protocol.Frames;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Tests.Units;

// A connection's write path keeps the flush under way as "pending", which a half-closed connection waits on before it
// closes. A flush that completes between StartFlush's IsCompleted check and AwaitFlushAsync's await runs to its end
// inline (the lock is re-entered) and clears the pending flush; it was then stored as pending all the same, a
// completed task that the close-time wait looped on forever (one core busy, the socket never closed: the fresh-clone
// run of 2026-12-06 16:21 caught it as SendFloodTests' bystander connection that never closed).
public sealed class ProtocolConnectionFlushTests
{
    [Fact]
    public void FlushCompletingBetweenCheckAndAwait_IsNotKeptAsPending()
    {
        var output = new CompletesOnSecondLookWriter();
        var transport = new DuplexPipe(new Pipe().Reader, output);
        var services = new ConnectionServices(
            Options.Create(new GatewayOptions()), null!, null!, null!, null!, null!, null!, null!, new GatewayMetrics(), TimeProvider.System,
            NullLogger<ProtocolConnection>.Instance);
        var connection = new ProtocolConnection(new DefaultConnectionContext("flush-test", transport, transport), services);

        connection.Send(new Pong(1));
        connection.Send(new Pong(2));

        Assert.Equal(2, output.Flushes);
        Assert.Null(typeof(ProtocolConnection).GetField("_pendingFlush", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(connection));
        Assert.Equal(0, connection.OutboundBytes);
        Assert.True(output.Written > 0);
    }

    private sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;

    // Each flush reports "not yet" to the first look at it and "done" to every later one.
    private sealed class CompletesOnSecondLookWriter : PipeWriter, IValueTaskSource<FlushResult>
    {
        private readonly ArrayBufferWriter<byte> _buffer = new();
        private int _looks;

        public int Flushes { get; private set; }

        public int Written => _buffer.WrittenCount;

        public override void Advance(int bytes) => _buffer.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => _buffer.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => _buffer.GetSpan(sizeHint);

        public override void CancelPendingFlush()
        {
        }

        public override void Complete(Exception? exception = null)
        {
        }

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            Flushes++;
            _looks = 0;
            return new ValueTask<FlushResult>(this, 0);
        }

        public ValueTaskSourceStatus GetStatus(short token) => _looks++ == 0 ? ValueTaskSourceStatus.Pending : ValueTaskSourceStatus.Succeeded;

        public FlushResult GetResult(short token) => default;

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) => continuation(state);
    }
}
