using ChatWire.Client;

namespace ChatWire.Cli;

// The block printed to stderr when a Noise server proves a key other than the pinned one: loud on purpose, like
// ssh's, because the usual cause is harmless (a reinstalled server) and people learn to skip short warnings.
internal static class ServerKeyWarning
{
    private const string Bar = "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@";

    public static string Text(NoiseServerKeyChangedException change, string profileName)
    {
        var endpoint = NoiseKeys.PinName(change.Host, change.Port);
        var trusted = change.IsExplicitPin ? "the key given with --noise-key" : $"the key pinned in profile \"{profileName}\"";
        var accept = change.IsExplicitPin
            ? "If the presented key is right, pass it to --noise-key instead."
            : "If the presented key is right, accept it for this profile from now on with:\n"
                + $"  chatwire --profile {profileName} server-key --accept-new-server-key\n"
                + $"or pin it explicitly: chatwire --profile {profileName} server-key --noise-key {change.PresentedKey}";
        return string.Join('\n',
            Bar,
            "@    WARNING: THE CHATWIRE SERVER'S NOISE KEY HAS CHANGED!              @",
            Bar,
            $"The Noise server at {endpoint} proved a key other than {trusted}.",
            "Someone could be posing as the server (a man-in-the-middle attack), or the",
            "server's key was replaced (reinstalled, its data directory lost or reset).",
            "Nothing was sent to it: no session token, no message.",
            $"  trusted key:   {change.TrustedKey}",
            $"  presented key: {change.PresentedKey}",
            "Ask the server's operator for its key (the gateway logs it at start; GET",
            "/v1/server-info over HTTPS shows it as noise_static_public_key) and compare.",
            accept,
            Bar);
    }
}
