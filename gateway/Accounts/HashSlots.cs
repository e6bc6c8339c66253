using ChatWire.Protocol;

namespace ChatWire.Gateway.Accounts;

/// <summary>
/// The slots password hashes run in, shared fairly between client addresses. At most <c>concurrency</c>
/// hashes run; the rest wait in one queue per address, and a freed slot goes to the next address in turn,
/// so a few busy addresses cannot make everyone else wait behind them. Each address may have at most
/// <c>perClient</c> hashes running or waiting (past it, SERVER_BUSY), and the waiting are bounded by
/// <c>maxQueued</c>, except that an address with nothing waiting is always let in: a real login is never
/// refused because others filled the queue.
/// </summary>
internal sealed class HashSlots(int concurrency, int maxQueued, int perClient)
{
    private readonly object _gate = new();
    private readonly Dictionary<string, Queue<Waiter>> _waiting = new(StringComparer.Ordinal);
    private readonly Queue<string> _turns = new();
    private readonly Dictionary<string, int> _heldBy = new(StringComparer.Ordinal);
    private int _running;
    private int _queued;

    public int Running
    {
        get
        {
            lock (_gate)
            {
                return _running;
            }
        }
    }

    public int Queued
    {
        get
        {
            lock (_gate)
            {
                return _queued;
            }
        }
    }

    /// <summary>Waits for a slot for <paramref name="client"/>; the caller gives it back with <see cref="Release"/>.</summary>
    /// <exception cref="RequestRefusedException">SERVER_BUSY: this address, or everyone, already has too many waiting.</exception>
    public Task AcquireAsync(string client, CancellationToken cancellationToken)
    {
        Waiter waiter;
        lock (_gate)
        {
            var held = _heldBy.GetValueOrDefault(client);
            if (held >= perClient)
            {
                throw Busy("Too many password checks from this address are in progress; retry shortly.");
            }

            if (_running < concurrency && _queued == 0)
            {
                _running++;
                _heldBy[client] = held + 1;
                return Task.CompletedTask;
            }

            if (_queued >= maxQueued && held > 0)
            {
                throw Busy("Too many password checks are in progress; retry shortly.");
            }

            waiter = new Waiter(client);
            if (!_waiting.TryGetValue(client, out var queue))
            {
                queue = new Queue<Waiter>();
                _waiting.Add(client, queue);
                _turns.Enqueue(client);
            }

            queue.Enqueue(waiter);
            _queued++;
            _heldBy[client] = held + 1;
        }

        if (cancellationToken.CanBeCanceled)
        {
            waiter.Registration = cancellationToken.Register(() => Cancel(waiter));
        }

        return waiter.Task;
    }

    /// <summary>Gives back <paramref name="client"/>'s slot: it passes to the next address in turn, or frees.</summary>
    public void Release(string client)
    {
        Waiter? next = null;
        lock (_gate)
        {
            Forget(client);
            while (_turns.TryDequeue(out var turn))
            {
                var queue = _waiting[turn];
                var candidate = queue.Dequeue();
                if (queue.Count > 0)
                {
                    _turns.Enqueue(turn);
                }
                else
                {
                    _waiting.Remove(turn);
                }

                if (!candidate.Cancelled)
                {
                    _queued--;
                    candidate.Granted = true;
                    next = candidate;
                    break;
                }
            }

            if (next is null)
            {
                _running--;
            }
        }

        // The slot passes straight to the waiter; its continuation runs on its own (RunContinuationsAsynchronously).
        next?.Registration.Dispose();
        next?.TrySetResult();
    }

    private static RequestRefusedException Busy(string message) => new(ErrorCode.ServerBusy, message, retryAfterSeconds: 1);

    private void Cancel(Waiter waiter)
    {
        lock (_gate)
        {
            if (waiter.Granted || waiter.Cancelled)
            {
                return;
            }

            // Left in its queue, skipped when its turn comes; it no longer counts.
            waiter.Cancelled = true;
            _queued--;
            Forget(waiter.Client);
        }

        waiter.TrySetCanceled();
    }

    // Under _gate.
    private void Forget(string client)
    {
        var held = _heldBy.GetValueOrDefault(client) - 1;
        if (held <= 0)
        {
            _heldBy.Remove(client);
        }
        else
        {
            _heldBy[client] = held;
        }
    }

    private sealed class Waiter(string client) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public string Client { get; } = client;

        public bool Granted { get; set; }

        public bool Cancelled { get; set; }

        public CancellationTokenRegistration Registration { get; set; }
    }
}
