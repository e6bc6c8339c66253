using System.Collections;
using System.Runtime.InteropServices;
using ChatWire.Cli;

using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // Inside a password prompt the default (ending the process) is the only way out of ReadKey.
    if (!ConsolePasswordPrompt.IsActive)
    {
        e.Cancel = true;
        cancellation.Cancel();
    }
};
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    cancellation.Cancel();
});

var environment = new Dictionary<string, string?>(StringComparer.Ordinal);
foreach (DictionaryEntry variable in Environment.GetEnvironmentVariables())
{
    environment[(string)variable.Key] = variable.Value as string;
}

var context = new CliContext
{
    Stdin = Console.In,
    Stdout = Console.Out,
    Stderr = Console.Error,
    Environment = environment,
    StdinIsTerminal = !Console.IsInputRedirected,
    PasswordPrompt = ConsolePasswordPrompt.Read,
};
return await CliApp.RunAsync(args, context, cancellation.Token);
