namespace ChatWire.Cli;

/// <summary>
/// Everything a CLI run takes from outside the process's code: the standard streams, the environment
/// (<c>XDG_CONFIG_HOME</c>, <c>HOME</c>), how to prompt for a password, and optionally the HTTP transport.
/// <see cref="Program"/> fills it from the console; tests fill it with writers and a temp directory.
/// </summary>
public sealed class CliContext
{
    /// <summary>Standard input: <c>--password-stdin</c> and <c>send CONVERSATION -</c> read it.</summary>
    public required TextReader Stdin { get; init; }

    /// <summary>Standard output: results, one line each (one JSON object per line with <c>--json</c>).</summary>
    public required TextWriter Stdout { get; init; }

    /// <summary>Standard error: usage, prompts, and error sentences without <c>--json</c>.</summary>
    public required TextWriter Stderr { get; init; }

    /// <summary>Environment variables; <c>XDG_CONFIG_HOME</c> and <c>HOME</c> locate the profiles.</summary>
    public required IDictionary<string, string?> Environment { get; init; }

    /// <summary>Whether stdin is a terminal; only then may <see cref="PasswordPrompt"/> be used.</summary>
    public bool StdinIsTerminal { get; init; }

    /// <summary>Reads a password with echo off, given a prompt; <see langword="null"/> when no terminal is available.</summary>
    public Func<string, string?>? PasswordPrompt { get; init; }

    /// <summary>
    /// The HTTP transport for the API calls (not disposed by the CLI); <see langword="null"/> uses a real
    /// <see cref="HttpClient"/>. TCP commands always use real sockets.
    /// </summary>
    public HttpMessageHandler? HttpHandler { get; init; }
}
