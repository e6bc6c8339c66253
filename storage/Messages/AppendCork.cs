namespace ChatWire.Storage.Messages;

/// <summary>
/// Holds back the writer's wake-up while one thread queues several appends in a row, the way TCP_CORK holds a
/// socket's partial segments: a connection corks while it handles the frames one read brought, so a client that
/// pipelines SENDs gets them into one group commit (and one publication, and one write per recipient) instead of
/// waking the writer at the first and leaving the rest for a second batch. Uncorking wakes every writer that a
/// held append would have woken.
/// <para>
/// The cork belongs to the thread, so it must be taken and released with no <c>await</c> in between that could
/// suspend; code that may suspend releases it first and takes it again after (see the gateway's read loop). An
/// append queued on another thread wakes the writer as always, and also wakes it for the held ones. How long a
/// cork holds is bounded by the caller's synchronous work: a connection's read loop stops at its SENDs-in-flight
/// limit, which suspends it, and so releases the cork.
/// </para>
/// </summary>
public static class AppendCork
{
    [ThreadStatic]
    private static Held? t_held;

    /// <summary>
    /// Corks this thread until the returned scope is disposed (on this thread). Inside a cork already taken, the
    /// outer one keeps the wake-ups and the scope does nothing.
    /// </summary>
    public static Scope Cork()
    {
        var held = t_held ??= new Held();
        if (held.Active)
        {
            return default;
        }

        held.Active = true;
        return new Scope(held);
    }

    /// <summary>True when this thread holds a cork: a queue then records itself instead of waking its writer.</summary>
    internal static bool TryHold(FairAppendQueue queue)
    {
        var held = t_held;
        if (held is null || !held.Active)
        {
            return false;
        }

        if (!held.Queues.Contains(queue))
        {
            held.Queues.Add(queue);
        }

        return true;
    }

    /// <summary>The cork of one thread; disposing it wakes the writers of what was held.</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly Held? _held;

        internal Scope(Held held) => _held = held;

        public void Dispose()
        {
            if (_held is not { Active: true } held || !ReferenceEquals(held, t_held))
            {
                return;
            }

            held.Active = false;
            var queues = held.Queues;
            try
            {
                foreach (var queue in queues)
                {
                    queue.WakeIfHeld();
                }
            }
            finally
            {
                queues.Clear();
            }
        }
    }

    /// <summary>One thread's cork: whether it is taken, and the queues whose wake-up it holds (almost always one).</summary>
    internal sealed class Held
    {
        public bool Active { get; set; }

        public List<FairAppendQueue> Queues { get; } = new(1);
    }
}
