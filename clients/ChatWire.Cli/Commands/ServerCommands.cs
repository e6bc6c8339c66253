using System.Text.Json.Nodes;
using ChatWire.Client;
using ChatWire.Protocol;

namespace ChatWire.Cli.Commands;

// What the CLI knows about the server's transport keys (docs/cli.md, "Transports").
internal static class ServerCommands
{
    // Connects over Noise, which checks the server's key against the profile's pin (or pins it on first use; with
    // --accept-new-server-key takes a changed one, with --noise-key the given one), and shows the key it trusts now.
    public static async Task<int> ServerKeyAsync(CommandContext context)
    {
        if (context.TransportOption() is { } asked && asked != ChatWireTransport.Noise)
        {
            throw new CliUsageException("server-key speaks Noise; --transport must be noise or left out.");
        }

        var profile = context.RequireLogin();
        using var api = context.CreateApi(profile);
        var (connection, info) = await context.ConnectAsync(api, profile, reconnect: false, ChatWireTransport.Noise).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var endpoint = NoiseKeys.PinName(connection.CurrentEndpoint.Host, connection.CurrentEndpoint.Port);
            var key = connection.NoiseServerKey is { } proven
                ? NoiseKeys.ToHex(proven.Span)
                : throw new CliException(ErrorCode.NotFound, "The connection did not run Noise.");
            var announced = info.NoiseStaticPublicKey;
            await context.Output.WriteAsync(
                new JsonObject
                {
                    ["endpoint"] = endpoint,
                    ["transport"] = "noise",
                    ["pattern"] = connection.NoisePattern?.ToString(),
                    ["key"] = key,
                    ["announced_key"] = announced,
                    ["pinned"] = true,
                },
                $"Noise server {endpoint}: key {key} (pinned in profile \"{context.ProfileName}\"; handshake {connection.NoisePattern})"
                    + (announced is not null && !string.Equals(announced, key, StringComparison.OrdinalIgnoreCase)
                        ? $"\nserver-info announces {announced}: a rotation in progress, or server-info is not this server's."
                        : string.Empty)).ConfigureAwait(false);
        }

        return 0;
    }
}
