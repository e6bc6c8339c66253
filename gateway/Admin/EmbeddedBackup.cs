using ChatWire.Gateway.Hosting;
using ChatWire.Protocol;
using ChatWire.Storage.Blobs;
using ChatWire.Storage.Sqlite;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Admin;

/// <summary>
/// An online backup of what this node keeps in its data directory (docs/deploy.md, "Backup and restore"), taken
/// while it serves: the messages database, then the directory database, each one consistent snapshot, then the
/// local blobs. In that order every conversation a backed-up message belongs to, and every key bundle it was sent
/// on, is in the directory copy, and every blob a copied attachment row names was written before the copy began.
/// Restoring is copying the files into an empty data directory before the server starts.
/// </summary>
internal sealed class EmbeddedBackup(ChatWireStorage storage, IOptions<GatewayOptions> options, TimeProvider time)
{
    // One backup at a time per node (1 while one runs).
    private int _running;

    public async Task<AdminBackupResponse> RunAsync(string? target, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(target) || !Path.IsPathFullyQualified(target))
        {
            throw RequestRefusedException.Validation("directory", "directory must be an absolute path on the server's host.");
        }

        // NUL makes the path functions throw; CR, LF and the rest would go raw into the audit line.
        if (target.Any(char.IsControl))
        {
            throw RequestRefusedException.Validation("directory", "directory must not hold control characters.");
        }

        var dataDirectory = Path.GetFullPath(options.Value.DataDirectory);
        var notIncluded = new List<string>();
        if (storage.Messages is not SqliteMessageStore)
        {
            notIncluded.Add("messages (not in the embedded store: back up its database with its own tools)");
        }

        if (storage.Directory is not SqliteDirectoryStore)
        {
            notIncluded.Add("directory (not in the embedded store: back up its database with its own tools)");
        }

        if (storage.Blobs is not LocalBlobStore)
        {
            notIncluded.Add("attachments (in S3: use the bucket's versioning or replication)");
        }

        if (notIncluded.Count == 3)
        {
            throw new RequestRefusedException(ErrorCode.Forbidden, "Nothing of this node's data is in its data directory: back up MySQL, MongoDB and S3 with their own tools (docs/deploy.md).");
        }

        if (Interlocked.Exchange(ref _running, 1) == 1)
        {
            throw new RequestRefusedException(ErrorCode.ServerBusy, "A backup is already running on this node; retry when it has finished.", retryAfterSeconds: 5);
        }

        try
        {
            var created = time.GetUtcNow();
            var full = Path.GetFullPath(target);
            PrepareTarget(full);

            // Off the request thread: the copies are synchronous file work.
            var files = await Task.Run(() => Copy(dataDirectory, full), ct);
            return new AdminBackupResponse(full, created, files, notIncluded);
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }

    private List<AdminBackupFile> Copy(string dataDirectory, string target)
    {
        var files = new List<AdminBackupFile>();
        if (storage.Messages is SqliteMessageStore)
        {
            files.Add(new(SqliteStorage.MessagesFileName, SqliteBackup.Copy(Path.Combine(dataDirectory, SqliteStorage.MessagesFileName), Path.Combine(target, SqliteStorage.MessagesFileName))));
        }

        if (storage.Directory is SqliteDirectoryStore)
        {
            files.Add(new(SqliteStorage.DirectoryFileName, SqliteBackup.Copy(Path.Combine(dataDirectory, SqliteStorage.DirectoryFileName), Path.Combine(target, SqliteStorage.DirectoryFileName))));
        }

        if (storage.Blobs is LocalBlobStore local)
        {
            var blobTarget = Path.Combine(target, Path.GetRelativePath(dataDirectory, local.Root));
            CreateOwnerOnly(blobTarget);
            foreach (var file in System.IO.Directory.EnumerateFiles(local.Root).Where(f => !Path.GetFileName(f).StartsWith(LocalBlobStore.TemporaryPrefix, StringComparison.Ordinal)))
            {
                var to = Path.Combine(blobTarget, Path.GetFileName(file));
                try
                {
                    File.Copy(file, to);
                    files.Add(new(Path.GetRelativePath(target, to), new FileInfo(to).Length));
                }
                catch (FileNotFoundException)
                {
                    // Deleted meanwhile (a swept upload never completed): nothing refers to it.
                }
            }
        }

        return files;
    }

    // An empty or new directory, owner-only: the copies hold password hashes and every message.
    private static void PrepareTarget(string target)
    {
        if (File.Exists(target) || (System.IO.Directory.Exists(target) && System.IO.Directory.EnumerateFileSystemEntries(target).Any()))
        {
            throw RequestRefusedException.Validation("directory", "directory must not exist yet, or be empty: a backup never overwrites files.");
        }

        try
        {
            CreateOwnerOnly(target);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw RequestRefusedException.Validation("directory", $"The server cannot create the directory: {ex.Message}");
        }
    }

    private static void CreateOwnerOnly(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(path);
        }
        else
        {
            System.IO.Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }
}
