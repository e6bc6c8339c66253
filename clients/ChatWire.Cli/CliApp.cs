using System.Net.Sockets;
using System.Security.Authentication;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatWire.Cli.Commands;
using ChatWire.Client;

namespace ChatWire.Cli;

/// <summary>
/// The <c>chatwire</c> command line (docs/cli.md), runnable in-process: tests drive it with their own
/// streams and environment, against a live server, without spawning processes.
/// </summary>
public static class CliApp
{
    /// <summary>Exit status of a command that did its job.</summary>
    public const int ExitOk = 0;

    /// <summary>Exit status of a command that failed (the error is printed).</summary>
    public const int ExitFailed = 1;

    /// <summary>Exit status of a command line that cannot be run as given (usage on stderr).</summary>
    public const int ExitUsage = 2;

    /// <summary>Exit status of a one-shot command interrupted by Ctrl+C or SIGTERM.</summary>
    public const int ExitInterrupted = 130;

    /// <summary>
    /// Runs one command line with the given streams and environment. stdin is not treated as a terminal,
    /// so passwords come only from <c>--password-stdin</c>.
    /// </summary>
    /// <param name="args">The arguments, without the program name.</param>
    /// <param name="stdin">Standard input.</param>
    /// <param name="stdout">Standard output.</param>
    /// <param name="stderr">Standard error.</param>
    /// <param name="environment">Environment variables (<c>XDG_CONFIG_HOME</c>, <c>HOME</c>).</param>
    /// <param name="cancellationToken">Ctrl+C / SIGTERM: stops <c>listen</c> (exit 0) or interrupts other commands.</param>
    /// <returns>The exit status: 0 done, 1 failed, 2 usage error.</returns>
    public static Task<int> RunAsync(
        string[] args,
        TextReader stdin,
        TextWriter stdout,
        TextWriter stderr,
        IDictionary<string, string?> environment,
        CancellationToken cancellationToken = default) =>
        RunAsync(args, new CliContext { Stdin = stdin, Stdout = stdout, Stderr = stderr, Environment = environment }, cancellationToken);

    /// <summary>Runs one command line in <paramref name="context"/>.</summary>
    /// <param name="args">The arguments, without the program name.</param>
    /// <param name="context">Streams, environment, password prompt and HTTP transport.</param>
    /// <param name="cancellationToken">Ctrl+C / SIGTERM: stops <c>listen</c> (exit 0) or interrupts other commands.</param>
    /// <returns>The exit status: 0 done, 1 failed, 2 usage error.</returns>
    public static async Task<int> RunAsync(string[] args, CliContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(context);

        // --json must be known even when parsing fails later, so errors come out in the right shape.
        var json = args.TakeWhile(arg => arg != "--").Contains("--json");
        var output = new CliOutput(context.Stdout, context.Stderr, json);
        try
        {
            var line = CommandLine.Parse(args);
            if (line.Help || line.Words is ["help"] or ["help", ..])
            {
                // "send --help", "help send", "team --help": the verb's own lines; otherwise everything.
                var words = line.Words is ["help", .. var rest] ? rest : line.Words;
                var help = CliUsage.For(words) ?? CliUsage.Text;
                await context.Stdout.WriteLineAsync(help).ConfigureAwait(false);
                await context.Stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
                return ExitOk;
            }

            if (line.Has("--version"))
            {
                await context.Stdout.WriteLineAsync($"chatwire {CommandContext.Version} (protocol {Protocol.ProtocolLimits.CurrentVersion})").ConfigureAwait(false);
                return ExitOk;
            }

            _ = CommandContext.ParseTransport(line.Value("--transport"));
            var (spec, arguments) = CommandTable.Find(line.Words);
            Validate(spec, line, arguments);
            var profileName = line.Value("--profile") ?? ProfileStore.DefaultProfile;
            if (!ProfileStore.IsValidName(profileName))
            {
                throw new CliUsageException($"--profile must be letters, digits, '.', '_' or '-' (at most 64); got \"{profileName}\".");
            }

            var profiles = new ProfileStore(ProfileStore.DefaultDirectory(context.Environment));
            var command = new CommandContext(context, line, arguments, output, profiles, profileName, cancellationToken);
            return await spec.RunAsync(command).ConfigureAwait(false);
        }
        catch (CliUsageException ex)
        {
            // Two lines, not the whole help: what is wrong, and how the verb is used (or where to look).
            var words = WordsOf(args);
            var usage = CliUsage.For(words) ?? CliUsage.Synopsis + Environment.NewLine + "Run chatwire --help for every command.";
            await context.Stderr.WriteLineAsync($"chatwire: {ex.Message}").ConfigureAwait(false);
            await context.Stderr.WriteLineAsync(usage).ConfigureAwait(false);
            await context.Stderr.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            return ExitUsage;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await output.WriteErrorAsync(0, "INTERRUPTED", "Interrupted before the command finished.").ConfigureAwait(false);
            return ExitInterrupted;
        }
        catch (Exception ex) when (KeyChange(ex) is { } change)
        {
            // The loud block goes to stderr whatever the output format: a person must see it.
            var profileName = CommandLine.Parse(args).Value("--profile") ?? ProfileStore.DefaultProfile;
            await context.Stderr.WriteLineAsync(ServerKeyWarning.Text(change, profileName)).ConfigureAwait(false);
            await output.WriteErrorAsync(0, "SERVER_KEY_CHANGED", change.Message, new JsonObject
            {
                ["endpoint"] = Client.NoiseKeys.PinName(change.Host, change.Port),
                ["trusted_key"] = change.TrustedKey,
                ["presented_key"] = change.PresentedKey,
            }).ConfigureAwait(false);
            return ExitFailed;
        }
        catch (Exception ex) when (Describe(ex) is { } error)
        {
            await output.WriteErrorAsync(error.Code, error.Name, error.Message, error.Extra).ConfigureAwait(false);
            return ExitFailed;
        }
    }

