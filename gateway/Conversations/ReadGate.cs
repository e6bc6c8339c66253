using ChatWire.Gateway.Hosting;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Conversations;

/// <summary>
/// Bounds the store reads that HISTORY and SYNC make: one at a time per user, over all of the user's connections
/// on this node, and at most <c>Gateway:MaxStoreReadsInFlight</c> at once on the node. Waiting is asynchronous, so a
/// waiting read holds no thread. The embedded SQLite store's calls block the thread that makes them: without a bound,
/// one account pipelining SYNCs on a few dozen connections held every thread-pool thread, and every other client's
/// PINGs, SENDs and deliveries waited seconds behind them. With it, one account costs the node one blocked thread at
/// most, and other users' reads wait behind at most one read of each account that is reading. While a lease is held
/// the thread pool's minimum counts its thread as taken (<see cref="StoreReadThreads"/>).
/// </summary>
// The semaphores are never disposed: without a wait handle (nobody asks for one) they hold nothing to release, and a
// lease given back while the host shuts down must still work.
#pragma warning disable CA1001
internal sealed class ReadGate(IOptions<GatewayOptions> options, StoreReadThreads? threads = null)
#pragma warning restore CA1001
{
    private readonly SemaphoreSlim _node = new(options.Value.MaxStoreReadsInFlight, options.Value.MaxStoreReadsInFlight);
    private readonly Dictionary<Guid, UserSlot> _users = [];

    /// <summary>Waits for the user's turn and a slot of the node's; dispose the lease when the read is done.</summary>
    public async ValueTask<Lease> EnterAsync(Guid userId)
    {
        UserSlot slot;
        lock (_users)
        {
            if (!_users.TryGetValue(userId, out slot!))
            {
                slot = new UserSlot();
                _users[userId] = slot;
            }

            slot.Holders++;
        }

        try
        {
            await slot.Turn.WaitAsync();
            try
            {
                await _node.WaitAsync();
            }
            catch
            {
                slot.Turn.Release();
                throw;
            }
        }
        catch
        {
            Leave(userId, slot);
            throw;
        }

        threads?.Started();
        return new Lease(this, userId, slot);
    }

    /// <summary>Users with a read in flight or waiting (for tests and metrics).</summary>
    public int Users
    {
        get
        {
            lock (_users)
            {
                return _users.Count;
            }
        }
    }

    private void Exit(Guid userId, UserSlot slot)
    {
        threads?.Ended();
        _node.Release();
        slot.Turn.Release();
        Leave(userId, slot);
    }

    private void Leave(Guid userId, UserSlot slot)
    {
        lock (_users)
        {
            if (--slot.Holders == 0)
            {
                _users.Remove(userId);
            }
        }
    }

    private sealed class UserSlot
    {
        public SemaphoreSlim Turn { get; } = new(1, 1);

        public int Holders { get; set; }
    }

    public readonly struct Lease(ReadGate gate, Guid userId, object slot) : IDisposable
    {
        public void Dispose() => gate.Exit(userId, (UserSlot)slot);
    }
}
