extern alias gateway;

using System.Buffers;
using System.Runtime.CompilerServices;
using BenchmarkDotNet.Attributes;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using gateway::ChatWire.Gateway.Connections;

namespace ChatWire.Benchmarks;

/// <summary>
/// A decoded inbound frame through an authenticated connection's dispatch, the way its read loop hands it
/// over (<c>ProtocolConnection.HandleFrameAsync</c>, reached through <see cref="SessionDispatch"/>), on the
/// whole gateway in process (<see cref="InProcessGateway"/>); the answer is drained from the output pipe.
/// PING is answered with PONG; TYPING checks membership, passes the typing throttle once per 2 s (so almost
/// every TYPING here is the throttled path, as for a client typing fast) and is answered with OK; SEND is
/// pipelined <see cref="SendBatch"/> deep and each is answered with SEND_ACK after its group commit
/// (embedded SQLite, synchronous=FULL), so its time is the store's, its allocation the dispatch's and the commit's.
/// The baseline is the frame decode alone (header and PING body), which every dispatch starts with.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class SessionDispatchBenchmarks
{
    public const int SendBatch = 32;

    private InProcessGateway _gateway = null!;
    private PipeSession _session = null!;
    private ReadOnlySequence<byte> _ping;
    private ReadOnlySequence<byte> _typing;
    private readonly ArrayBufferWriter<byte> _sendFrames = new(SendBatch * 512);
    private readonly ReadOnlyMemory<byte>[] _sends = new ReadOnlyMemory<byte>[SendBatch];
    private readonly byte[] _content = new byte[SampleFrames.ContentLength];

    [GlobalSetup]
    public void Setup()
    {
        _gateway = InProcessGateway.StartAsync(users: 2).GetAwaiter().GetResult();
        _session = _gateway.OpenAsync(0).GetAwaiter().GetResult();
        _ping = SampleFrames.Body(new Ping(7));
        _typing = SampleFrames.Body(new Typing(8, _gateway.ChannelId));
        _content.AsSpan().Fill((byte)'a');
    }

    [GlobalCleanup]
    public void Cleanup() => _gateway.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Baseline = true)]
    public Opcode DecodePing() => SessionDispatch.DecodePing(_ping, _gateway.Services.Limits);

    [Benchmark]
    public long DispatchPing() => SessionDispatch.Dispatch(_session, _ping);

    [Benchmark]
    public long DispatchTyping() => SessionDispatch.Dispatch(_session, _typing);

    [Benchmark(OperationsPerInvoke = SendBatch)]
    public async Task<int> DispatchSendToAck()
    {
        _sendFrames.ResetWrittenCount();
        for (var i = 0; i < SendBatch; i++)
        {
            var start = _sendFrames.WrittenCount;
            FrameCodec.Write(_sendFrames, new Send((uint)i + 100, _gateway.ChannelId, Guid.CreateVersion7(), SampleFrames.ContentType, _content));
            _sends[i] = _sendFrames.WrittenMemory[(start + ProtocolLimits.LengthPrefixSize)..];
        }

        for (var i = 0; i < SendBatch; i++)
        {
            await SessionDispatch.HandleFrameAsync(_session.Connection, new ReadOnlySequence<byte>(_sends[i]));
        }

        // The sender is a member of the channel: its own EVENTs come back between the acks.
        return await _session.CountUntilAsync(Opcode.SendAck, SendBatch);
    }
}

/// <summary>The connection's own frame handling, which its read loop calls once per frame (private there).</summary>
internal static class SessionDispatch
{
    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "HandleFrameAsync")]
    public static extern ValueTask HandleFrameAsync(ProtocolConnection connection, ReadOnlySequence<byte> body);

    /// <summary>Dispatches one frame whose handling completes at once, and drains the answer; returns its length.</summary>
    public static long Dispatch(PipeSession session, ReadOnlySequence<byte> body)
    {
        var handled = HandleFrameAsync(session.Connection, body);
        if (!handled.IsCompletedSuccessfully)
        {
            throw new InvalidOperationException("The frame's handling did not complete at once.");
        }

        var answer = session.Drain();
        if (answer == 0)
        {
            throw new InvalidOperationException("The frame was not answered.");
        }

        return answer;
    }

    public static Opcode DecodePing(ReadOnlySequence<byte> body, ProtocolLimits limits)
    {
        var reader = new MessagePack.MessagePackReader(body);
        var header = FrameCodec.ReadHeader(ref reader);
        _ = FrameCodec.ReadBody<Ping>(ref reader, header, limits);
        return header.Opcode;
    }
}
