extern alias gateway;

using System.Net;
using BenchmarkDotNet.Attributes;
using gateway::ChatWire.Gateway.Admission;
using gateway::ChatWire.Gateway.Hosting;
using Microsoft.Extensions.Options;

namespace ChatWire.Benchmarks;

/// <summary>
/// What admission costs each accepted connection (<c>ConnectionBudget.TryAdmit</c> and <c>Release</c>): the listener's
/// and the address's caps, with and without the per-address rate of new connections. 1,000 IPv4 client addresses
/// admitted and released in turn; figures are per connection. The rate's allowance is set far above what the run
/// uses, so every connection is admitted.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class ConnectionAdmissionBenchmarks : IDisposable
{
    public const int Addresses = 1_000;

    private readonly IPAddress[] _addresses = Enumerable.Range(0, Addresses).Select(i => new IPAddress([198, 51, (byte)(i >> 8), (byte)i])).ToArray();
    private ConnectionBudget _budget = null!;

    [Params(false, true)]
    public bool Rate { get; set; }

    [GlobalSetup]
    public void Setup() =>
        _budget = new ConnectionBudget(
            Options.Create(new GatewayOptions
            {
                MaxConnections = 100_000,
                MaxConnectionsPerIp = 1_000,
                ConnectionsPerMinutePerIp = Rate ? GatewayOptionsValidation.MaxConnectionsPerMinutePerIp : 0,
            }),
            TimeProvider.System);

    [Benchmark(OperationsPerInvoke = Addresses)]
    public int AdmitAndRelease()
    {
        var admitted = 0;
        foreach (var address in _addresses)
        {
            if (_budget.TryAdmit(ListenerKind.Tcp, address) is null)
            {
                admitted++;
                _budget.Release(ListenerKind.Tcp, address);
            }
        }

        return admitted;
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _budget?.Dispose();
        GC.SuppressFinalize(this);
    }
}
