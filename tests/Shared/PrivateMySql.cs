using System.Diagnostics;

namespace ChatWire.Tests.Shared;

/// <summary>
/// A MariaDB primary and replica of one test's own (scripts/services.sh without Redis), the primary on
/// 127.0.0.2 and the replica on 127.0.0.3 with one port, so that a MySqlConnector failover list
/// (<see cref="FailoverConnectionString"/>) can name both: for the failover test, which stops the primary.
/// </summary>
internal sealed class PrivateMySql : IAsyncDisposable
{
    private readonly string _script;
    private readonly string _directory;
    private readonly Dictionary<string, string> _values;

    private PrivateMySql(string script, string directory, Dictionary<string, string> values)
    {
        _script = script;
        _directory = directory;
        _values = values;
    }

    /// <summary>
    /// Both servers, primary first, <c>LoadBalance=FailOver</c>, without a database, as the gateways' user: it has
    /// no global privilege, so until <see cref="PromoteReplicaAsync"/> the replica's <c>read_only</c> refuses its
    /// writes (root's would go through, beside replication).
    /// </summary>
    public string FailoverConnectionString => _values["CHATWIRE_SERVICES_MYSQL_APP_FAILOVER"];

    public static async Task<PrivateMySql> StartAsync()
    {
        var script = BackingServices.Script;
        var directory = Path.Combine(Path.GetTempPath(), "chatwire-mysql", Guid.NewGuid().ToString("N"));
        await RunAsync(script, new Dictionary<string, string>
        {
            ["CHATWIRE_SERVICES_SKIP_REDIS"] = "1",

            // Nor an S3 server: nothing here uses one, and starting it under a busy suite once timed out the test.
            ["CHATWIRE_SERVICES_SKIP_S3"] = "1",
            ["CHATWIRE_SERVICES_MYSQL_ADDRESSES"] = "127.0.0.2 127.0.0.3",
        }, "start", directory);
        return new PrivateMySql(script, directory, BackingServices.ReadEnv(directory));
    }

    /// <summary>Stops the primary (SIGTERM, by its pid file) and waits until it is gone.</summary>
    public Task StopPrimaryAsync() => SignalPrimaryAndWaitAsync("TERM");

    /// <summary>Kills the primary at once (SIGKILL, as a crash or <c>kill -9</c>) and waits until it is gone.</summary>
    public Task KillPrimaryAsync() => SignalPrimaryAndWaitAsync("KILL");

    /// <summary>Freezes the replica (SIGSTOP): connected, but it acknowledges nothing until <see cref="ResumeReplicaAsync"/>.</summary>
    public Task PauseReplicaAsync() => RunAsync("bash", [], "-c", $"kill -STOP $(cat '{_values["CHATWIRE_SERVICES_MYSQL_REPLICA_PID"]}')");

    /// <summary>Lets a paused replica run again (SIGCONT).</summary>
    public Task ResumeReplicaAsync() => RunAsync("bash", [], "-c", $"kill -CONT $(cat '{_values["CHATWIRE_SERVICES_MYSQL_REPLICA_PID"]}')");

    /// <summary>
    /// Makes the replica a primary that takes writes (the operator's failover): it stops receiving, applies all it
    /// received (semi-synchronous replication acknowledges a commit once it is in the replica's relay log, not yet
    /// applied; resetting before it is applied would throw acknowledged commits away), then forgets its primary.
    /// </summary>
    public Task PromoteReplicaAsync()
    {
        var client = $"mariadb --no-defaults --socket='{_values["CHATWIRE_SERVICES_MYSQL_REPLICA_SOCKET"]}' -uroot";
        return RunAsync("bash", [], "-c", $$"""
            {{client}} -e 'STOP SLAVE IO_THREAD;'
            for i in $(seq 200); do
              status=$({{client}} -e 'SHOW SLAVE STATUS\G')
              read_pos=$(printf '%s\n' "$status" | awk '/ Read_Master_Log_Pos:/ {print $2}')
              exec_pos=$(printf '%s\n' "$status" | awk '/ Exec_Master_Log_Pos:/ {print $2}')
              read_file=$(printf '%s\n' "$status" | awk '/ Master_Log_File:/ && !/Relay/ {print $2}')
              exec_file=$(printf '%s\n' "$status" | awk '/ Relay_Master_Log_File:/ {print $2}')
              [ "$read_pos" = "$exec_pos" ] && [ "$read_file" = "$exec_file" ] && break
              sleep 0.05
            done
            {{client}} -e 'STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0;'
            """);
    }

    private Task SignalPrimaryAndWaitAsync(string signal) =>
        RunAsync("bash", [], "-c", $"pid=$(cat '{_values["CHATWIRE_SERVICES_MYSQL_PID"]}'); kill -{signal} $pid; while kill -0 $pid 2>/dev/null; do sleep 0.1; done");

    public async ValueTask DisposeAsync()
    {
        await ResumeReplicaAsync();
        await RunAsync(_script, [], "stop", _directory);
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static async Task RunAsync(string file, Dictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(file == BackingServices.Script ? "bash" : file)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        if (file == BackingServices.Script)
        {
            start.ArgumentList.Add(file);
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start.");
        var error = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed ({process.ExitCode}): {await error}");
        }
    }
}
