using ChatWire.Gateway.Hosting;
using Microsoft.Extensions.Options;

try
{
    await using var server = await ChatWireServer.CreateAsync(args);
    await server.RunAsync();
    return 0;
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
