using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;

namespace ChatWire.Benchmarks;

/// <summary>
/// The membership check every SEND makes (<c>MembershipCache.GetAccessAsync</c>) on its hit path: 1,000
/// (conversation, user) answers cached, each checked once per invocation; figures are per check
/// (<see cref="BenchmarkAttribute.OperationsPerInvoke"/>). The baseline is a bare
/// <see cref="ConcurrentDictionary{TKey, TValue}"/> lookup of the same keys, which is what the cache's hit
/// path is built on; the difference is the clock read, the freshness check and the ValueTask.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class MembershipCacheBenchmarks
{
    private MembershipFixture _fixture = null!;
    private ConcurrentDictionary<(Guid Conversation, Guid User), long> _bare = null!;

    [GlobalSetup]
    public void Setup()
    {
        _fixture = new MembershipFixture();
        _bare = new ConcurrentDictionary<(Guid, Guid), long>();
        for (var i = 0; i < MembershipFixture.Keys; i++)
        {
            _bare[(_fixture.Conversations[i], _fixture.Users[i])] = i;
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        // Measuring a miss as a hit would flatter the figure: the directory is asked only on a miss.
        if (_fixture.DirectoryCalls != 2 * MembershipFixture.Keys)
        {
            throw new InvalidOperationException($"The directory was asked {_fixture.DirectoryCalls} times; only the warm-up's {2 * MembershipFixture.Keys} were expected.");
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = MembershipFixture.Keys)]
    public long BareDictionaryLookup()
    {
        var sum = 0L;
        for (var i = 0; i < MembershipFixture.Keys; i++)
        {
            if (_bare.TryGetValue((_fixture.Conversations[i], _fixture.Users[i]), out var value))
            {
                sum += value;
            }
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = MembershipFixture.Keys)]
    public int GetAccessHit() => _fixture.CheckAll();
}
