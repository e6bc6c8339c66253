using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;
using MySqlConnector;

namespace ChatWire.LoadHarness;

/// <summary>
/// Many idle authenticated connections on one distributed-mode cluster on this machine: Redis and MariaDB
/// (started through scripts/services.sh, or the ones CHATWIRE_SERVICES_DIR names), one fresh MySQL database
/// seeded with users, devices and tokens (<see cref="MySqlSeed"/>), N gateway nodes on it (MySQL directory and
/// messages, Redis bus), each under <c>prlimit --nofile=20000</c>, and the connections held by P client child
/// processes (<see cref="ClusterIdleClient"/>), each well under its own open-file limit, from 127.0.0.1–S so
/// no source address runs out of ephemeral ports. At each of the counts it waits for every child, lets the
/// nodes settle, and reads from every node: AUTH_OK frames sent and the authenticated-connection gauge from
/// /metrics (the servers' own count), the managed heap after a forced compacting GC (POST /debug/memory) and
/// /metrics's chatwire_gc_heap_bytes, VmRSS from /proc; and the kernel's slab and socket counters. Reports the
/// slopes between the counts and shuts everything down with SIGTERM (clients first, then the nodes).
/// </summary>
internal static class ClusterIdleScenario
{
    /// <summary>The most connections one node is given: Gateway:MaxConnections is 18,976 under a 20,000-file limit.</summary>
    public const int MaxPerNode = 18_000;

    /// <summary>The most sockets one client child holds (its open-file limit is 20,000).</summary>
    public const int MaxPerClient = 18_500;

    /// <summary>The open-file limit each gateway node is started under.</summary>
    public const int NodeFileLimit = 20_000;

    /// <summary>Refuses (ArgumentException) a run that would pass a node's or a client's file limit or a source address's ports.</summary>
    public static void Validate(HarnessOptions options)
    {
        var total = options.Counts[^1];
        var children = ClientProcesses(options);
        var ports = ReadPortRange();
        Check((total + options.Nodes - 1) / options.Nodes <= MaxPerNode, $"{total} connections on {options.Nodes} nodes is more than {MaxPerNode} a node: add --nodes.");
        Check((total + children - 1) / children <= MaxPerClient, $"{total} connections over {children} client processes is more than {MaxPerClient} each: add --client-processes.");
        Check(options.SourceAddresses <= 254, "--sources is at most 254 (127.0.0.1–254).");
        Check(ports == 0 || (total + options.SourceAddresses - 1) / options.SourceAddresses < ports * 9 / 10, $"{total} connections from {options.SourceAddresses} source addresses would use more than 90 % of the {ports} ephemeral ports of each: add --sources.");
    }

    private static int ClientProcesses(HarnessOptions options) =>
        options.ClientProcesses > 0 ? options.ClientProcesses : (options.Counts[^1] + 14_999) / 15_000;

