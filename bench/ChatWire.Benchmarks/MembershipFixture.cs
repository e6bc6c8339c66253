extern alias gateway;

using System.Diagnostics;
using System.Reflection;
using ChatWire.Storage.Directory;
using gateway::ChatWire.Gateway.Conversations;

namespace ChatWire.Benchmarks;

/// <summary>
/// A <see cref="MembershipCache"/> holding answers for <see cref="Keys"/> (conversation, user) pairs of
/// channels, warmed through its miss path once. The directory behind it answers the two calls that path
/// makes for a channel and throws on anything else; <see cref="DirectoryCalls"/> lets a measurement prove
/// it never reached the directory, i.e. that it measured the hit path.
/// </summary>
internal sealed class MembershipFixture
{
    public const int Keys = 1_000;

    private readonly MissOnlyDirectory _directory;

    public MembershipFixture()
    {
        var directory = DispatchProxy.Create<IDirectoryStore, MissOnlyDirectory>();
        _directory = (MissOnlyDirectory)(object)directory;
        Cache = new MembershipCache(directory, new SlowClock(), new NoMembershipBackplane());
        Conversations = new Guid[Keys];
        Users = new Guid[Keys];
        for (var i = 0; i < Keys; i++)
        {
            Conversations[i] = Guid.CreateVersion7();
            Users[i] = Guid.CreateVersion7();
            var access = Cache.GetAccessAsync(Conversations[i], Users[i], CancellationToken.None).AsTask().GetAwaiter().GetResult();
            if (access.Access != ConversationAccess.Send)
            {
                throw new InvalidOperationException($"The warm-up answered {access.Access}, not Send.");
            }
        }
    }

    public MembershipCache Cache { get; }

    public Guid[] Conversations { get; }

    public Guid[] Users { get; }

    public int DirectoryCalls => _directory.Calls;

    /// <summary>
    /// <see cref="Keys"/> checks, one per cached pair; returns how many may send. Whether they all hit is for
    /// the caller to confirm through <see cref="DirectoryCalls"/> (a miss here completes synchronously too,
    /// the directory being in memory).
    /// </summary>
    public int CheckAll()
    {
        var maySend = 0;
        for (var i = 0; i < Keys; i++)
        {
            maySend += MaySend(i) ? 1 : 0;
        }

        return maySend;
    }

    /// <summary>One membership check, of the <paramref name="index"/>th cached pair.</summary>
    public bool MaySend(int index)
    {
        var pending = Cache.GetAccessAsync(Conversations[index], Users[index], CancellationToken.None);

        // A ValueTask's Result may be read only once it has completed.
        if (!pending.IsCompletedSuccessfully)
        {
            throw new InvalidOperationException("A membership check did not complete synchronously.");
        }

        return pending.Result.Access == ConversationAccess.Send;
    }

    // The cache trusts an answer for one minute of its clock; a benchmark run can last longer. This clock
    // reads the same Stopwatch as TimeProvider.System (same cost per call) but claims a 1,000× higher
    // frequency, so an answer stays fresh for 1,000 minutes and the run keeps measuring hits.
    private sealed class SlowClock : TimeProvider
    {
        public override long TimestampFrequency => Stopwatch.Frequency * 1_000;

        public override long GetTimestamp() => Stopwatch.GetTimestamp();
    }
}

/// <summary>
/// The directory behind the cache in the fixture: every conversation is a public channel of one team and every
/// user a member of it. Only the miss path's two calls are answered; anything else is a fixture bug.
/// Not sealed: <see cref="DispatchProxy"/> derives the proxy type from it at run time.
/// </summary>
#pragma warning disable CA1852 // DispatchProxy.Create derives from this type at run time.
internal class MissOnlyDirectory : DispatchProxy
#pragma warning restore CA1852
{
    private static readonly Guid TeamId = Guid.CreateVersion7();

    public int Calls { get; private set; }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        Calls++;
        return targetMethod?.Name switch
        {
            nameof(IDirectoryStore.IsConversationMemberAsync) => Task.FromResult(true),
            nameof(IDirectoryStore.GetConversationAsync) => Task.FromResult<ConversationRecord?>(
                new ConversationRecord((Guid)args![0]!, ConversationKind.PublicChannel, TeamId, "general", null, Guid.Empty, DateTimeOffset.UnixEpoch)),
            _ => throw new NotSupportedException($"The membership fixture's directory does not answer {targetMethod?.Name}."),
        };
    }
}
