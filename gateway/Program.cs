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
          --stage-noise-key
                      make the next Noise static key and stage it: nodes accept it from
                      IK clients once restarted with the file; print it, and exit
          --rotate-noise-key
                      make the staged key (else a new one) current; the old one stays
                      accepted for Gateway:NoisePreviousKeyAcceptedDays; print it, and exit

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

if (args.Any(a => a is "--rotate-noise-key" or "--stage-noise-key"))
{
    var staging = args.Contains("--stage-noise-key");
    var settings = args.Where(a => a is not "--rotate-noise-key" and not "--stage-noise-key").ToArray();
    try
    {
        if (staging)
        {
            var (path, publicKey, replaced) = ChatWireServer.StageNoiseKey(settings);
            Console.WriteLine($"Next Noise static public key: {publicKey}");
            if (replaced is not null)
            {
                Console.WriteLine($"It replaces the key staged before, {replaced}.");
            }

            Console.WriteLine($"Written to {path}. Put this file on every node and restart them one at a time: they then accept it from");
            Console.WriteLine("IK clients while the current key stays current. Publish it to your users; then --rotate-noise-key makes it current.");
        }
        else
        {
            var (path, publicKey, wasStaged) = ChatWireServer.RotateNoiseKey(settings);
            Console.WriteLine($"New Noise static public key: {publicKey}{(wasStaged ? " (the staged one)" : string.Empty)}");
            Console.WriteLine($"Written to {path}; the previous key stays accepted from IK clients for Gateway:NoisePreviousKeyAcceptedDays after this.");
            Console.WriteLine("Restart the gateway (every node, with this same file) for it to take effect.");
        }
    }
    catch (InvalidDataException ex)
    {
        Console.Error.WriteLine($"ChatWire cannot {(staging ? "stage" : "rotate")} the Noise key: " + ex.Message);
        return 2;
    }

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
