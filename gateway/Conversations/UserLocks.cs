namespace ChatWire.Gateway.Conversations;

/// <summary>
/// Serializes the membership changes of one user on this node: a join and a leave of the same user never
/// interleave their directory change and their event, so the conversation's events and the directory
/// agree on who is in it. Striped: a fixed set of semaphores, so memory does not grow with users.
/// </summary>
internal sealed class UserLocks
{
    private const int Stripes = 256;

    private readonly SemaphoreSlim[] _stripes = Enumerable.Range(0, Stripes).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    public async Task<Releaser> LockAsync(Guid userId, CancellationToken cancellationToken)
    {
        var stripe = _stripes[(uint)userId.GetHashCode() % Stripes];
        await stripe.WaitAsync(cancellationToken);
        return new Releaser(stripe);
    }

    public readonly struct Releaser(SemaphoreSlim stripe) : IDisposable
    {
        public void Dispose() => stripe.Release();
    }
}
