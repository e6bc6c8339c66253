using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using ChatWire.Bench;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.LoadHarness;

/// <summary>
/// Durable SEND → SEND_ACK: N connections, each its own user in its own conversation (no fan-out), each
/// keeping a window of SENDs in flight. Reported next to the raw batched-insert ceiling of the same schema.
/// </summary>
internal static class SendScenario
{
    public static async Task<object> RunAsync(HarnessOptions options)
    {
        InsertCeilingResult ceiling;
        var settings = new Dictionary<string, string>();
        BackingServices? services = null;
        var database = string.Empty;
        if (options.Store == "mysql")
        {
            // One node on the MySQL directory and message store (a fresh database; the primary's commits wait
            // for the semi-synchronous replica that scripts/services.sh sets up), the bus in-process.
            services = await BackingServices.StartOrAttachAsync(HarnessOptions.RepositoryRoot());
            database = "chatwire_send_" + Guid.NewGuid().ToString("N")[..12];
            settings["Storage:Directory"] = "mysql";
            settings["Storage:Messages"] = "mysql";
            settings["Storage:MySql:ConnectionString"] = $"{services.MySql};Database={database}";
            settings["Storage:MySql:ReplicaConnectionString"] = $"{services.MySqlReplica};Database={database}";
        }

        await using var stopServices = services;
        await using (var gateway = await GatewayProcess.StartAsync(options.GatewayDll, options.Gc, settings, healthTimeout: TimeSpan.FromSeconds(90)))
        {
            Console.WriteLine($"gateway pid {gateway.ProcessId} ({options.Store} store); {options.Connections} connections × window {options.Window}; {options.Messages} messages of {options.ContentBytes} bytes");
            var clients = new List<(LoadConnection Connection, Guid Conversation)>();
            for (var i = 0; i < options.Connections; i++)
            {
                var (_, device, token) = await gateway.SignupAsync($"sender{i:D4}");
                var conversation = await gateway.CreateTeamGeneralAsync(token);
                clients.Add((await LoadConnection.ConnectAsync(IPAddress.Loopback, gateway.TcpEndPoint, token, device, CancellationToken.None), conversation));
            }

            var latencies = new ConcurrentBag<double>();
            var perConnection = options.Messages / options.Connections;
            var content = new byte[options.ContentBytes];
            Random.Shared.NextBytes(content);

            // Warm-up, not measured: the JIT's tiering, SQLite's caches.
            var warmUp = await JitWarmUp.RunAsync(() => Task.WhenAll(clients.Select(c => DriveAsync(c.Connection, c.Conversation, Math.Min(200, perConnection), options.Window, content, null))), gateway.ReadJitSecondsAsync);
            Console.WriteLine($"{warmUp}; measuring");
            var before = await gateway.ReadUnlabelledMetricsAsync();
            var cpuBefore = gateway.CpuTime;
            var clientCpuBefore = ClientCpuTime();
            var mysqlCpuBefore = services?.MySqlCpuTime;
            var started = Stopwatch.GetTimestamp();
            await Task.WhenAll(clients.Select(c => DriveAsync(c.Connection, c.Conversation, perConnection, options.Window, content, latencies)));
            var elapsed = Stopwatch.GetElapsedTime(started);
            var cpu = gateway.CpuTime - cpuBefore;
            var clientCpu = ClientCpuTime() - clientCpuBefore;
            var mysqlCpuAfter = services?.MySqlCpuTime;
            var after = await gateway.ReadUnlabelledMetricsAsync();
            double? Delta(string metric) => GatewayProcess.Change(before, after, metric);
            var jitMs = Delta("chatwire_jit_compilation_seconds_total") * 1000;
            foreach (var (connection, _) in clients)
            {
                connection.Dispose();
            }

            var sorted = latencies.Order().ToArray();
            var total = perConnection * options.Connections;
            var throughput = total / elapsed.TotalSeconds;
            var cpuMicrosPerMessage = cpu.TotalMicroseconds / total;
            var clientCpuMicrosPerMessage = clientCpu.TotalMicroseconds / total;
            Console.WriteLine($"{total} acked in {elapsed.TotalSeconds:F2} s: {throughput:F0} msg/s; p50 {Percentile(sorted, 0.50):F2} ms, p99 {Percentile(sorted, 0.99):F2} ms; gateway CPU {cpuMicrosPerMessage:F1} µs per message ({cpu.TotalSeconds:F2} s over {elapsed.TotalSeconds:F2} s, {jitMs:F0} ms of it in the JIT); the clients (this process) {clientCpuMicrosPerMessage:F1} µs ({clientCpu.TotalSeconds:F2} s)");

            // MariaDB's own CPU per acknowledged message over the measured phase (the primary's statements and
            // commits, the replica applying them): the database's share of the cores the run shares.
            double? mysqlPrimaryMicros = mysqlCpuBefore?.Primary is { } p0 && mysqlCpuAfter?.Primary is { } p1 ? (p1 - p0).TotalMicroseconds / total : null;
            double? mysqlReplicaMicros = mysqlCpuBefore?.Replica is { } r0 && mysqlCpuAfter?.Replica is { } r1 ? (r1 - r0).TotalMicroseconds / total : null;
            if (mysqlPrimaryMicros is not null)
            {
                Console.WriteLine($"MariaDB CPU: the primary {mysqlPrimaryMicros:F1} µs per message, the replica {mysqlReplicaMicros:F1} µs");
            }

            // The group commit's mean batch over the measured phase: the second ceiling writes the same shape
            // (as many conversations as connections, transactions of that many rows) with the bare INSERT.
            var commits = Delta("chatwire_commit_batch_size_count") ?? 0;
            var appends = Delta("chatwire_commit_batch_size_sum") ?? 0;
            var storeSeconds = Delta("chatwire_commit_duration_seconds_sum") ?? 0;
            // Null (and the one-conversation batch for the second ceiling) when the gateway reported no commits.
            double? meanBatch = commits > 0 ? appends / commits : null;
            double? storeMicrosPerAppend = appends > 0 ? storeSeconds * 1e6 / appends : null;
            var writerBusy = storeSeconds / elapsed.TotalSeconds;
            var writerWaiting = (Delta("chatwire_commit_wait_seconds_total") ?? 0) / elapsed.TotalSeconds;
            Console.WriteLine($"group commit: {commits:F0} batches, {meanBatch:F1} appends each on average; the store took {storeMicrosPerAppend:F1} µs per append (the writer busy {writerBusy:P0} of the time, waiting for the publisher {writerWaiting:P0})");
            var shapedBatch = meanBatch is { } mean ? Math.Max(1, (int)Math.Round(mean)) : options.CeilingBatch;
            Task<InsertCeilingResult> Ceiling(int batch, int conversations) => services is null
                ? InsertCeiling.RunAsync(options.CeilingRows, batch, options.ContentBytes, conversations)
                : MySqlInsertCeiling.RunAsync($"{services.MySql};Database={database}", options.CeilingRows, batch, options.ContentBytes, conversations);
            // A ceiling is a best case: each is measured CeilingRuns times and the fastest run counts, so a slow
            // moment of the machine during one run does not lower the bar.
            async Task<InsertCeilingResult> Fastest(int batch, int conversations)
            {
                var fastest = await Ceiling(batch, conversations);
                for (var run = 1; run < options.CeilingRuns; run++)
                {
                    var next = await Ceiling(batch, conversations);
                    fastest = next.RowsPerSecond > fastest.RowsPerSecond ? next : fastest;
                }

                return fastest;
            }

            ceiling = await Fastest(options.CeilingBatch, 1);
            var shapedCeiling = await Fastest(shapedBatch, options.Connections);
            Console.WriteLine($"acked/s against the ceilings: {throughput / ceiling.RowsPerSecond:P1} of the one-conversation ceiling, {throughput / shapedCeiling.RowsPerSecond:P1} of the same-shape ceiling");
            return new
            {
                scenario = "send",
                store = options.Store,
                gc = options.Gc,
                connections = options.Connections,
                window = options.Window,
                content_bytes = options.ContentBytes,
                messages = total,
                seconds = elapsed.TotalSeconds,
                messages_per_second = throughput,
                p50_ms = Percentile(sorted, 0.50),
                p99_ms = Percentile(sorted, 0.99),
                max_ms = sorted[^1],
                gateway_cpu_seconds = cpu.TotalSeconds,
                gateway_cpu_microseconds_per_message = cpuMicrosPerMessage,
                client_cpu_microseconds_per_message = clientCpuMicrosPerMessage,
                mysql_primary_cpu_microseconds_per_message = mysqlPrimaryMicros,
                mysql_replica_cpu_microseconds_per_message = mysqlReplicaMicros,
                gateway_jit_ms_while_measured = jitMs,
                warm_up = warmUp.ToJson(),
                commit_batches = commits,
                mean_commit_batch = meanBatch,
                store_microseconds_per_append = storeMicrosPerAppend,
                writer_busy_share = writerBusy,
                writer_waiting_for_publisher_share = writerWaiting,
                ceiling_runs = options.CeilingRuns,
                insert_ceiling = ceiling,
                same_shape_insert_ceiling = shapedCeiling,
            };
        }
    }

    internal static async Task DriveAsync(LoadConnection connection, Guid conversation, int count, int window, byte[] content, ConcurrentBag<double>? latencies)
    {
        using var sends = new SendWindow(window);
        var reader = Task.Run(async () =>
        {
            for (var received = 0; received < count;)
            {
                var (header, body) = await connection.ReadFrameInPlaceAsync(CancellationToken.None);
                if (header.OpcodeValue == (uint)Opcode.SendAck)
                {
                    sends.Acked(header.RequestId, latencies);
                    received++;
                }
                else if (header.OpcodeValue == (uint)Opcode.Error)
                {
                    var error = LoadConnection.Decode<ErrorFrame>(body);
                    throw new InvalidOperationException($"SEND failed: {error.Name} {error.Message}");
                }
            }
        });

        for (var i = 0; i < count; i++)
        {
            await sends.WaitForRoomAsync(reader);
            await sends.SendAsync(connection, new Send((uint)(i + 1), conversation, Guid.CreateVersion7(), "application/octet-stream", content));
        }

        await reader;
    }

    // The harness's own CPU (its clients share the machine's cores with the gateway).
    private static TimeSpan ClientCpuTime()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }

    internal static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}
