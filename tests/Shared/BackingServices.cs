using System.Diagnostics;

namespace ChatWire.Tests.Shared;

/// <summary>
/// Where the real Redis, MariaDB (primary and replica) and S3-compatible store (s3rver) of the distributed-mode tests listen. <c>test.sh</c>
/// starts them once through <c>scripts/services.sh</c> and exports <c>CHATWIRE_SERVICES_DIR</c>; a test run
/// without it (an IDE, <c>dotnet test</c> alone) starts its own set on first use and stops it when the test
/// process exits. Never a fake: these are the servers a deployment runs.
/// </summary>
internal static class BackingServices
{
    private static readonly Lazy<IReadOnlyDictionary<string, string>> Values = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The directory every service keeps its data, logs and pid files under (scripts/services.sh's DIR).</summary>
    public static string ServicesDirectory => Get("CHATWIRE_SERVICES_DIR");

    /// <summary>Redis, as <c>host:port</c>.</summary>
    public static string Redis => Get("CHATWIRE_SERVICES_REDIS");

    /// <summary>The MariaDB primary, as a connection string without a database.</summary>
    public static string MySql => Get("CHATWIRE_SERVICES_MYSQL");

    /// <summary>The MariaDB replica (read-only, replicating from the primary), without a database.</summary>
    public static string MySqlReplica => Get("CHATWIRE_SERVICES_MYSQL_REPLICA");

    /// <summary>
    /// The S3-compatible server (s3rver), as a service URL such as <c>http://127.0.0.1:41234</c>. A services
    /// directory started with CHATWIRE_SERVICES_SKIP_S3 has none: the S3 tests then fail, they never skip.
    /// </summary>
    public static string S3 => Get("CHATWIRE_SERVICES_S3") is { Length: > 0 } url ? url : throw new InvalidOperationException("The services environment has no S3 server (started with CHATWIRE_SERVICES_SKIP_S3?).");

    /// <summary>The bucket s3rver was started with.</summary>
    public static string S3Bucket => Get("CHATWIRE_SERVICES_S3_BUCKET");

    /// <summary>s3rver accepts this key pair (any signature; it does not check SigV4).</summary>
    public const string S3AccessKey = "S3RVER";

    public const string S3SecretKey = "S3RVER";

    /// <summary>A connection string to a database of its own on the primary (created by the store on open).</summary>
    public static string MySqlDatabase(string database) => $"{MySql};Database={database}";

    /// <summary>The same database on the replica.</summary>
    public static string MySqlReplicaDatabase(string database) => $"{MySqlReplica};Database={database}";

    /// <summary>A fresh database name: lower-case, unique, and recognisable as a test's.</summary>
    public static string NewDatabaseName(string prefix) => $"cwt_{prefix}_{Guid.NewGuid():N}";

    private static string Get(string key) =>
        Values.Value.TryGetValue(key, out var value) ? value : throw new InvalidOperationException($"The services environment has no {key}.");

    /// <summary>scripts/services.sh, found above the test assembly.</summary>
    public static string Script => FindScript();

    private static Dictionary<string, string> Load()
    {
        var directory = Environment.GetEnvironmentVariable("CHATWIRE_SERVICES_DIR");
        if (string.IsNullOrEmpty(directory) || !File.Exists(Path.Combine(directory, "env")))
        {
            directory = StartOwn();
        }

        return ReadEnv(directory);
    }

    /// <summary>The assignments scripts/services.sh wrote to <paramref name="directory"/>/env.</summary>
    public static Dictionary<string, string> ReadEnv(string directory)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in File.ReadAllLines(Path.Combine(directory, "env")))
        {
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                values[line[..equals]] = line[(equals + 1)..].Trim('\'');
            }
        }

        return values;
    }

    private static string StartOwn()
    {
        var script = FindScript();
        var directory = Path.Combine(Path.GetTempPath(), "chatwire-services", Guid.NewGuid().ToString("N"));
        Run(script, "start", directory);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Run(script, "stop", directory);
        return directory;
    }

    private static void Run(string script, string command, string directory)
    {
        using var process = Process.Start(new ProcessStartInfo("bash", [script, command, directory])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        }) ?? throw new InvalidOperationException("bash did not start.");
        var error = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"scripts/services.sh {command} failed ({process.ExitCode}): {error.Result}");
        }
    }

    private static string FindScript()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "scripts", "services.sh");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("scripts/services.sh was not found above the test assembly.");
    }
}
