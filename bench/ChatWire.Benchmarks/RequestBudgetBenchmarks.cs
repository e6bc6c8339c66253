extern alias gateway;

using BenchmarkDotNet.Attributes;
using gateway::ChatWire.Gateway.Admission;

namespace ChatWire.Benchmarks;

/// <summary>
/// The HTTP API's request budget (<c>KeyBudget.Take</c>): what every <c>/v1/</c> request pays for its account's or
/// address's charge. 1,000 keys charged in turn, each already known (the steady state of an active user); figures
/// are per charge (<see cref="BenchmarkAttribute.OperationsPerInvoke"/>). A charge refused because the bucket is
/// spent costs the same: it is the same read and comparison without the write.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class RequestBudgetBenchmarks : IDisposable
{
    public const int Keys = 1_000;

    private readonly string[] _keys = Enumerable.Range(0, Keys).Select(i => Guid.CreateVersion7().ToString("N")).ToArray();
    private KeyBudget _budget = null!;

    [GlobalSetup]
    public void Setup()
    {
        _budget = new KeyBudget("account", 1200, TimeProvider.System);
        foreach (var key in _keys)
        {
            _budget.Take(key);
        }
    }

    [Benchmark(OperationsPerInvoke = Keys)]
    public int Charge()
    {
        var allowed = 0;
        foreach (var key in _keys)
        {
            allowed += _budget.Take(key).Allowed ? 1 : 0;
        }

        return allowed;
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _budget?.Dispose();
        GC.SuppressFinalize(this);
    }
}
