using System.Collections.Concurrent;
using ChatWire.Gateway.Hosting;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Api;

/// <summary>
/// How many HTTP API requests of one account may be in progress at once on this node
/// (<c>Limits:ApiRequestsInProgressPerUser</c>). The request budget counts requests as they start; this counts how long
/// they last. A request whose body arrives slowly holds its connection, and the body read so far, until the body
/// deadline: without this an account could start a minute's budget of them and hold that many connection slots of
/// the API, and their memory. One more while the account is at the limit is <c>429 RATE_LIMITED</c> (Retry-After 1).
/// An account with none in progress holds no entry.
/// </summary>
internal sealed class AccountRequestsInProgress(IOptions<LimitsOptions> options)
{
    private readonly int _limit = options.Value.ApiRequestsInProgressPerUser;
    private readonly ConcurrentDictionary<Guid, int> _counts = new();

    /// <summary>Accounts with a request in progress, for tests.</summary>
    public int Tracked => _counts.Count;

    /// <summary>Counts a request of the account in until the returned slot is disposed, or refuses it past the limit.</summary>
    /// <exception cref="RequestRefusedException">RATE_LIMITED (Retry-After 1): the account has the limit's worth in progress.</exception>
    public Slot Enter(Guid userId) => TryEnter(userId)
        ? new Slot(this, userId)
        : throw new RequestRefusedException(
            Protocol.ErrorCode.RateLimited, "Too many requests of this account are in progress at once; retry when one has finished.", retryAfterSeconds: 1);

    /// <summary>The account's requests in progress now, for tests.</summary>
    public int Count(Guid userId) => _counts.TryGetValue(userId, out var count) ? count : 0;

    /// <summary>Counts one more request of the account in, or returns false when it already has the limit's worth.</summary>
    public bool TryEnter(Guid userId)
    {
        if (_limit <= 0)
        {
            return true;
        }

        while (true)
        {
            if (_counts.TryGetValue(userId, out var count))
            {
                if (count >= _limit)
                {
                    return false;
                }

                if (_counts.TryUpdate(userId, count + 1, count))
                {
                    return true;
                }
            }
            else if (_counts.TryAdd(userId, 1))
            {
                return true;
            }
        }
    }

    /// <summary>Counts a request that <see cref="TryEnter"/> let in out again.</summary>
    public void Exit(Guid userId)
    {
        if (_limit <= 0)
        {
            return;
        }

        while (true)
        {
            var count = _counts[userId];
            if (count == 1 ? _counts.TryRemove(new KeyValuePair<Guid, int>(userId, 1)) : _counts.TryUpdate(userId, count - 1, count))
            {
                return;
            }
        }
    }

    /// <summary>One request counted in by <see cref="Enter"/>; disposing it counts the request out.</summary>
    public readonly struct Slot(AccountRequestsInProgress owner, Guid userId) : IDisposable
    {
        public void Dispose() => owner.Exit(userId);
    }
}
