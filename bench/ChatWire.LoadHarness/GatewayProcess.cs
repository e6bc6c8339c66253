using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;

namespace ChatWire.LoadHarness;

/// <summary>
/// The gateway under test, in its own process (so client and server memory never mix), on free loopback
/// ports over a fresh data directory. Built from gateway/bin/Release unless another dll is given.
/// </summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;

    private GatewayProcess(Process process, string dataDirectory, int tcpPort, int httpPort, int managementPort)
    {
        _process = process;
        DataDirectory = dataDirectory;
        TcpEndPoint = new IPEndPoint(IPAddress.Loopback, tcpPort);
        Api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}/"), Timeout = TimeSpan.FromMinutes(2) };
        Management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{managementPort}/"), Timeout = TimeSpan.FromMinutes(2) };
    }

    public string DataDirectory { get; }

    public IPEndPoint TcpEndPoint { get; }

    public HttpClient Api { get; }

    public HttpClient Management { get; }

    public int ProcessId => _process.Id;

    /// <summary>CPU time the gateway process has used so far (user and system, all threads).</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>The part of <see cref="CpuTime"/> spent in user space and the part in the kernel (/proc/PID/stat's utime and stime, 10 ms ticks).</summary>
    public (TimeSpan User, TimeSpan Kernel) CpuSplit
    {
        get
        {
            _process.Refresh();
            return (_process.UserProcessorTime, _process.PrivilegedProcessorTime);
        }
    }

    /// <summary>Creates a channel in the team; returns its conversation id.</summary>
    public async Task<Guid> CreateChannelAsync(string token, Guid teamId, string name)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"v1/teams/{teamId}/channels") { Content = JsonContent.Create(new { name }) };
        request.Headers.Authorization = new("Bearer", token);
        var response = await Api.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("conversation_id").GetGuid();
    }

    // name prefixes the gateway's output lines on this process's stderr; healthTimeout bounds the wait for
    // /health (20 s by default; a node that migrates a fresh MySQL database may need longer); prepare runs on
    // the fresh data directory before the gateway starts (the storm scenarios seed its directory database);
    // openFileLimit, when set, starts the gateway under `prlimit --nofile=N:N` (soft and hard) when prlimit is
    // installed, so the process holds at most N open files whatever the harness's own limit is.
    public static async Task<GatewayProcess> StartAsync(
        string gatewayDll, string gcMode, IReadOnlyDictionary<string, string> settings, string name = "gateway", TimeSpan? healthTimeout = null,
        Func<string, Task>? prepare = null, int openFileLimit = 0)
    {
        if (!File.Exists(gatewayDll))
        {
            throw new FileNotFoundException($"Gateway not built at {gatewayDll}; run: dotnet build -c Release", gatewayDll);
        }

        var data = Path.Combine(Path.GetTempPath(), "chatwire-load-" + Guid.NewGuid().ToString("N"));
        // Owner-only, as the gateway asks of its data directory (it warns otherwise).
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(data);
        }
        else
        {
            Directory.CreateDirectory(data, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        if (prepare is not null)
        {
            await prepare(data);
        }

        var (tcp, http, management) = (FreePort(), FreePort(), FreePort());
        // prlimit sets the limit on itself and then execs dotnet: the pid stays the gateway's.
        var prlimit = openFileLimit > 0 ? FindOnPath("prlimit") : null;
        var start = new ProcessStartInfo(
            prlimit ?? "dotnet",
            prlimit is null ? [gatewayDll] : [$"--nofile={openFileLimit}:{openFileLimit}", "dotnet", gatewayDll])
        {
            WorkingDirectory = data,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["CHATWIRE_Gateway__TcpEndpoint"] = $"127.0.0.1:{tcp}";
        start.Environment["CHATWIRE_Gateway__TlsEndpoint"] = string.Empty;
        start.Environment["CHATWIRE_Gateway__NoiseEndpoint"] = string.Empty;
        start.Environment["CHATWIRE_Gateway__HttpEndpoint"] = $"127.0.0.1:{http}";
        start.Environment["CHATWIRE_Gateway__ManagementEndpoint"] = $"127.0.0.1:{management}";
        start.Environment["CHATWIRE_Gateway__DataDirectory"] = data;
        start.Environment["CHATWIRE_Logging__LogLevel__Default"] = "Warning";

        // The harness reads memory through POST /debug/memory, which is off unless enabled.
        start.Environment["CHATWIRE_Gateway__EnableDebugEndpoints"] = "true";
        start.Environment["CHATWIRE_Auth__AttemptsPerIpPerMinute"] = "1000000";
        start.Environment["CHATWIRE_Auth__AttemptsPerAccountPerMinute"] = "1000000";
        start.Environment["CHATWIRE_Auth__AttemptsPerAccountFromAllAddressesPerMinute"] = "1000000";

        // A load run is a few users sending as fast as the server takes it: the per-user SEND limits are off.
        start.Environment["CHATWIRE_Limits__SendMessagesPerSecondPerUser"] = "0";
        start.Environment["CHATWIRE_Limits__ApiRequestsPerMinutePerUser"] = "0";
        start.Environment["CHATWIRE_Limits__ApiRequestsPerMinutePerAddress"] = "0";
        start.Environment["CHATWIRE_Gateway__ConnectionsPerMinutePerIp"] = "0";
        start.Environment["CHATWIRE_Limits__SendBytesPerSecondPerUser"] = "0";
        start.Environment["CHATWIRE_Limits__SendMessagesPerSecondPerDevice"] = "0";
        start.Environment["CHATWIRE_Limits__SendBytesPerSecondPerDevice"] = "0";
        start.Environment["CHATWIRE_Limits__SendMessagesPerSecondPerConversation"] = "0";
        foreach (var (key, value) in settings)
        {
            start.Environment["CHATWIRE_" + key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        switch (gcMode)
        {
            case "workstation":
                start.Environment["DOTNET_gcServer"] = "0";
                break;
            case "server":
                start.Environment["DOTNET_gcServer"] = "1";
                break;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var prefix = $"[{name}] ";
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { Console.Error.WriteLine(prefix + e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Console.Error.WriteLine(prefix + e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var gateway = new GatewayProcess(process, data, tcp, http, management);
        var attempts = (int)((healthTimeout ?? TimeSpan.FromSeconds(20)) / TimeSpan.FromMilliseconds(200));
        for (var attempt = 0; attempt < attempts; attempt++)
        {
            try
            {
                if ((await gateway.Management.GetAsync("health")).IsSuccessStatusCode)
                {
                    return gateway;
                }
            }
            catch (HttpRequestException)
            {
            }

            if (process.HasExited)
            {
                break;
            }

            await Task.Delay(200);
        }

        await gateway.DisposeAsync();
        throw new InvalidOperationException("The gateway did not become healthy.");
    }

    public async Task<(Guid UserId, Guid DeviceId, string Token)> SignupAsync(string username)
    {
        var response = await Api.PostAsJsonAsync("v1/accounts/signup", new { username, password = "load-test-password" });
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (body.GetProperty("user_id").GetGuid(), body.GetProperty("device_id").GetGuid(), body.GetProperty("session_token").GetString()!);
    }

    /// <summary>Signs up <paramref name="count"/> users (prefix00000, prefix00001, ...), all in one team the first creates.</summary>
    public async Task<(List<(Guid UserId, Guid DeviceId, string Token)> Users, Guid TeamId, Guid General)> SignupTeamAsync(string prefix, int count)
    {
        var users = new List<(Guid UserId, Guid DeviceId, string Token)>();
        for (var i = 0; i < count; i++)
        {
            users.Add(await SignupAsync($"{prefix}{i:D5}"));
        }

        var (teamId, general) = await CreateTeamAsync(users[0].Token, prefix + "-load");
        var invite = await CreateInviteAsync(users[0].Token, teamId);
        foreach (var user in users.Skip(1))
        {
            await JoinAsync(user.Token, invite);
        }

        return (users, teamId, general);
    }

    public async Task<Guid> CreateTeamGeneralAsync(string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/teams") { Content = JsonContent.Create(new { name = "load" }) };
        request.Headers.Authorization = new("Bearer", token);
        var response = await Api.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("general_channel_id").GetGuid();
    }

    /// <summary>Creates a team; returns its id and its general channel.</summary>
    public async Task<(Guid TeamId, Guid General)> CreateTeamAsync(string token, string name)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/teams") { Content = JsonContent.Create(new { name }) };
        request.Headers.Authorization = new("Bearer", token);
        var response = await Api.SendAsync(request);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (body.GetProperty("team_id").GetGuid(), body.GetProperty("general_channel_id").GetGuid());
    }

    /// <summary>Opens (or finds) the direct-message conversation of the caller and <paramref name="otherUserId"/>.</summary>
    public async Task<Guid> CreateDmAsync(string token, Guid otherUserId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/dms") { Content = JsonContent.Create(new { users = new[] { otherUserId.ToString() } }) };
        request.Headers.Authorization = new("Bearer", token);
        var response = await Api.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("conversation_id").GetGuid();
    }

    /// <summary>Creates an invite to the team and returns its code.</summary>
    public async Task<string> CreateInviteAsync(string token, Guid teamId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"v1/teams/{teamId}/invites") { Content = JsonContent.Create(new { }) };
        request.Headers.Authorization = new("Bearer", token);
        var response = await Api.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("invite_code").GetString()!;
    }

    /// <summary>Joins a team by invite code (and with it the team's general channel).</summary>
    public async Task JoinAsync(string token, string inviteCode)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"v1/invites/{inviteCode}/join");
        request.Headers.Authorization = new("Bearer", token);
        var response = await Api.SendAsync(request);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Forces a compacting GC in the gateway and reads its retained managed heap and RSS.</summary>
    public async Task<MemoryReading> ReadMemoryAsync()
    {
        var response = await Management.PostAsync("debug/memory", null);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return new MemoryReading(
            body.GetProperty("connections").GetInt32(),
            body.GetProperty("managed_bytes").GetInt64(),
            body.GetProperty("rss_bytes").GetInt64(),
            body.GetProperty("gc_server").GetBoolean())
        {
            // A gateway built before this field says nothing of it.
            GcCommittedBytes = body.TryGetProperty("gc_committed_bytes", out var committed) ? committed.GetInt64() : 0,
            SqliteBytes = body.TryGetProperty("sqlite_bytes", out var sqlite) ? sqlite.GetInt64() : 0,
            Threads = (int)ProcStatusValue(ProcessId, "Threads:"),
            JitMethods = body.TryGetProperty("jit_methods", out var jit) ? jit.GetInt64() : 0,
        };
    }

    /// <summary>Waits until the gateway holds at most <paramref name="expected"/> connections (its /debug/memory count).</summary>
    public async Task WaitForConnectionsAsync(int expected, TimeSpan patience)
    {
        var until = Stopwatch.GetTimestamp() + (long)(patience.TotalSeconds * Stopwatch.Frequency);
        while ((await ReadMemoryAsync()).Connections > expected)
        {
            if (Stopwatch.GetTimestamp() > until)
            {
                throw new InvalidOperationException($"The gateway still held connections after {patience.TotalSeconds} s.");
            }

            await Task.Delay(500);
        }
    }

    /// <summary>The gateway's JIT time so far, in seconds; null when it does not export it (an older build).</summary>
    public async Task<double?> ReadJitSecondsAsync() =>
        (await ReadUnlabelledMetricsAsync()).TryGetValue("chatwire_jit_compilation_seconds_total", out var seconds) ? seconds : null;

    /// <summary>How much <paramref name="metric"/> moved between two <see cref="ReadUnlabelledMetricsAsync"/> readings; null when either lacks it.</summary>
    public static double? Change(Dictionary<string, double> before, Dictionary<string, double> after, string metric) =>
        after.TryGetValue(metric, out var a) && before.TryGetValue(metric, out var b) ? a - b : null;

    /// <summary>
    /// The group commits between two <see cref="ReadUnlabelledMetricsAsync"/> readings and their mean size in SENDs:
    /// how SENDs reached the store together. The mean is null when there were none.
    /// </summary>
    public static (double? Commits, double? MeanBatch) GroupCommits(Dictionary<string, double> before, Dictionary<string, double> after)
    {
        var commits = Change(before, after, "chatwire_commit_batch_size_count");
        return (commits, commits > 0 ? Change(before, after, "chatwire_commit_batch_size_sum") / commits : null);
    }

    /// <summary>Reads /metrics and returns the samples without labels (name → value).</summary>
    public async Task<Dictionary<string, double>> ReadUnlabelledMetricsAsync()
    {
        var text = await Management.GetStringAsync("metrics");
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            if (line.StartsWith('#') || space <= 0 || line.AsSpan(0, space).Contains('{'))
            {
                continue;
            }

            if (double.TryParse(line.AsSpan(space + 1), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value))
            {
                samples[line[..space]] = value;
            }
        }

        return samples;
    }

    /// <summary>
    /// Stops the gateway the way an operator does: SIGTERM (it drains, sending GO_AWAY), then waits up to
    /// <paramref name="grace"/>; <see cref="DisposeAsync"/> kills it if it is still running after that.
    /// </summary>
    public async Task TerminateAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return;
        }

        using (var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false }))
        {
            if (kill is not null)
            {
                await kill.WaitForExitAsync();
            }
        }

        using var timeout = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine($"gateway pid {_process.Id} still running {grace.TotalSeconds:F0} s after SIGTERM; killing it");
        }
    }

    /// <summary>The gateway's resident set from /proc/PID/status (VmRSS), in bytes; 0 where there is no /proc.</summary>
    public long ReadProcRss() => ProcStatusBytes(_process.Id, "VmRSS:");

    internal static long ProcStatusBytes(int pid, string field) => ProcStatusValue(pid, field) * 1024;

    // The number a /proc/PID/status field starts with ("VmRSS:\t  123456 kB", "Threads:\t24"); 0 where there is no /proc.
    private static long ProcStatusValue(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                {
                    return long.Parse(line[field.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }

        return 0;
    }

    internal static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(File.Exists);

    public async ValueTask DisposeAsync()
    {
        Api.Dispose();
        Management.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    // A port free when asked, never one handed out before in this process: the kernel may give a port it just
    // released to the next bind(0), and two listeners of one gateway on the same port stop its start.
    internal static int FreePort()
    {
        lock (HandedOut)
        {
            while (true)
            {
                using var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                var port = ((IPEndPoint)listener.LocalEndpoint).Port;
                if (HandedOut.Add(port))
                {
                    return port;
                }
            }
        }
    }

    private static readonly HashSet<int> HandedOut = [];
}

internal sealed record MemoryReading(int Connections, long ManagedBytes, long RssBytes, bool ServerGc)
{
    /// <summary>What the GC had committed after its collections (0 from a gateway that does not say).</summary>
    public long GcCommittedBytes { get; init; }

    /// <summary>What SQLite held in its own heap, its page caches mostly (0 from a gateway that does not say).</summary>
    public long SqliteBytes { get; init; }

    /// <summary>The gateway process's threads (from /proc; 0 where that cannot be read).</summary>
    public int Threads { get; init; }

    /// <summary>Methods the gateway's JIT has compiled so far, tier-ups included (0 from a gateway that does not say).</summary>
    public long JitMethods { get; init; }
}
