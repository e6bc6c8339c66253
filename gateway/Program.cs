using ChatWire.Gateway.Hosting;
using Microsoft.Extensions.Options;

// Exit codes: 0 stopped normally, 2 could not start (configuration, a port in use), 3 a listener failed.
if (args.Any(a => a is "--help" or "-h"))
{
    Console.WriteLine("""
        ChatWire gateway: the team-chat server.

        usage: dotnet run --project gateway [-- --Section:Key=value ...]
               ChatWire.Gateway [--Section:Key=value ...]

        With no settings it runs on embedded defaults: SQLite, a development certificate and a Noise key under
        ./data, TCP 7400, TLS 7443, Noise 7401, HTTP 7480 and management 127.0.0.1:7481, all on loopback. Settings come from
        appsettings.json next to the binary, CHATWIRE_Section__Key environment variables and --Section:Key=value
        arguments; docs/configuration.md lists them all.

          --help      this text
          --version   the version
          --rotate-noise-key
                      make a new Noise static key (the old one stays accepted for
                      Gateway:NoisePreviousKeyAcceptedDays), print it, and exit

        Exit codes: 0 stopped on request; 2 the configuration is invalid or a port is in use;
        3 a listener failed while running (restart the server).
        """);
    return 0;
}

if (args.Any(a => a is "--version"))
{
    Console.WriteLine("ChatWire " + (typeof(ChatWireServer).Assembly.GetName().Version?.ToString(3) ?? "0.0.0") + ", protocol version 1");
    return 0;
}

if (args.Any(a => a is "--rotate-noise-key"))
{
    string path, publicKey;
    try
    {
        (path, publicKey) = ChatWireServer.RotateNoiseKey([.. args.Where(a => a is not "--rotate-noise-key")]);
    }
    catch (InvalidDataException ex)
    {
        Console.Error.WriteLine("ChatWire cannot rotate the Noise key: " + ex.Message);
        return 2;
    }

    Console.WriteLine($"New Noise static public key: {publicKey}");
    Console.WriteLine($"Written to {path}; the previous key stays accepted from IK clients for Gateway:NoisePreviousKeyAcceptedDays after this.");
    Console.WriteLine("Restart the gateway (every node, with this same file) for it to take effect.");
    return 0;
}

try
{
    await using var server = await ChatWireServer.CreateAsync(args);
    await server.RunAsync();
    return server.ExitCode;
}
catch (OptionsValidationException ex)
{
    Console.Error.WriteLine("ChatWire cannot start: the configuration is invalid.");
    foreach (var failure in ex.Failures)
    {
        Console.Error.WriteLine("  - " + failure);
    }

    return 2;
}
catch (InvalidDataException ex)
{
    // The Noise key file (or another file the server reads at start) is damaged: say which, do not guess.
    Console.Error.WriteLine("ChatWire cannot start: " + ex.Message);
    return 2;
}
catch (IOException ex) when (ex.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
{
    Console.Error.WriteLine("ChatWire cannot start: " + ex.Message + " Another process holds that port; choose another in docs/configuration.md's Gateway:*Endpoint settings.");
    return 2;
}
