namespace ChatWire.Cli;

// Hand-written parsing: words (command and positional arguments) in order, and --options anywhere,
// either "--name value" or "--name=value". "--" ends the options. Single-dash words other than -h are
// positional, so a message may start with "-".
internal sealed class CommandLine
{
    public static readonly IReadOnlySet<string> GlobalOptions = new HashSet<string>(StringComparer.Ordinal)
    {
        "--profile", "--json", "--help", "--insecure", "--plaintext", "--version", "--ca-file",
        "--transport", "--noise-key", "--accept-new-server-key",
    };

    private static readonly HashSet<string> ValuedOptions = new(StringComparer.Ordinal)
    {
        "--profile", "--server", "--user", "--display-name", "--device-name", "--prefix", "--limit", "--message-id", "--before", "--ca-file", "--file", "--out", "--management", "--after", "--transport", "--noise-key", "--confirm", "--timeout",
    };

    private static readonly HashSet<string> FlagOptions = new(StringComparer.Ordinal)
    {
        "--json", "--help", "--insecure", "--plaintext", "--password-stdin", "--private", "--all", "--version", "--skip-muted", "--yes", "--plaintext-content", "--thumbnail", "--force", "--recovery-key-stdin", "--accept-new-server-key", "--clear",
    };

    private CommandLine()
    {
    }

    public List<string> Words { get; } = [];

    public Dictionary<string, string?> Options { get; } = new(StringComparer.Ordinal);

    public bool Json => Has("--json");

    /// <summary>Whether the parser accepts <paramref name="name"/> (with a value or as a flag).</summary>
    public static bool IsKnownOption(string name) => ValuedOptions.Contains(name) || FlagOptions.Contains(name);

    public bool Help => Has("--help");

    public static CommandLine Parse(IReadOnlyList<string> args)
    {
        var line = new CommandLine();
        var positionalOnly = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (positionalOnly || arg.Length < 2 || arg[0] != '-')
            {
                line.Words.Add(arg);
                continue;
            }

            if (arg == "--")
            {
                positionalOnly = true;
                continue;
            }

            if (arg == "-h")
            {
                line.Options["--help"] = null;
                continue;
            }

            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                line.Words.Add(arg);
                continue;
            }

            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? arg : arg[..equals];
            var inline = equals < 0 ? null : arg[(equals + 1)..];
            if (ValuedOptions.Contains(name))
            {
                if (inline is null)
                {
                    if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    {
                        throw new CliUsageException($"{name} needs a value.");
                    }

                    inline = args[++i];
                }

                line.Options[name] = inline;
            }
            else if (FlagOptions.Contains(name))
            {
                if (inline is not null)
                {
                    throw new CliUsageException($"{name} takes no value.");
                }

                line.Options[name] = null;
            }
            else
            {
                throw new CliUsageException($"Unknown option {name}.");
            }
        }

        return line;
    }

    public bool Has(string option) => Options.ContainsKey(option);

    public string? Value(string option) => Options.TryGetValue(option, out var value) ? value : null;
}
