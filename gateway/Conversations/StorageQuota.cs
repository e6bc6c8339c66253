using System.Collections.Concurrent;
using ChatWire.Gateway.Hosting;
using ChatWire.Storage.Messages;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Conversations;

/// <summary>
/// Storage quotas (docs/security.md, "Sending"): the content one user has sent, and the content sent in one
/// team's channels, each bounded (Limits:StorageBytesPerUser, Limits:StorageBytesPerTeam; 0 = none). The
/// store keeps the exact counts (<see cref="IMessageStore.GetUsageAsync"/>); this node reads an owner's
/// count at most every <see cref="Refresh"/> and adds what it stores meanwhile, so a SEND costs no read. A
/// quota is therefore enforced to within what other nodes stored in the last half minute.
/// </summary>
internal sealed class StorageQuota(IMessageStore store, IOptions<LimitsOptions> options, TimeProvider time)
{
    /// <summary>How long an owner's count read from the store is trusted (plus this node's own additions).</summary>
    public static readonly TimeSpan Refresh = TimeSpan.FromSeconds(30);

    private const int MaxOwners = 200_000;

    private readonly ConcurrentDictionary<Guid, Usage> _usage = new();
    private readonly long _perUser = options.Value.StorageBytesPerUser;
    private readonly long _perTeam = options.Value.StorageBytesPerTeam;
    private readonly long _refreshTicks = (long)(Refresh.TotalSeconds * time.TimestampFrequency);

    /// <summary>Null when <paramref name="bytes"/> more fit both quotas, else the sentence to refuse with.</summary>
    public ValueTask<string?> CheckAsync(Guid userId, Guid? teamId, long bytes)
    {
        var checkTeam = _perTeam > 0 && teamId is not null;
        if (_perUser <= 0 && !checkTeam)
        {
            return ValueTask.FromResult<string?>(null);
        }

        var now = time.GetTimestamp();
        if ((_perUser <= 0 || IsFresh(userId, now)) && (!checkTeam || IsFresh(teamId!.Value, now)))
        {
            return ValueTask.FromResult(Judge(userId, checkTeam ? teamId : null, bytes));
        }

        return CheckAfterReadingAsync(userId, checkTeam ? teamId : null, bytes);
    }

    /// <summary>Counts content this node just stored, until the next read from the store.</summary>
    public void Add(Guid userId, Guid? teamId, long bytes)
    {
        AddTo(userId, bytes);
        if (teamId is { } team)
        {
            AddTo(team, bytes);
        }
    }

    private bool IsFresh(Guid owner, long now) => _usage.TryGetValue(owner, out var usage) && now < usage.ReadAt + _refreshTicks;

    private async ValueTask<string?> CheckAfterReadingAsync(Guid userId, Guid? teamId, long bytes)
    {
        var owners = teamId is { } team ? new[] { userId, team } : [userId];
        var counts = await store.GetUsageAsync(owners);
        if (_usage.Count > MaxOwners)
        {
            _usage.Clear();
        }

        var now = time.GetTimestamp();
        foreach (var owner in owners)
        {
            _usage[owner] = new Usage(counts.GetValueOrDefault(owner), now);
        }

        return Judge(userId, teamId, bytes);
    }

    private string? Judge(Guid userId, Guid? teamId, long bytes)
    {
        if (_perUser > 0 && Used(userId) + bytes > _perUser)
        {
            return $"Your storage quota ({Describe(_perUser)}) is used up; the message was not stored.";
        }

        if (teamId is { } team && Used(team) + bytes > _perTeam)
        {
            return $"This team's storage quota ({Describe(_perTeam)}) is used up; the message was not stored.";
        }

        return null;
    }

    private long Used(Guid owner) => _usage.TryGetValue(owner, out var usage) ? Volatile.Read(ref usage.Bytes) : 0;

    private void AddTo(Guid owner, long bytes)
    {
        if (_usage.TryGetValue(owner, out var usage))
        {
            Interlocked.Add(ref usage.Bytes, bytes);
        }
    }

    private static string Describe(long bytes) => bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):0.#} GiB" : $"{bytes / (double)(1L << 20):0.#} MiB";

    private sealed class Usage(long bytes, long readAt)
    {
        public long Bytes = bytes;

        public long ReadAt { get; } = readAt;
    }
}
