using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ChatWire.LoadHarness;

/// <summary>
/// One client child process of <see cref="ClusterIdleScenario"/>: holds its share of the idle connections so
/// no process holds more sockets than its open-file limit allows. Started by the scenario as
/// <c>ChatWire.LoadHarness cluster-idle-client --credentials FILE --child C --children P --endpoints A:p,B:q,…
/// --sources S --in-flight K</c>; owns the devices g with g mod P = C (line g of FILE: device_id,token), sends
/// device g to node g mod N from 127.0.0.(1 + (g / P) mod S). Reads commands on stdin, one a line:
/// <c>open T</c> (connect the owned devices below T), <c>stop</c> (or end of input: close everything, exit);
/// writes <c>progress OPENED FAILED</c> once a second while opening and <c>reached OPENED FAILED REASONS</c>
/// when every device below T has been tried (REASONS: <c>name=count;…</c> or <c>-</c>).
/// </summary>
internal static class ClusterIdleClient
{
    public const string Scenario = "cluster-idle-client";

    public static async Task<int> RunAsync(string[] args)
    {
        string credentials = string.Empty;
        IPEndPoint[] endpoints = [];
        int child = 0, children = 1, sources = 4, inFlight = 64;
        for (var i = 1; i + 1 < args.Length; i += 2)
        {
            var value = args[i + 1];
            switch (args[i])
            {
                case "--credentials": credentials = value; break;
                case "--child": child = Int(value); break;
                case "--children": children = Int(value); break;
                case "--sources": sources = Int(value); break;
                case "--in-flight": inFlight = Int(value); break;
                case "--endpoints": endpoints = value.Split(',').Select(IPEndPoint.Parse).ToArray(); break;
                default: throw new ArgumentException($"Unknown option {args[i]}.");
            }
        }

        // Only this child's devices, in order: its k-th device is line child + k * children.
        var devices = new List<(Guid DeviceId, string Token)>();
        var line = 0;
        foreach (var text in File.ReadLines(credentials))
        {
            if (line++ % children == child)
            {
                var comma = text.IndexOf(',', StringComparison.Ordinal);
                devices.Add((Guid.Parse(text.AsSpan(0, comma)), text[(comma + 1)..]));
            }
        }

        var connections = new List<LoadConnection>();
        var reasons = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var opened = 0;
        var failed = 0;
        var next = 0;
        while (await Console.In.ReadLineAsync() is { } command)
        {
            if (!command.StartsWith("open ", StringComparison.Ordinal))
            {
                break;
            }

            // Devices g = child + k * children below the target: k < ceil((target - child) / children).
            var target = Int(command[5..]);
            var until = Math.Min(devices.Count, Math.Max(0, (target - child + children - 1) / children));
            using var gate = new SemaphoreSlim(inFlight);
            using var progress = new CancellationTokenSource();
            var reporter = ReportAsync(() => $"progress {Volatile.Read(ref opened)} {Volatile.Read(ref failed)}", progress.Token);
            var batch = Enumerable.Range(next, Math.Max(0, until - next)).Select(async k =>
            {
                await gate.WaitAsync();
                try
                {
                    var g = child + (k * children);
                    var source = IPAddress.Parse($"127.0.0.{1 + ((g / children) % sources)}");
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                    var connection = await LoadConnection.ConnectAsync(source, endpoints[g % endpoints.Length], devices[k].Token, devices[k].DeviceId, timeout.Token);
                    Interlocked.Increment(ref opened);
                    return connection;
                }
                catch (Exception ex) when (ex is GatewayErrorException or SocketException or OperationCanceledException or IOException or InvalidOperationException)
                {
                    var reason = ex switch
                    {
                        GatewayErrorException error => error.Name,
                        SocketException socket => socket.SocketErrorCode.ToString(),
                        OperationCanceledException => "TIMEOUT",
                        IOException => "CLOSED",
                        _ => "PROTOCOL",
                    };
                    reasons.AddOrUpdate(reason, 1, (_, n) => n + 1);
                    Interlocked.Increment(ref failed);
                    return null;
                }
                finally
                {
                    gate.Release();
                }
            }).ToList();
            foreach (var connection in await Task.WhenAll(batch))
            {
                if (connection is not null)
                {
                    connections.Add(connection);
                }
            }

            next = Math.Max(next, until);
            await progress.CancelAsync();
            await reporter;
            var summary = reasons.IsEmpty ? "-" : string.Join(';', reasons.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Key}={r.Value}"));
            Console.WriteLine($"reached {opened} {failed} {summary}");
        }

        foreach (var connection in connections)
        {
            connection.Dispose();
        }

        Console.WriteLine($"closed {connections.Count}");
        return 0;
    }

    private static async Task ReportAsync(Func<string> describe, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                Console.WriteLine(describe());
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static int Int(string value) => int.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture);
}
