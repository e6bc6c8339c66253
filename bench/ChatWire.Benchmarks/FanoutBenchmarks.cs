extern alias gateway;

using System.Buffers;
using BenchmarkDotNet.Attributes;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Routing;
using ChatWire.Storage.Messages;
using gateway::ChatWire.Gateway.Conversations;
using gateway::ChatWire.Gateway.Delivery;
using Microsoft.Extensions.DependencyInjection;

namespace ChatWire.Benchmarks;

/// <summary>
/// One stored message delivered to <see cref="Devices"/> authenticated devices on this node, through the
/// production local path: the EVENT serialized once and wrapped for the bus as the publisher does it,
/// published on the in-process bus, routed by <see cref="DeliveryFanout"/> to its delivery lanes and written by
/// each <c>ProtocolConnection</c> into its output pipe (<see cref="InProcessGateway"/>); the benchmark waits for
/// the lanes and drains every pipe. Figures are per delivery (<see cref="BenchmarkAttribute.OperationsPerInvoke"/>),
/// so "Allocated" is what one more recipient costs plus 1/1,000 of the per-event work. The baseline writes the
/// same encoded frame into 1,000 bare pipes: the copy every delivery has to make.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class FanoutBenchmarks
{
    public const int Devices = 1_000;

    private InProcessGateway _gateway = null!;
    private PipeSession[] _sessions = null!;
    private IMessageBus _bus = null!;
    private DeliveryFanout _fanout = null!;
    private readonly ArrayBufferWriter<byte> _scratch = new(1024);
    private System.IO.Pipelines.Pipe[] _bare = null!;
    private byte[] _content = null!;
    private ulong _seq;

    [GlobalSetup]
    public void Setup()
    {
        _gateway = InProcessGateway.StartAsync(Devices).GetAwaiter().GetResult();
        _sessions = new PipeSession[Devices];
        for (var i = 0; i < Devices; i++)
        {
            _sessions[i] = _gateway.OpenAsync(i).GetAwaiter().GetResult();
        }

        _bus = _gateway.Provider.GetRequiredService<IMessageBus>();
        _fanout = _gateway.Provider.GetRequiredService<DeliveryFanout>();
        _bare = Enumerable.Range(0, Devices).Select(_ => new System.IO.Pipelines.Pipe()).ToArray();
        _content = new byte[SampleFrames.ContentLength];
        _content.AsSpan().Fill((byte)'a');
    }

    [GlobalCleanup]
    public void Cleanup() => _gateway.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Baseline = true, OperationsPerInvoke = Devices)]
    public async Task<long> CopyToBarePipes()
    {
        _scratch.ResetWrittenCount();
        FrameCodec.Write(_scratch, new EventFrame(EventMapping.ToProtocol(NextEvent())));
        var written = 0L;
        foreach (var pipe in _bare)
        {
            pipe.Writer.Write(_scratch.WrittenSpan);
            await pipe.Writer.FlushAsync();
            pipe.Reader.TryRead(out var result);
            written += result.Buffer.Length;
            pipe.Reader.AdvanceTo(result.Buffer.End);
        }

        return written;
    }

    [Benchmark(OperationsPerInvoke = Devices)]
    public async Task<long> DeliverToLocalDevices()
    {
        var stored = NextEvent();
        _scratch.ResetWrittenCount();
        FrameCodec.Write(_scratch, new EventFrame(EventMapping.ToProtocol(stored)));
        await _bus.PublishAsync(BusTopic.Conversation(stored.ConversationId), BusEnvelope.ForEvent(stored, _scratch.WrittenSpan));
        await _fanout.DeliveredAsync();
        var written = 0L;
        foreach (var session in _sessions)
        {
            written += session.Drain();
        }

        if (written != (long)Devices * _scratch.WrittenCount)
        {
            throw new InvalidOperationException($"{written} bytes delivered; {Devices} × {_scratch.WrittenCount} expected.");
        }

        return written;
    }

    private StoredEvent NextEvent() => new(
        _gateway.ChannelId,
        Guid.CreateVersion7(),
        ++_seq,
        ChatWire.Storage.Messages.EventKind.Message,
        _gateway.Devices[0].UserId,
        _gateway.Devices[0].DeviceId,
        DateTimeOffset.UtcNow,
        SampleFrames.ContentType,
        _content);
}
