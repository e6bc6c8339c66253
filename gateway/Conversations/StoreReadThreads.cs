namespace ChatWire.Gateway.Conversations;

/// <summary>
/// Keeps the thread pool's minimum above the store reads that are blocking a thread right now. The embedded SQLite
/// store's calls block the thread that makes them (Microsoft.Data.Sqlite's async methods run synchronously). The pool
/// starts threads at once only up to its minimum and slowly beyond it, so reads holding its few threads would make
/// sockets, timers and other users' frames wait. While reads run, the minimum is the number running plus
/// <see cref="Headroom"/> per core; when none runs it goes back to what it was, and threads the pool made meanwhile
/// retire once idle. A floor held all the time instead made every burst of work, such as a ramp of AUTHs, start that
/// many threads at once and keep them: 40 more stacks on an idle node (docs/performance.md, "The floor follows the
/// reads").
/// </summary>
/// <remarks>
/// The thread pool is one per process, so the count is too: gateways sharing a process (the tests) add up. A node
/// whose store does not block (MySQL) is composed with <paramref name="storeBlocks"/> false and changes nothing.
/// </remarks>
internal sealed class StoreReadThreads(bool storeBlocks)
{
    /// <summary>Threads per core kept free for everything else while reads block.</summary>
    public const int Headroom = 4;

    private static readonly Lock Gate = new();
    private static int s_blocking;
    private static int s_baseWorkers = -1;
    private static int s_baseIo;

    /// <summary>Store reads blocking a thread in this process now.</summary>
    public static int Blocking
    {
        get
        {
            lock (Gate)
            {
                return s_blocking;
            }
        }
    }

    // The pool's minimum while `blocking` reads hold a thread each.
    private static int MinimumWorkers(int baseWorkers, int blocking) =>
        blocking == 0 ? baseWorkers : Math.Max(baseWorkers, blocking + (Headroom * Environment.ProcessorCount));

    /// <summary>A read is about to block its thread; pair with <see cref="Ended"/>.</summary>
    public void Started()
    {
        if (!storeBlocks)
        {
            return;
        }

        lock (Gate)
        {
            if (s_blocking++ == 0)
            {
                ThreadPool.GetMinThreads(out s_baseWorkers, out s_baseIo);
            }

            Apply();
        }
    }

    /// <summary>A read <see cref="Started"/> before has given its thread back.</summary>
    public void Ended()
    {
        if (!storeBlocks)
        {
            return;
        }

        lock (Gate)
        {
            s_blocking--;
            Apply();
        }
    }

    private static void Apply() => ThreadPool.SetMinThreads(MinimumWorkers(s_baseWorkers, s_blocking), s_baseIo);
}
