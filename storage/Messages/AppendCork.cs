namespace ChatWire.Storage.Messages;

/// <summary>
/// Holds back the writer's wake-up while one thread queues several appends in a row, the way TCP_CORK holds a
/// socket's partial segments: a connection corks while it handles a run of SENDs that one read brought, so a client
/// that pipelines SENDs gets them into one group commit (and one publication, and one write per recipient) instead
/// of waking the writer at the first and leaving the rest for a second batch. Uncorking wakes every writer that a
/// held append would have woken.
/// <para>
/// The cork belongs to the thread, so it must be taken and released on that thread with no <c>await</c> in
/// between that could suspend; code that may suspend releases it first (see the gateway's read loop). An append
/// queued by a thread without a cork wakes the writer as always, and also wakes it for the held ones. How long a
/// cork holds is bounded by the caller's synchronous work: the gateway's read loop releases it before anything but
/// a SEND, and before it waits for anything (its SENDs-in-flight limit, a lookup, a rate-limit pause).
/// </para>
/// </summary>
public static class AppendCork
{
    [ThreadStatic]
    private static Held? t_held;

    /// <summary>
    /// Corks this thread until the returned scope is disposed, on this thread. Inside a cork already taken, the
    /// outer one keeps the wake-ups and the scope holds nothing (<see cref="Scope.IsHeld"/> is false).
    /// </summary>
    public static Scope Cork()
    {
        var held = t_held ??= new Held();
        if (held.Active)
        {
            return default;
        }

        held.Active = true;
        return new Scope(held, ++held.Generation);
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
        private readonly int _generation;

        internal Scope(Held held, int generation)
        {
            _held = held;
            _generation = generation;
        }

        /// <summary>True while this scope is the thread's cork (not one nested in another, not released).</summary>
        public bool IsHeld => _held is { Active: true } held && held.Generation == _generation;

        /// <summary>Releases the cork and wakes the writers it held back; released already, or nested, it does nothing.</summary>
        /// <exception cref="InvalidOperationException">On another thread than the one that took the cork, which keeps it.</exception>
        public void Dispose()
        {
            if (!IsHeld)
            {
                return;
            }

            var held = _held!;
            if (!ReferenceEquals(held, t_held))
            {
                // A bug in the caller: released here, the cork would leave its own thread holding appends that
                // nothing wakes the writer for. Its thread releases it; this thread is told.
                throw new InvalidOperationException("A cork is released on the thread that took it.");
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

    /// <summary>One thread's cork: whether it is taken, which taking it is, and the queues whose wake-up it holds (almost always one).</summary>
    internal sealed class Held
    {
        public bool Active { get; set; }

        public int Generation { get; set; }

        public List<FairAppendQueue> Queues { get; } = new(1);
    }
}
