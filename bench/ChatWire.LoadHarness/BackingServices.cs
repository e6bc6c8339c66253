using System.Diagnostics;

namespace ChatWire.LoadHarness;

/// <summary>
/// Redis and a MariaDB primary with its replica, started through the repository's scripts/services.sh into a
/// temporary directory of their own and stopped (by their pid files) on dispose: nothing another program
/// started is touched.
/// </summary>
internal sealed class BackingServices : IAsyncDisposable
{
    private readonly string _script;
    private readonly string _directory;
    private readonly bool _owned;

    private BackingServices(string script, string directory, IReadOnlyDictionary<string, string> env, bool owned = true)
    {
        _script = script;
        _directory = directory;
        _owned = owned;
        Redis = env["CHATWIRE_SERVICES_REDIS"];
        MySql = env["CHATWIRE_SERVICES_MYSQL"];
        MySqlReplica = env["CHATWIRE_SERVICES_MYSQL_REPLICA"];
    }

    /// <summary>host:port of Redis.</summary>
    public string Redis { get; }

    /// <summary>The primary's connection string, without a database.</summary>
    public string MySql { get; }

    /// <summary>The replica's connection string, without a database.</summary>
    public string MySqlReplica { get; }

    /// <summary>
    /// CPU time the MariaDB primary and its replica have used so far (user and system), read through the pid
    /// files scripts/services.sh writes; null for one whose pid file or process is missing.
    /// </summary>
    public (TimeSpan? Primary, TimeSpan? Replica) MySqlCpuTime => (CpuTimeOf("primary.pid"), CpuTimeOf("replica.pid"));

    public static async Task<BackingServices> StartAsync(string repositoryRoot)
    {
        var script = Path.Combine(repositoryRoot, "scripts", "services.sh");
        var directory = Path.Combine(Path.GetTempPath(), "chatwire-load-services-" + Guid.NewGuid().ToString("N"));
        try
        {
            await RunAsync(script, "start", directory);
            return new BackingServices(script, directory, ReadEnv(Path.Combine(directory, "env")));
        }
        catch
        {
            await StopAsync(script, directory);
            throw;
        }
    }

    /// <summary>
    /// Services someone else started with <c>scripts/services.sh start DIR</c> (CHATWIRE_SERVICES_DIR): read from
    /// DIR/env and left running on dispose.
    /// </summary>
    public static BackingServices Attach(string repositoryRoot, string directory) =>
        new(Path.Combine(repositoryRoot, "scripts", "services.sh"), directory, ReadEnv(Path.Combine(directory, "env")), owned: false);

    /// <summary>Starts the services, or attaches to the ones CHATWIRE_SERVICES_DIR names.</summary>
    public static async Task<BackingServices> StartOrAttachAsync(string repositoryRoot)
    {
        var existing = Environment.GetEnvironmentVariable("CHATWIRE_SERVICES_DIR");
        if (!string.IsNullOrEmpty(existing))
        {
            Console.WriteLine($"using the services in {existing} (CHATWIRE_SERVICES_DIR)");
            return Attach(repositoryRoot, existing);
        }

        Console.WriteLine("starting Redis and MariaDB (scripts/services.sh)…");
        return await StartAsync(repositoryRoot);
    }

    public ValueTask DisposeAsync() => _owned ? new(StopAsync(_script, _directory)) : ValueTask.CompletedTask;

    private static async Task StopAsync(string script, string directory)
    {
        try
        {
            await RunAsync(script, "stop", directory);
        }
        catch (InvalidOperationException ex)
        {
            Console.Error.WriteLine(ex.Message);
        }

        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static async Task RunAsync(string script, string command, string directory)
    {
        var start = new ProcessStartInfo("bash", [script, command, directory]) { UseShellExecute = false, RedirectStandardError = true };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("bash did not start");
        var errors = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"scripts/services.sh {command} failed ({process.ExitCode}): {errors}");
        }
    }

    private TimeSpan? CpuTimeOf(string pidFile)
    {
        try
        {
            var pid = int.Parse(File.ReadAllText(Path.Combine(_directory, pidFile)).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            using var process = Process.GetProcessById(pid);
            return process.TotalProcessorTime;
        }
        catch (Exception ex) when (ex is IOException or FormatException or ArgumentException or InvalidOperationException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    // DIR/env holds shell assignments of single-quoted values: KEY='value'.
    private static Dictionary<string, string> ReadEnv(string path)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in File.ReadAllLines(path))
        {
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                env[line[..equals]] = line[(equals + 1)..].Trim('\'');
            }
        }

        return env;
    }
}
