using System.Security.Cryptography;
using System.Text;
using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Testing;
using ChatWire.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MySqlConnector;
using Xunit.Abstractions;

namespace ChatWire.Client.Tests;

// What the server stores after an encrypted conversation, read byte by byte: database files (SQLite with its -wal
// and -shm; MariaDB's data directories, InnoDB files, binlogs and relay logs), blobs in both stores, the server's
// log at Trace. No plaintext sent encrypted may be anywhere; the positive controls, stored in plaintext on
// purpose, must be found by the same scan, so that it cannot pass by reading nothing.
public sealed class PlaintextScanTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "chatwire-scan-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task EncryptedConversation_EmbeddedSqliteAndLocalBlobs_NoPlaintextStoredOrLogged_ControlsFound()
    {
        var data = Path.Combine(_root, "data");
        var server = await TestServer.StartAsync(TraceLogging(), data);
        SecretConversation talk;
        FileLogSink log;
        ScanReport running;
        try
        {
            log = CaptureLog(server);
            talk = await SecretConversation.RunAsync(server, Path.Combine(_root, "keys"));
            running = new ByteScanner(talk.Needles).Scan(data, log.Path);
        }
        finally
        {
            await server.DisposeAsync();
        }

        using (talk)
        {
            // Again once the server has stopped: SQLite has checkpointed its WAL into the database files.
            var stopped = new ByteScanner(talk.Needles).Scan(data, log.Path);
            Report("running", running);
            Report("stopped", stopped);

            Assert.True(running.Files.Any(f => f.Path.EndsWith("-wal", StringComparison.Ordinal) && f.Bytes > 0), "No SQLite WAL was read while the server ran.\n" + running.Describe());
            Assert.True(running.Files.Any(f => f.Path.EndsWith("-shm", StringComparison.Ordinal)), "No SQLite -shm was read while the server ran.\n" + running.Describe());
            Assert.True(log.Lines > 100, $"The server logged {log.Lines} lines at Trace.");
            foreach (var scan in new[] { running, stopped })
            {
                AssertVolume(scan, files: 6, bytes: 64 << 10);
                AssertNoSecret(scan, talk);
                AssertFound(scan, talk.TextControl, data);
                AssertFound(scan, talk.BlobControl, Path.Combine(data, "blobs"));
                AssertFound(scan, talk.LogControl, log.Path);
            }
        }
    }

    [Fact]
    public async Task EncryptedConversation_MariaDbAndS3_NoPlaintextInDataDirectoriesBinlogsOrBucket_ControlsFound()
    {
        var services = BackingServices.ServicesDirectory;
        var database = BackingServices.NewDatabaseName("scan");
        var data = Path.Combine(_root, "data");
        var settings = TraceLogging();
        settings["Storage:Directory"] = "mysql";
        settings["Storage:Messages"] = "mysql";
        settings["Storage:MySql:ConnectionString"] = BackingServices.MySqlDatabase(database);
        settings["Storage:Blobs"] = "s3";
        settings["Storage:S3:ServiceUrl"] = BackingServices.S3;
        settings["Storage:S3:Bucket"] = BackingServices.S3Bucket;
        settings["Storage:S3:Region"] = "us-east-1";
        settings["Storage:S3:AccessKey"] = BackingServices.S3AccessKey;
        settings["Storage:S3:SecretKey"] = BackingServices.S3SecretKey;
        settings["Storage:S3:ForcePathStyle"] = "true";
        var server = await TestServer.StartAsync(settings, data);
        try
        {
            var log = CaptureLog(server);
            using var talk = await SecretConversation.RunAsync(server, Path.Combine(_root, "keys"));
            var scanner = new ByteScanner(talk.Needles);
            var scan = scanner.Scan(services, data, log.Path);
            if (!scan.HitsOf(talk.TextControl).Any())
            {
                // Not on disk yet (InnoDB may hold it in the buffer pool): flush what can be flushed and look again.
                await FlushPrimaryAsync();
                scan = scanner.Scan(services, data, log.Path);
            }

            Report("services", scan);
            AssertVolume(scan, files: 50, bytes: 16 << 20);
            foreach (var part in new[] { "primary", "replica", "s3" })
            {
                Assert.True(scan.Files.Any(f => f.Path.StartsWith(Path.Combine(services, part), StringComparison.Ordinal)), $"Nothing under {part}/ was read.\n" + scan.Describe());
            }

            Assert.True(scan.Files.Any(f => Path.GetFileName(f.Path).StartsWith("primary-bin.0", StringComparison.Ordinal)), "No binlog was read.\n" + scan.Describe());
            Assert.True(scan.Files.Any(f => Path.GetFileName(f.Path).StartsWith("replica-relay.0", StringComparison.Ordinal)), "No relay log was read.\n" + scan.Describe());
            AssertNoSecret(scan, talk);
            AssertFound(scan, talk.TextControl, services);
            AssertFound(scan, talk.BlobControl, Path.Combine(services, "s3"));
            AssertFound(scan, talk.LogControl, log.Path);
        }
        finally
        {
            await server.DisposeAsync();
            await DropAsync(database);
        }
    }

    [Fact]
    public void Scan_NeedleInEachForm_FoundInEach()
    {
        var needle = Needle.Text("secret", $"PLAINTEXT-CANARY-ünï-{Guid.NewGuid():N}");
        var absent = Needle.Text("absent", $"PLAINTEXT-CANARY-absent-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(_root, "forms"));
        var forms = new Dictionary<string, byte[]>
        {
            ["raw"] = needle.Bytes,
            ["utf-16le"] = Encoding.Unicode.GetBytes(Encoding.UTF8.GetString(needle.Bytes)),
            ["hex"] = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(needle.Bytes)),
            ["base64@0"] = Encoding.ASCII.GetBytes(Convert.ToBase64String(needle.Bytes)),
            ["base64@1"] = Encoding.ASCII.GetBytes(Convert.ToBase64String([0xAB, .. needle.Bytes, 0xCD])),
            ["base64@2"] = Encoding.ASCII.GetBytes(Convert.ToBase64String([0xAB, 0xCD, .. needle.Bytes])),
        };
        foreach (var (form, bytes) in forms)
        {
            // Amid random bytes, and across the scanner's 4 MiB chunk boundary in the largest file.
            var before = RandomNumberGenerator.GetBytes(form == "raw" ? (4 << 20) - 10 : 1000);
            File.WriteAllBytes(Path.Combine(_root, "forms", form), [.. before, .. bytes, .. RandomNumberGenerator.GetBytes(1000)]);
        }

        var scan = new ByteScanner([needle, absent]).Scan(Path.Combine(_root, "forms"));

        Assert.Equal(forms.Keys.Order(), scan.HitsOf(needle).Select(h => Path.GetFileName(h.Path)).Distinct().Order());
        Assert.Contains(scan.HitsOf(needle), h => h.Form == "base64@1" && Path.GetFileName(h.Path) == "base64@1");
        Assert.Empty(scan.HitsOf(absent));
    }

    public void Dispose() => TestServer.DeleteDirectory(_root);

    // Everything at Trace (the ASP.NET Core request lines included) for the sink; the console stays as quiet as in
    // the other tests.
    private static Dictionary<string, string?> TraceLogging() => new()
    {
        ["Logging:LogLevel:Default"] = "Trace",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace",
        ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Trace",
        ["Logging:Console:LogLevel:Default"] = "Warning",
        ["Logging:Debug:LogLevel:Default"] = "Warning",
    };

    // The server's own logger factory gains a file sink: every logger it made before and after writes to it.
    private FileLogSink CaptureLog(TestServer server)
    {
        var sink = new FileLogSink(Path.Combine(_root, "server.log"));
        server.Server.App.Services.GetRequiredService<ILoggerFactory>().AddProvider(sink);
        return sink;
    }

    private void Report(string name, ScanReport scan)
    {
        output.WriteLine($"{name}: {scan.Files.Count} files, {scan.TotalBytes} bytes, {scan.Unreadable.Count} unreadable, {scan.Hits.Count} hits");
        foreach (var group in scan.Hits.GroupBy(h => h.Needle))
        {
            output.WriteLine($"  {group.Key}: {string.Join(", ", group.Select(h => $"{Path.GetFileName(h.Path)} ({h.Form})").Distinct())}");
        }
    }

    private static void AssertVolume(ScanReport scan, int files, long bytes) =>
        Assert.True(scan.Files.Count >= files && scan.TotalBytes >= bytes, $"The scan read too little (at least {files} files and {bytes} bytes expected).\n" + scan.Describe());

    private static void AssertNoSecret(ScanReport scan, SecretConversation talk)
    {
        var leaks = talk.Secrets.SelectMany(scan.HitsOf).ToList();
        Assert.True(leaks.Count == 0, "Plaintext sent encrypted was found:\n  " + string.Join("\n  ", leaks) + "\n" + scan.Describe());
    }

    private static void AssertFound(ScanReport scan, Needle control, string under) =>
        Assert.True(
            scan.HitsOf(control).Any(h => h.Path.StartsWith(under, StringComparison.Ordinal)),
            $"The positive control \"{control.Name}\" was not found under {under}: the scan is blind there.\n" + scan.Describe());

    private static async Task FlushPrimaryAsync()
    {
        await using var connection = new MySqlConnection(BackingServices.MySql);
        await connection.OpenAsync();
        await using var flush = new MySqlCommand("FLUSH TABLES; FLUSH LOGS;", connection);
        await flush.ExecuteNonQueryAsync();
    }

    private static async Task DropAsync(string database)
    {
        try
        {
            await using var connection = new MySqlConnection(BackingServices.MySql);
            await connection.OpenAsync();
            await using var drop = new MySqlCommand($"DROP DATABASE IF EXISTS `{database}`", connection);
            await drop.ExecuteNonQueryAsync();
        }
        catch (MySqlException)
        {
            // Best effort: a test database left behind does no harm.
        }
    }
}