    // A refused Noise key, wherever it surfaced (a connect, or the end of listen's event stream).
    private static Client.NoiseServerKeyChangedException? KeyChange(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is Client.NoiseServerKeyChangedException change)
            {
                return change;
            }
        }

        return null;
    }

    // The command's words as parsed (option values are not words); none when the line does not parse.
    private static List<string> WordsOf(string[] args)
    {
        try
        {
            return CommandLine.Parse(args).Words;
        }
        catch (CliUsageException)
        {
            return [];
        }
    }

    private static void Validate(CommandSpec spec, CommandLine line, List<string> arguments)
    {
        foreach (var option in line.Options.Keys)
        {
            if (!CommandLine.GlobalOptions.Contains(option) && !spec.Options.Contains(option))
            {
                throw new CliUsageException($"{spec.Name} does not take {option}.");
            }
        }

        if (arguments.Count < spec.MinArguments)
        {
            throw new CliUsageException(spec.MinArguments == spec.MaxArguments || spec.MaxArguments == CommandSpec.Unbounded
                ? $"{spec.Name} needs {(spec.MaxArguments == CommandSpec.Unbounded ? "at least " : string.Empty)}{spec.MinArguments} argument{(spec.MinArguments == 1 ? string.Empty : "s")}."
                : $"{spec.Name} needs {spec.MinArguments} to {spec.MaxArguments} arguments (see its usage below).");
        }

        if (arguments.Count > spec.MaxArguments)
        {
            throw new CliUsageException(spec.MaxArguments == 0
                ? $"{spec.Name} takes no arguments; got \"{arguments[0]}\"."
                : $"{spec.Name} takes at most {spec.MaxArguments} argument{(spec.MaxArguments == 1 ? string.Empty : "s")}.");
        }
    }

    // The error a failed command reports: the server's code when it gave one; code 0 with a CLI name
    // (CONNECTION_FAILED, FILE_ERROR, BAD_RESPONSE, CLIENT_ERROR) when the failure never reached a server answer.
    private static (int Code, string Name, string Message, JsonObject? Extra)? Describe(Exception ex) => ex switch
    {
        ChatWireException server => ((int)server.Code, server.Name, server.RetryAfter is { } after
            ? $"{server.Message} Retry in {Math.Ceiling(after.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture)} s."
            : server.Message, server.RetryAfter is { } wait
            ? new JsonObject { ["retry_after_seconds"] = Math.Ceiling(wait.TotalSeconds) }
            : null),
        CliException cli => ((int)cli.Code, Protocol.ErrorCodes.Name(cli.Code), cli.Message, cli.Candidates.Count == 0 ? null : new JsonObject
        {
            ["candidates"] = new JsonArray([.. cli.Candidates.Select(candidate => (JsonNode?)new JsonObject
            {
                ["id"] = candidate.Id.ToString("D"),
                ["name"] = candidate.Name,
                ["detail"] = candidate.Detail,
            })]),
        }),
        CliFileException file => (0, "FILE_ERROR", file.Message, null),
        AuthenticationException or IOException or HttpRequestException when Flatten(ex).Contains("Untrusted", StringComparison.OrdinalIgnoreCase)
            || Flatten(ex).Contains("RemoteCertificate", StringComparison.OrdinalIgnoreCase)
            => (0, "CONNECTION_FAILED", Flatten(ex) + " The server's TLS certificate is not trusted here: for a development server (its own self-signed certificate) add --insecure; for a private CA, --ca-file CA.pem. Either is saved in the profile.", null),
        HttpRequestException or IOException or SocketException or TimeoutException or AuthenticationException
            => (0, "CONNECTION_FAILED", Flatten(ex), null),
        Client.Secure.SecureMessagingException secure => (0, "E2E_" + secure.Failure switch
        {
            Client.Secure.SecureFailure.NoKeys => "NO_KEYS",
            Client.Secure.SecureFailure.NotApproved => "NOT_APPROVED",
            Client.Secure.SecureFailure.BadSignature => "BAD_SIGNATURE",
            Client.Secure.SecureFailure.KeyChanged => "KEY_CHANGED",
            Client.Secure.SecureFailure.LinkCodeMismatch => "LINK_CODE_MISMATCH",
            Client.Secure.SecureFailure.DistributionRefused => "DISTRIBUTION_REFUSED",
            Client.Secure.SecureFailure.AttachmentMismatch => "ATTACHMENT_MISMATCH",
            Client.Secure.SecureFailure.RecoveryKeyMismatch => "RECOVERY_KEY_MISMATCH",
            Client.Secure.SecureFailure.SafetyNumberMismatch => "SAFETY_NUMBER_MISMATCH",
            _ => "FAILED",
        }, secure.Message, null),
        JsonException or InvalidDataException => (0, "BAD_RESPONSE", "The server's answer was not understood: " + ex.Message, null),

        // Not the caller's cancellation (that is handled above): an HTTP timeout.
        OperationCanceledException => (0, "CONNECTION_FAILED", "The server did not answer in time.", null),
        _ => (0, "CLIENT_ERROR", Flatten(ex), null),
    };

    private static string Flatten(Exception ex)
    {
        var message = ex.Message;
        for (var inner = ex.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (!message.Contains(inner.Message, StringComparison.Ordinal))
            {
                message += " " + inner.Message;
            }
        }

        return message;
    }
}
