using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ChatWire.LoadHarness;

/// <summary>
/// Opens many authenticated connections at once, at most <c>inFlight</c> being set up at a time, until a
/// deadline; counts what refused them. Shared by the connect and resume storms.
/// </summary>
internal sealed class StormClients
{
    private readonly ConcurrentDictionary<string, int> _refusals = new(StringComparer.Ordinal);
    private int _opened;
    private int _failed;

    public int Opened => Volatile.Read(ref _opened);

    public int Failed => Volatile.Read(ref _failed);

    /// <summary>Why connections failed: the gateway's error name, or the socket error, or <c>TIMEOUT</c>.</summary>
    public IReadOnlyDictionary<string, int> Refusals => new SortedDictionary<string, int>(_refusals, StringComparer.Ordinal);

    public string Describe(int total) => $"{Opened}/{total} connected, {Failed} failed" + (Failed > 0 ? $" ({string.Join(", ", Refusals.Select(r => $"{r.Key} {r.Value}"))})" : string.Empty);

    /// <summary>
    /// Runs <paramref name="session"/> for every device, each on a connection of its own (from 127.0.0.1 to
    /// 127.0.0.<paramref name="sources"/> in turn); returns after all have finished or failed, or at the
    /// deadline, cancelling the rest. <paramref name="session"/> gets the connection and its set-up timing, and
    /// returns whether to keep the connection open (kept ones are returned, the others disposed).
    /// </summary>
    public async Task<List<LoadConnection>> RunAsync(
        IReadOnlyList<SeededDevice> devices, HarnessSecurity security, GatewayProcess gateway, int inFlight, int sources, TimeSpan deadline,
        Func<int, LoadConnection, ConnectTiming, Task<bool>> session)
    {
        using var gate = new SemaphoreSlim(inFlight);
        using var timeout = new CancellationTokenSource(deadline);
        var kept = new ConcurrentBag<LoadConnection>();
        var tasks = devices.Select(async (device, i) =>
        {
            try
            {
                await gate.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                Refuse("TIMEOUT");
                return;
            }

            LoadConnection? connection = null;
            try
            {
                var timing = new ConnectTiming();
                var source = IPAddress.Parse($"127.0.0.{1 + (i % sources)}");
                var started = Stopwatch.GetTimestamp();
                connection = await LoadConnection.ConnectAsync(
                    source, security.EndPoint(gateway), device.Token, device.DeviceId, timeout.Token, security.PinnedCertificate, security.NoiseServerKey, timing);
                timing.Started = started;
                Interlocked.Increment(ref _opened);
                if (await session(i, connection, timing).WaitAsync(timeout.Token))
                {
                    kept.Add(connection);
                    connection = null;
                }
            }
            catch (GatewayErrorException ex)
            {
                Refuse(ex.Name);
            }
            catch (SocketException ex)
            {
                Refuse(ex.SocketErrorCode.ToString());
            }
            catch (OperationCanceledException)
            {
                Refuse("TIMEOUT");
            }
            catch (IOException)
            {
                Refuse("CLOSED");
            }
            finally
            {
                connection?.Dispose();
                gate.Release();
            }
        }).ToList();
        await Task.WhenAll(tasks);
        return [.. kept];
    }

    private void Refuse(string reason)
    {
        Interlocked.Increment(ref _failed);
        _refusals.AddOrUpdate(reason, 1, (_, n) => n + 1);
    }

    internal static double Ms(long from, long to) => Stopwatch.GetElapsedTime(from, to).TotalMilliseconds;

    internal static object Summary(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return new
        {
            count = sorted.Length,
            p50_ms = SendScenario.Percentile(sorted, 0.50),
            p99_ms = SendScenario.Percentile(sorted, 0.99),
            max_ms = sorted.Length == 0 ? 0 : sorted[^1],
        };
    }

    internal static string Describe(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return $"p50 {SendScenario.Percentile(sorted, 0.50):F1} ms, p99 {SendScenario.Percentile(sorted, 0.99):F1} ms, max {(sorted.Length == 0 ? 0 : sorted[^1]):F1} ms";
    }

    /// <summary>
    /// A gateway with the storms' settings on a fresh directory seeded with <c>--connections</c> devices, each user in
    /// <c>--conversations</c> channels of about <c>--members</c>, and the trust its listener asks of clients read.
    /// </summary>
    internal static async Task<(GatewayProcess Gateway, HarnessSecurity Security, SeedResult Seed, int Users)> StartSeededGatewayAsync(HarnessOptions options)
    {
        var settings = ConnectStormScenario.StormSettings(options);
        var security = HarnessSecurity.Configure(options, settings);
        var users = (options.Connections + options.ConnectionsPerUser - 1) / options.ConnectionsPerUser;
        SeedResult? seed = null;
        var gateway = await GatewayProcess.StartAsync(options.GatewayDll, options.Gc, settings, prepare: async data =>
            seed = await DirectorySeed.RunAsync(data, users, options.ConnectionsPerUser, options.Conversations, options.Members));
        try
        {
            await security.ReadTrustAsync(gateway);
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }

        return (gateway, security, seed!, users);
    }
}
