using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace ChatWire.Gateway.Tests.Infrastructure;

/// <summary>
/// The gateway as a child process under a lowered open-file limit (<c>prlimit --nofile</c>), on free
/// loopback ports over a fresh data directory: for floods and exhaustion, which must never run against the
/// test runner's own process. Stopped with SIGTERM (a background child ignores SIGINT).
/// </summary>
internal sealed class GatewayChild : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private GatewayChild(Process process, string data, int tcp, int tls, int http, int management)
    {
        _process = process;
        DataDirectory = data;
        Tcp = new IPEndPoint(IPAddress.Loopback, tcp);
        Tls = new IPEndPoint(IPAddress.Loopback, tls);
        Http = new IPEndPoint(IPAddress.Loopback, http);
        Management = new IPEndPoint(IPAddress.Loopback, management);
        Api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}/") };
        ManagementClient = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{management}/") };
    }

    public string DataDirectory { get; }

    private bool _ownsData = true;

    public IPEndPoint Tcp { get; }

    public IPEndPoint Tls { get; }

    public IPEndPoint Http { get; }

    public IPEndPoint Management { get; }

    public HttpClient Api { get; }

    public HttpClient ManagementClient { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>The gateway's process id (prlimit executes the gateway in its own process).</summary>
    public int ProcessId => _process.Id;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>
    /// Starts the child and waits until it is healthy. Over <paramref name="dataDirectory"/> when given (which
    /// the caller then owns and deletes: a second child may start over it), else over a fresh one it deletes.
    /// </summary>
    public static async Task<GatewayChild> StartAsync(int openFiles, IReadOnlyDictionary<string, string> settings, string? dataDirectory = null)
    {
        // The free ports are found by binding and releasing them, so another process may take one before the
        // child binds it; then the child exits at once, and a second choice of ports is as good as the first.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnceAsync(openFiles, settings, dataDirectory);
            }
            catch (InvalidOperationException ex) when (attempt < 3 && ex.Message.Contains("address already in use", StringComparison.Ordinal))
            {
            }
        }
    }

    private static async Task<GatewayChild> StartOnceAsync(int openFiles, IReadOnlyDictionary<string, string> settings, string? dataDirectory)
    {
        var data = dataDirectory ?? Path.Combine(Path.GetTempPath(), "chatwire-child-" + Guid.NewGuid().ToString("N"));
        var ports = FreePorts(5);
        var start = StartInfo(openFiles, data, ports, settings, []);
        var process = Process.Start(start) ?? throw new InvalidOperationException("prlimit did not start");
        var child = new GatewayChild(process, data, ports[0], ports[1], ports[2], ports[3]) { _ownsData = dataDirectory is null };
        process.OutputDataReceived += (_, e) => child.Append(e.Data);
        process.ErrorDataReceived += (_, e) => child.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!timeout.IsCancellationRequested && !process.HasExited)
        {
            try
            {
                // Only this child's answer counts: the ports were free when chosen, but another test's gateway
                // may bind one first, and then its /health answers here while this child exits refused.
                using var health = await child.ManagementClient.GetAsync("health", timeout.Token);
                if (health.IsSuccessStatusCode
                    && (await health.Content.ReadFromJsonAsync<JsonElement>(timeout.Token)).GetProperty("pid").GetInt32() == process.Id)
                {
                    return child;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100, CancellationToken.None);
        }

        var output = child.Output;
        await child.DisposeAsync();
        throw new InvalidOperationException("The gateway child did not become healthy:\n" + output);
    }

    /// <summary>Stops the gateway as an operator would: SIGTERM, then waits (up to 15 s, then SIGKILL).</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited)
        {
            return;
        }

        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill!.WaitForExitAsync();
        }

        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    /// <summary>Sends SIGTERM and returns at once: the gateway drains (GO_AWAY) and exits on its own.</summary>
    public async Task TerminateAsync()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill!.WaitForExitAsync();
    }

    /// <summary>Waits for the gateway to exit on its own: its exit code, or null if it is still running after <paramref name="wait"/>.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan wait)
    {
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            return _process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Kills the gateway at once (SIGKILL, as <c>kill -9</c>): no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Api.Dispose();
        ManagementClient.Dispose();
        await StopAsync();
        _process.Dispose();
        if (!_ownsData)
        {
            return;
        }

        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Signs a user up over the child's HTTP API: its session token and device.</summary>
    public async Task<(string Token, Guid DeviceId)> SignupAsync(string username)
    {
        var response = await Api.PostAsJsonAsync("v1/accounts/signup", new { username, password = "correct horse battery" });
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (body.GetProperty("session_token").GetString()!, body.GetProperty("device_id").GetGuid());
    }

    /// <summary>An authenticated call to the child's HTTP API that must succeed; its JSON body (default when empty).</summary>
    public async Task<JsonElement> CallAsync(string token, HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new("Bearer", token);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        var response = await Api.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, $"{method} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return response.Content.Headers.ContentLength == 0 ? default : await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>Runs the gateway to its exit (it is expected not to start): its exit code and everything it printed.</summary>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(IReadOnlyDictionary<string, string> settings, params string[] args)
    {
        var data = Path.Combine(Path.GetTempPath(), "chatwire-child-" + Guid.NewGuid().ToString("N"));
        try
        {
            // Nothing connects to a child that is expected not to start, so every endpoint the settings do not name
            // takes a port the kernel picks (0) as it binds: none can be taken by another test's gateway between
            // choosing it and binding it, which would fail the start on the wrong port. The management endpoint is
            // written as localhost (as TestServer does) because it must differ from the HTTP endpoint.
            var start = StartInfo(openFiles: 4096, data, [0, 0, 0, 0, 0], settings, args);
            if (!settings.ContainsKey("Gateway:ManagementEndpoint"))
            {
                start.Environment["CHATWIRE_Gateway__ManagementEndpoint"] = "localhost:0";
            }

            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException("The gateway did not exit:\n" + await stdout + await stderr);
            }

            return (process.ExitCode, await stdout + await stderr);
        }
        finally
        {
            if (Directory.Exists(data))
            {
                Directory.Delete(data, recursive: true);
            }
        }
    }

    private static ProcessStartInfo StartInfo(int openFiles, string data, List<int> ports, IReadOnlyDictionary<string, string> settings, string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "ChatWire.Gateway.dll");
        var start = new ProcessStartInfo("prlimit", [$"--nofile={openFiles}:{openFiles}", "dotnet", dll, .. args])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["CHATWIRE_Gateway__TcpEndpoint"] = $"127.0.0.1:{ports[0]}";
        start.Environment["CHATWIRE_Gateway__TlsEndpoint"] = $"127.0.0.1:{ports[1]}";
        start.Environment["CHATWIRE_Gateway__NoiseEndpoint"] = $"127.0.0.1:{ports[4]}";
        start.Environment["CHATWIRE_Gateway__HttpEndpoint"] = $"127.0.0.1:{ports[2]}";
        start.Environment["CHATWIRE_Gateway__ManagementEndpoint"] = $"127.0.0.1:{ports[3]}";
        start.Environment["CHATWIRE_Gateway__DataDirectory"] = data;
        start.Environment["CHATWIRE_Logging__LogLevel__Default"] = "Warning";

        // A short drain unless a test asks for another: a test's raw clients ignore GO_AWAY, and StopAsync
        // should not wait out the production default for them.
        start.Environment["CHATWIRE_Gateway__DrainTimeoutMs"] = "2000";
        foreach (var (key, value) in settings)
        {
            start.Environment["CHATWIRE_" + key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        return start;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    private static List<int> FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        listeners.ForEach(l => l.Start());
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToList();
        listeners.ForEach(l => l.Stop());
        return ports;
    }
}
