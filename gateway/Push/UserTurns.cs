namespace ChatWire.Gateway.Push;

/// <summary>
/// One notification per user at a time on this node: a user's next waits until the one being sent is done. So one
/// user's many conversations due at once (or receivers that never answer) hold at most one notification's share of
/// the provider slots, not all of them. Users with nothing waiting hold no entry.
/// </summary>
internal sealed class UserTurns
{
    private readonly Dictionary<Guid, Turn> _turns = [];

    /// <summary>Waits for the user's turn; disposing the result ends it.</summary>
    public async Task<IDisposable> EnterAsync(Guid userId, CancellationToken cancellationToken)
    {
        Turn turn;
        lock (_turns)
        {
            if (!_turns.TryGetValue(userId, out turn!))
            {
                turn = new Turn(this, userId);
                _turns.Add(userId, turn);
            }

            turn.Holders++;
        }

        try
        {
            await turn.Gate.WaitAsync(cancellationToken);
        }
        catch
        {
            Leave(turn, entered: false);
            throw;
        }

        return new Held(turn);
    }

    /// <summary>Users with a notification being sent or waiting (for tests and diagnostics).</summary>
    public int Count
    {
        get
        {
            lock (_turns)
            {
                return _turns.Count;
            }
        }
    }

    private void Leave(Turn turn, bool entered)
    {
        if (entered)
        {
            turn.Gate.Release();
        }

        lock (_turns)
        {
            if (--turn.Holders == 0)
            {
                _turns.Remove(turn.UserId);
            }
        }
    }

    // Holders counts the one whose turn it is and those waiting; the last to leave removes the entry.
    private sealed class Turn(UserTurns owner, Guid userId)
    {
        public UserTurns Owner { get; } = owner;

        public Guid UserId { get; } = userId;

        public SemaphoreSlim Gate { get; } = new(1, 1);

        public int Holders { get; set; }
    }

    // One turn taken: ends it on the first Dispose only.
    private sealed class Held(Turn turn) : IDisposable
    {
        private int _ended;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _ended, 1) == 0)
            {
                turn.Owner.Leave(turn, entered: true);
            }
        }
    }
}