    public static async Task<object> RunAsync(HarnessOptions options)
    {
        var counts = options.Counts;
        var total = counts[^1];
        var children = ClientProcesses(options);
        var ports = ReadPortRange();
        var settingsRead = new
        {
            somaxconn = ReadSysctl("/proc/sys/net/core/somaxconn"),
            ip_local_port_range = ReadSysctl("/proc/sys/net/ipv4/ip_local_port_range"),
            tcp_max_syn_backlog = ReadSysctl("/proc/sys/net/ipv4/tcp_max_syn_backlog"),
            file_max = ReadSysctl("/proc/sys/fs/file-max"),
            nr_open = ReadSysctl("/proc/sys/fs/nr_open"),
            harness_nofile = ReadLimit("Max open files"),
        };
        Console.WriteLine($"kernel: somaxconn {settingsRead.somaxconn}, ip_local_port_range {settingsRead.ip_local_port_range} ({ports} ports per source address), tcp_max_syn_backlog {settingsRead.tcp_max_syn_backlog}, file-max {settingsRead.file_max}, nr_open {settingsRead.nr_open}; harness open files {settingsRead.harness_nofile}");

        await using var services = await BackingServices.StartOrAttachAsync(HarnessOptions.RepositoryRoot());
        var database = "chatwire_idle_" + Guid.NewGuid().ToString("N")[..12];
        var primary = $"{services.MySql};Database={database}";
        var work = Directory.CreateTempSubdirectory("chatwire-cluster-idle-");
        var nodes = new List<GatewayProcess>();
        var clients = new List<ClientChild>();
        try
        {
            var users = (total + options.ConnectionsPerUser - 1) / options.ConnectionsPerUser;
            var seed = await MySqlSeed.RunAsync(primary, users, options.ConnectionsPerUser);
            var credentials = Path.Combine(work.FullName, "credentials.csv");
            await WriteCredentialsAsync(credentials, seed.Devices.Take(total));

            var settings = new Dictionary<string, string>
            {
                ["Gateway:HeartbeatIntervalMs"] = "3600000",
                ["Gateway:MaxConnectionsPerIp"] = "1000000",
                ["Gateway:MaxConnectionsPerUser"] = "0",
                ["Storage:Directory"] = "mysql",
                ["Storage:Messages"] = "mysql",
                ["Storage:MySql:ConnectionString"] = primary,
                ["Storage:MySql:ReplicaConnectionString"] = $"{services.MySqlReplica};Database={database}",
                ["Routing:Bus"] = "redis",
                ["Routing:Redis:Configuration"] = services.Redis,
            };
            if (options.Transport.Length > 0)
            {
                settings["Gateway:ProtocolTransport"] = options.Transport;
            }

            // The seed applied the migrations; node 1 first anyway (it checks them), the others together.
            nodes.Add(await GatewayProcess.StartAsync(options.GatewayDll, options.Gc, settings, "node1", TimeSpan.FromSeconds(90), openFileLimit: NodeFileLimit));
            nodes.AddRange(await Task.WhenAll(Enumerable.Range(2, options.Nodes - 1).Select(k =>
                GatewayProcess.StartAsync(options.GatewayDll, options.Gc, settings, $"node{k}", TimeSpan.FromSeconds(90), openFileLimit: NodeFileLimit))));
            var limits = nodes.Select(n => ReadLimit("Max open files", n.ProcessId)).ToArray();
            Console.WriteLine($"{nodes.Count} nodes up (pids {string.Join(", ", nodes.Select(n => n.ProcessId))}; open files {string.Join(", ", limits.Distinct())}); database {database}; transport {(options.Transport.Length > 0 ? options.Transport : "default")}, GC {options.Gc}");

            var endpoints = string.Join(',', nodes.Select(n => n.TcpEndPoint.ToString()));
            for (var c = 0; c < children; c++)
            {
                clients.Add(ClientChild.Start(c, children, credentials, endpoints, options.SourceAddresses, options.InFlight));
            }

            Console.WriteLine($"{children} client processes (pids {string.Join(", ", clients.Select(c => c.ProcessId))}), {options.InFlight} set-ups in flight each, sources 127.0.0.1–{options.SourceAddresses}; counts {string.Join(", ", counts)}");
            var readings = new List<ClusterReading> { await ReadAsync(nodes, clients, 0, 0) };
            Print(readings[^1]);
            var ramps = new List<object>();
            foreach (var target in counts)
            {
                var started = Stopwatch.GetTimestamp();
                foreach (var client in clients)
                {
                    await client.SendAsync($"open {target}");
                }

                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(options.TimeoutSeconds));
                await using (new ProgressLine(() =>
                {
                    var opened = clients.Sum(c => c.Opened);
                    var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
                    return string.Create(CultureInfo.InvariantCulture, $"ramp to {target}: {opened} authenticated, {clients.Sum(c => c.Failed)} failed, {clients.Count(c => c.Reached)}/{clients.Count} clients done, {seconds:F0} s");
                }))
                {
                    await Task.WhenAll(clients.Select(c => c.WaitReachedAsync(deadline.Token)));
                }

                var rampSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
                var failures = clients.SelectMany(c => c.Reasons).GroupBy(r => r.Key).ToDictionary(g => g.Key, g => g.Sum(r => r.Value));
                ramps.Add(new { target, seconds = rampSeconds, opened = clients.Sum(c => c.Opened), failed = clients.Sum(c => c.Failed), failures });
                if (failures.Count > 0)
                {
                    Console.WriteLine($"failures so far: {string.Join(", ", failures.Select(f => $"{f.Key} {f.Value}"))}");
                }

                // Let the nodes settle (pending flushes, Redis subscriptions) before reading.
                await Task.Delay(3_000);
                readings.Add(await ReadAsync(nodes, clients, target, rampSeconds));
                Print(readings[^1]);
            }

            if (options.HoldSeconds > 0)
            {
                Console.WriteLine($"holding for {options.HoldSeconds} s");
                await Task.Delay(TimeSpan.FromSeconds(options.HoldSeconds));
            }

            var held = await ReadAsync(nodes, clients, total, 0);
            Console.WriteLine($"after the hold: {held.AuthOk:F0} AUTH_OK, {held.Authenticated:F0} authenticated connections open");
            var slopes = Slopes(readings.Skip(1).ToList());
            foreach (var slope in slopes)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"slope {slope.From} → {slope.To} connections: managed {slope.ManagedBytesPerConnection / 1024:F2} KB, /metrics heap {slope.MetricsHeapBytesPerConnection / 1024:F2} KB, RSS {slope.RssBytesPerConnection / 1024:F2} KB per connection; kernel slab {slope.KernelSlabBytesPerSocket:F0} B, socket caches {slope.KernelSocketCacheBytesPerSocket:F0} B per socket"));
            }

            return new
            {
                scenario = "cluster-idle",
                gc = options.Gc,
                transport = options.Transport.Length > 0 ? options.Transport : "default",
                nodes = nodes.Count,
                node_open_file_limit = limits,
                client_processes = children,
                source_addresses = options.SourceAddresses,
                connections_per_user = options.ConnectionsPerUser,
                in_flight_per_client = options.InFlight,
                kernel_settings = settingsRead,
                seed_seconds = seed.Seconds,
                counts,
                ramps,
                readings,
                after_hold = held,
                hold_seconds = options.HoldSeconds,
                slopes,
            };
        }
        finally
        {
            Console.WriteLine("stopping: clients first, then SIGTERM to every node");
            await Task.WhenAll(clients.Select(c => c.StopAsync()));
            await Task.WhenAll(nodes.Select(n => n.TerminateAsync(TimeSpan.FromSeconds(60))));
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }

            await DropDatabaseAsync(services.MySql, database);
            work.Delete(recursive: true);
        }
    }

    private static async Task<ClusterReading> ReadAsync(List<GatewayProcess> nodes, List<ClientChild> clients, int target, double rampSeconds)
    {
        var perNode = new List<NodeReading>();
        for (var k = 0; k < nodes.Count; k++)
        {
            var memory = await nodes[k].ReadMemoryAsync();
            var metrics = await nodes[k].Management.GetStringAsync("metrics");
            perNode.Add(new NodeReading(
                k + 1,
                nodes[k].ProcessId,
                Sample(metrics, "chatwire_frames_sent_total{opcode=\"AUTH_OK\"}"),
                Sample(metrics, "chatwire_connections{state=\"authenticated\"}"),
                memory.Connections,
                memory.ManagedBytes,
                (long)Sample(metrics, "chatwire_gc_heap_bytes"),
                nodes[k].ReadProcRss(),
                memory.ServerGc));
        }

        var clientRss = clients.Sum(c => GatewayProcess.ProcStatusBytes(c.ProcessId, "VmRSS:"));
        return new ClusterReading(target, rampSeconds, perNode, KernelMemory.Read(), clientRss);
    }

    private static void Print(ClusterReading reading) =>
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{reading.Target} target: AUTH_OK {reading.AuthOk:F0} (per node {string.Join(", ", reading.Nodes.Select(n => n.AuthOk.ToString("F0", CultureInfo.InvariantCulture)))}), authenticated now {reading.Authenticated:F0}; managed {reading.ManagedBytes / 1048576.0:F1} MB, RSS {reading.RssBytes / 1048576.0:F1} MB (nodes); kernel slab {reading.Kernel.SlabBytes / 1048576.0:F1} MB, TCP sockets {reading.Kernel.TcpAllocated}; client processes' RSS {reading.ClientRssBytes / 1048576.0:F1} MB"));

    // Between each pair of successive readings and from the first to the last. A connection is two sockets
    // on this machine (client and server end), so the kernel's per-socket figure divides by twice the connections.
    private static List<Slope> Slopes(List<ClusterReading> readings)
    {
        var pairs = readings.Zip(readings.Skip(1)).ToList();
        if (readings.Count > 2)
        {
            pairs.Add((readings[0], readings[^1]));
        }

        return pairs.Select(p =>
        {
            var added = p.Second.Authenticated - p.First.Authenticated;
            return new Slope(
                (int)p.First.Authenticated,
                (int)p.Second.Authenticated,
                (p.Second.ManagedBytes - p.First.ManagedBytes) / added,
                (p.Second.MetricsHeapBytes - p.First.MetricsHeapBytes) / added,
                (p.Second.RssBytes - p.First.RssBytes) / added,
                (p.Second.Kernel.SlabBytes - p.First.Kernel.SlabBytes) / (2 * added),
                (p.Second.Kernel.SocketCachesTotal - p.First.Kernel.SocketCachesTotal) / (2 * added),
                (p.Second.ClientRssBytes - p.First.ClientRssBytes) / added);
        }).ToList();
    }

    // The value of one sample line of a Prometheus text exposition ("name{labels} value"), 0 when absent.
    private static double Sample(string exposition, string series)
    {
        foreach (var line in exposition.Split('\n'))
        {
            if (line.StartsWith(series, StringComparison.Ordinal) && line.Length > series.Length && line[series.Length] == ' ')
            {
                return double.Parse(line.AsSpan(series.Length + 1), NumberStyles.Float, CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    private static async Task WriteCredentialsAsync(string path, IEnumerable<SeededDevice> devices)
    {
        var text = new StringBuilder();
        foreach (var device in devices)
        {
            text.Append(device.DeviceId).Append(',').Append(device.Token).Append('\n');
        }

        var fileOptions = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        await using var file = new FileStream(path, fileOptions);
        await using var writer = new StreamWriter(file);
        await writer.WriteAsync(text);
    }

    private static async Task DropDatabaseAsync(string server, string database)
    {
        try
        {
            await using var connection = new MySqlConnection(server);
            await connection.OpenAsync();
            await using var command = new MySqlCommand($"DROP DATABASE IF EXISTS `{database}`;", connection);
            await command.ExecuteNonQueryAsync();
        }
        catch (MySqlException ex)
        {
            Console.Error.WriteLine($"could not drop {database}: {ex.Message}");
        }
    }

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new ArgumentException(message);
        }
    }

    private static string ReadSysctl(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim().Replace('\t', ' ');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "unreadable";
        }
    }

    private static int ReadPortRange()
    {
        var range = ReadSysctl("/proc/sys/net/ipv4/ip_local_port_range").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return range.Length == 2 && int.TryParse(range[0], CultureInfo.InvariantCulture, out var low) && int.TryParse(range[1], CultureInfo.InvariantCulture, out var high)
            ? high - low + 1
            : 0;
    }

    // "Max open files            20000                20000                files" from /proc/PID/limits: "soft/hard".
    private static string ReadLimit(string name, int pid = 0)
    {
        try
        {
            foreach (var line in File.ReadLines(pid == 0 ? "/proc/self/limits" : $"/proc/{pid}/limits"))
            {
                if (line.StartsWith(name, StringComparison.Ordinal))
                {
                    var fields = line[name.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return $"{fields[0]}/{fields[1]}";
                }
            }
        }
        catch (IOException)
        {
        }

        return "unknown";
    }

    /// <summary>One client child process and what it last said.</summary>
    private sealed class ClientChild
    {
        private readonly Process _process;
        private readonly object _lock = new();
        private TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private ClientChild(Process process) => _process = process;

        public int ProcessId => _process.Id;

        public int Opened { get; private set; }

        public int Failed { get; private set; }

        public bool Reached { get; private set; }

        public IReadOnlyDictionary<string, int> Reasons { get; private set; } = new Dictionary<string, int>();

        public static ClientChild Start(int child, int children, string credentials, string endpoints, int sources, int inFlight)
        {
            var harness = Assembly.GetEntryAssembly()!.Location;
            var arguments = new List<string>
            {
                harness, ClusterIdleClient.Scenario, "--credentials", credentials, "--child", Text(child), "--children", Text(children),
                "--endpoints", endpoints, "--sources", Text(sources), "--in-flight", Text(inFlight),
            };
            var prlimit = GatewayProcess.FindOnPath("prlimit");
            var start = prlimit is null
                ? new ProcessStartInfo("dotnet", arguments)
                : new ProcessStartInfo(prlimit, [$"--nofile={NodeFileLimit}:{NodeFileLimit}", "dotnet", .. arguments]);
            start.UseShellExecute = false;
            start.RedirectStandardInput = true;
            start.RedirectStandardOutput = true;
            start.RedirectStandardError = true;

            // A client holds sockets and little else: the workstation GC keeps its heap small.
            start.Environment["DOTNET_gcServer"] = "0";
            var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
            var client = new ClientChild(process);
            process.OutputDataReceived += (_, e) => client.OnLine(e.Data);
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Console.Error.WriteLine($"[client{child}] {e.Data}"); } };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return client;
        }

        public async Task SendAsync(string command)
        {
            lock (_lock)
            {
                Reached = false;
                _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            await _process.StandardInput.WriteLineAsync(command);
            await _process.StandardInput.FlushAsync();
        }

        public async Task WaitReachedAsync(CancellationToken cancellationToken)
        {
            Task reached;
            lock (_lock)
            {
                reached = _reached.Task;
            }

            try
            {
                await reached.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine($"client pid {ProcessId}: not done by the deadline ({Opened} opened, {Failed} failed)");
            }
        }

        public async Task StopAsync()
        {
            try
            {
                await _process.StandardInput.WriteLineAsync("stop");
                await _process.StandardInput.FlushAsync();
                _process.StandardInput.Close();
            }
            catch (IOException)
            {
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
            }

            _process.Dispose();
        }

        private void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            var fields = line.Split(' ');
            if (fields[0] is "progress" or "reached" && fields.Length >= 3)
            {
                lock (_lock)
                {
                    Opened = int.Parse(fields[1], CultureInfo.InvariantCulture);
                    Failed = int.Parse(fields[2], CultureInfo.InvariantCulture);
                    if (fields[0] == "reached")
                    {
                        Reasons = fields.Length > 3 && fields[3] != "-"
                            ? fields[3].Split(';').Select(r => r.Split('=')).ToDictionary(r => r[0], r => int.Parse(r[1], CultureInfo.InvariantCulture))
                            : new Dictionary<string, int>();
                        Reached = true;
                        _reached.TrySetResult();
                    }
                }
            }
            else if (fields[0] == "closed")
            {
                _closed.TrySetResult();
            }
            else
            {
                Console.Error.WriteLine($"[client pid {ProcessId}] {line}");
            }
        }

        private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
    }
}

