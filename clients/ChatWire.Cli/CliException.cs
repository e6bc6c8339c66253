using ChatWire.Protocol;

namespace ChatWire.Cli;

/// <summary>One of the things a name could mean, listed when a name is ambiguous.</summary>
/// <param name="Id">The id to use instead of the name.</param>
/// <param name="Name">The name.</param>
/// <param name="Detail">What tells the candidates apart (e.g. the team), or null.</param>
internal sealed record NameCandidate(Guid Id, string Name, string? Detail);

/// <summary>A failure the CLI detects itself, reported with a code of the shared table (exit status 1).</summary>
internal sealed class CliException(ErrorCode code, string message, IReadOnlyList<NameCandidate>? candidates = null) : Exception(message)
{
    public ErrorCode Code { get; } = code;

    public IReadOnlyList<NameCandidate> Candidates { get; } = candidates ?? [];
}

/// <summary>
/// A local file the command was given could not be read or written (missing, a directory, no permission): reported as
/// <c>FILE_ERROR</c> with code 0 and exit status 1, since no server was involved.
/// </summary>
internal sealed class CliFileException(string message, Exception? inner) : Exception(message, inner)
{
    public static async Task<byte[]> ReadAllBytesAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            return await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliFileException($"Cannot read {path}: {ex.Message}", ex);
        }
    }

    /// <summary>PATH opened for reading (a file sent from it is streamed, not held whole).</summary>
    public static FileStream OpenRead(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 64 * 1024, useAsync: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliFileException($"Cannot read {path}: {ex.Message}", ex);
        }
    }

    /// <summary>Fails before any download when PATH could not be written: its folder is missing, or it is a folder.</summary>
    public static void CheckWritable(string path)
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw new CliFileException($"Cannot write {path}: it is a directory.", null);
        }

        if (Path.GetDirectoryName(full) is { } folder && !Directory.Exists(folder))
        {
            throw new CliFileException($"Cannot write {path}: the directory {folder} does not exist.", null);
        }
    }

    public static async Task WriteAllBytesAsync(string path, byte[] content, CancellationToken cancellationToken)
    {
        try
        {
            await File.WriteAllBytesAsync(path, content, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliFileException($"Cannot write {path}: {ex.Message}", ex);
        }
    }
}
