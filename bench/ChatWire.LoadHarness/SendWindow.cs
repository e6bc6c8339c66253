using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.LoadHarness;

/// <summary>
/// The SENDs one connection has in flight: at most a window of them unacknowledged, each one's send time kept
/// until its SEND_ACK gives the latency. The sending loop waits for room, sends; its reading loop reports ACKs.
/// </summary>
internal sealed class SendWindow(int window) : IDisposable
{
    private readonly ConcurrentDictionary<uint, long> _sentAt = new();
    private readonly SemaphoreSlim _slots = new(window);
    private readonly ArrayBufferWriter<byte> _output = new(512);

    /// <summary>
    /// Waits until fewer than the window are unacknowledged; throws what stopped <paramref name="reader"/> (the loop
    /// reading the ACKs: an ERROR frame, the connection closed) instead of waiting for ACKs that will not come.
    /// </summary>
    public async Task WaitForRoomAsync(Task reader)
    {
        var room = _slots.WaitAsync();
        if (!room.IsCompleted && await Task.WhenAny(room, reader) == reader)
        {
            await reader;
            throw new InvalidOperationException("The reading loop ended before every SEND was acknowledged.");
        }

        await room;
    }

    public Task SendAsync(LoadConnection connection, in Send send)
    {
        _output.ResetWrittenCount();
        FrameCodec.Write(_output, send);
        _sentAt[send.RequestId] = Stopwatch.GetTimestamp();
        return connection.SendAsync(_output.WrittenMemory, CancellationToken.None);
    }

    /// <summary>A SEND_ACK arrived: its latency goes to <paramref name="latencies"/> (when given) and its slot is free.</summary>
    public void Acked(uint requestId, ConcurrentBag<double>? latencies)
    {
        if (_sentAt.TryRemove(requestId, out var at))
        {
            latencies?.Add(Stopwatch.GetElapsedTime(at).TotalMilliseconds);
        }

        _slots.Release();
    }

    public void Dispose() => _slots.Dispose();
}
