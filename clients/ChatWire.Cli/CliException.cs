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
