using System.Diagnostics;

namespace ChatWire.Tests.Shared;

/// <summary>
/// A Redis server of one test's own (the Debian <c>redis-server</c>, on a free loopback port below the ephemeral range, in a temporary
/// directory), for tests that stop, restart or flush Redis and so must not share the suite's. Stopped with
/// SIGTERM by its pid, never by name.
/// </summary>
internal sealed class PrivateRedis : IAsyncDisposable
{
    private readonly string _directory;

    private PrivateRedis(string directory, int port)
    {
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    /// <summary><c>127.0.0.1:port</c>, a StackExchange.Redis configuration.</summary>
    public string Configuration => $"127.0.0.1:{Port}";

    public static async Task<PrivateRedis> StartAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "chatwire-redis", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        var redis = new PrivateRedis(directory, LoopbackPorts.PickBelowEphemeral(1)[0]);
        await redis.StartAgainAsync();
        return redis;
    }

    /// <summary>Starts the server (again, after <see cref="StopAsync"/>) on the same port, empty.</summary>
    public async Task StartAgainAsync()
    {
        Run("redis-server", "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", _directory, "--daemonize", "yes", "--pidfile", PidFile, "--logfile", Path.Combine(_directory, "redis.log"));
        for (var i = 0; i < 100; i++)
        {
            if (Run("redis-cli", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "ping") == 0)
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new InvalidOperationException($"redis-server on port {Port} did not answer.");
    }

    /// <summary>Stops the server (SIGTERM) and waits until it is gone.</summary>
    public async Task StopAsync()
    {
        if (!File.Exists(PidFile) || !int.TryParse((await File.ReadAllTextAsync(PidFile)).Trim(), out var pid))
        {
            return;
        }

        Run("kill", "-TERM", pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        for (var i = 0; i < 200 && Run("kill", "-0", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)) == 0; i++)
        {
            await Task.Delay(25);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            System.IO.Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private string PidFile => Path.Combine(_directory, "redis.pid");

    private static int Run(string file, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })
            ?? throw new InvalidOperationException($"{file} did not start.");
        process.StandardOutput.ReadToEnd();
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode;
    }
}
