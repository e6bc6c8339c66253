using System.Collections.Concurrent;

namespace ChatWire.Gateway.Transport;

/// <summary>
/// Where lean connections' scheduled sends wait their turn: a few FIFO queues (one per core), each drained by at
/// most one thread-pool work item at a time. A connection's send waits behind the others of its queue, so the
/// events written to it meanwhile leave with it: a fan-out to thousands of connections makes one system call per
/// connection per turn, not one per event, and hands the thread pool one work item per turn, not one per send.
/// </summary>
internal sealed class LeanSendQueue : IThreadPoolWorkItem
{
    private static readonly LeanSendQueue[] Queues = CreateQueues();

    private readonly ConcurrentQueue<LeanWriter> _writers = new();
    private int _draining;

    /// <summary>Queues a writer's send on the queue its connection belongs to.</summary>
    public static void Schedule(LeanWriter writer, long connectionNumber) =>
        Queues[(int)((ulong)connectionNumber % (ulong)Queues.Length)].Enqueue(writer);

    private static LeanSendQueue[] CreateQueues()
    {
        var queues = new LeanSendQueue[Math.Clamp(Environment.ProcessorCount, 1, 16)];
        for (var i = 0; i < queues.Length; i++)
        {
            queues[i] = new LeanSendQueue();
        }

        return queues;
    }

    private void Enqueue(LeanWriter writer)
    {
        _writers.Enqueue(writer);
        if (Interlocked.Exchange(ref _draining, 1) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    void IThreadPoolWorkItem.Execute()
    {
        while (true)
        {
            while (_writers.TryDequeue(out var writer))
            {
                writer.SendScheduled();
            }

            // Stop draining, unless a writer came in after the queue was last seen empty and found it draining.
            Volatile.Write(ref _draining, 0);
            if (_writers.IsEmpty || Interlocked.Exchange(ref _draining, 1) == 1)
            {
                return;
            }
        }
    }
}