/// <summary>One node at one count: the servers' own AUTH_OK count and gauge, the managed heap (after a forced GC, and as /metrics has it), RSS.</summary>
internal sealed record NodeReading(int Node, int Pid, double AuthOk, double Authenticated, int Connections, long ManagedBytes, long MetricsHeapBytes, long RssBytes, bool ServerGc);

/// <summary>All nodes, the kernel and the client processes at one count.</summary>
internal sealed record ClusterReading(int Target, double RampSeconds, IReadOnlyList<NodeReading> Nodes, KernelMemory Kernel, long ClientRssBytes)
{
    public double AuthOk => Nodes.Sum(n => n.AuthOk);

    public double Authenticated => Nodes.Sum(n => n.Authenticated);

    public long ManagedBytes => Nodes.Sum(n => n.ManagedBytes);

    public long MetricsHeapBytes => Nodes.Sum(n => n.MetricsHeapBytes);

    public long RssBytes => Nodes.Sum(n => n.RssBytes);
}

/// <summary>Cost of one more connection between two readings (bytes); the kernel's per socket.</summary>
internal sealed record Slope(
    int From,
    int To,
    double ManagedBytesPerConnection,
    double MetricsHeapBytesPerConnection,
    double RssBytesPerConnection,
    double KernelSlabBytesPerSocket,
    double KernelSocketCacheBytesPerSocket,
    double ClientRssBytesPerConnection);
