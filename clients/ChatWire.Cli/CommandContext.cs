using System.Reflection;
using ChatWire.Client;
using ChatWire.Client.Secure;
using ChatWire.Protocol;

namespace ChatWire.Cli;

// What a command runs with: its arguments, the output, the selected profile and the ways to reach the server.
internal sealed class CommandContext(CliContext io, CommandLine line, IReadOnlyList<string> arguments, CliOutput output, ProfileStore profiles, string profileName, CancellationToken cancellation)
{
    /// <summary>The CLI's version, as its assembly says.</summary>
    public static readonly string Version =
        typeof(CommandContext).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0";

    private static readonly string ClientName = "chatwire-cli/" + Version;

    public CliContext Io { get; } = io;

    public CommandLine Line { get; } = line;

    public IReadOnlyList<string> Arguments { get; } = arguments;

    public CliOutput Output { get; } = output;

    public ProfileStore Profiles { get; } = profiles;

    public string ProfileName { get; } = profileName;

    /// <summary>How to run this CLI as this profile in a hint a person copies: <c>chatwire</c>, with <c>--profile NAME</c> unless default.</summary>
    public string Self => ProfileName == ProfileStore.DefaultProfile ? "chatwire" : $"chatwire --profile {ProfileName}";

    public CancellationToken Cancellation { get; } = cancellation;

    public string? Option(string name) => Line.Value(name);

    public bool Flag(string name) => Line.Has(name);

    public int? IntOption(string name, int min, int max)
    {
        if (Line.Value(name) is not { } text)
        {
            return null;
        }

        if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new CliUsageException($"{name} must be a whole number from {min} to {max}; got \"{text}\".");
        }

        return value;
    }

    public CliProfile RequireLogin()
    {
        var profile = Profiles.Load(ProfileName);
        if (profile is not { SessionToken.Length: > 0, DeviceId: not null })
        {
            throw new CliException(
                ErrorCode.NotAuthenticated,
                $"Not logged in (profile \"{ProfileName}\"); run: {Self} login --server URL --user NAME.");
        }

        return profile;
    }

    public static Uri ParseServer(string server)
    {
        if (!Uri.TryCreate(server, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new CliUsageException($"--server must be an http:// or https:// URL such as http://127.0.0.1:7480; got \"{server}\".");
        }

        return uri;
    }

    public ChatWireApiClient CreateApi(string server, string? sessionToken)
    {
        var baseAddress = ParseServer(server);
        var api = Io.HttpHandler is { } handler
            ? new ChatWireApiClient(baseAddress, handler, disposeHandler: false)
            : new ChatWireApiClient(baseAddress);
        api.SessionToken = sessionToken;
        return api;
    }

    public ChatWireApiClient CreateApi(CliProfile profile) => CreateApi(profile.Server, profile.SessionToken);

    // This device's end-to-end keys live next to the profile, in their own 0700 directory (docs/cli.md, "Encryption").
    public string KeyDirectory => Path.Combine(Profiles.Directory, ProfileName + ".keys");

    // Not held: each command is its own process, and a running `listen` must not lock `send` out of the store.
    public SecureClient CreateSecure(ChatWireApiClient api) => new(api, KeyDirectory, options: new SecureClientOptions { HoldStore = false });

    // Connects to the endpoint server-info announces (docs/cli.md, "Transports"): --transport when given; otherwise
    // Noise when the server has a Noise listener, else TLS when there is one, except on loopback where plain TCP is
    // taken when announced (an untrusted certificate only with --insecure; plain TCP off loopback only with
    // --plaintext). Noise keys are pinned in the profile on first use; a changed key is refused unless
    // --accept-new-server-key; --noise-key pins one explicitly.
    public async Task<(ChatWireConnection Connection, ServerInfo Info)> ConnectAsync(ChatWireApiClient api, CliProfile profile, bool reconnect, ChatWireTransport? transport = null)
    {
        transport ??= TransportOption();
        var explicitKey = NoiseKeyOption();
        var info = await api.GetServerInfoAsync(Cancellation).ConfigureAwait(false);
        ChatWireConnectionOptions announced;
        try
        {
            announced = ChatWireConnectionOptions.FromServerInfo(info, profile.SessionToken!, profile.DeviceId!.Value, transport: transport);
        }
        catch (InvalidOperationException ex)
        {
            throw new CliException(ErrorCode.NotFound, ex.Message + " (GET /v1/server-info)");
        }

        // --insecure and --ca-file are remembered in the profile once they got a connection, so a development
        // server's certificate is accepted (or its CA trusted) without repeating the flag.
        var caFile = Option("--ca-file") ?? profile.CaFile;
        var pins = new ProfileNoisePins(Profiles, ProfileName);
        var options = announced with
        {
            AllowUntrustedCertificate = Flag("--insecure") || profile.Insecure,
            RemoteCertificateValidationCallback = caFile is null ? null : TrustOnly(caFile),
            AllowPlaintext = Flag("--plaintext"),
            ClientName = ClientName,
            Reconnect = reconnect ? ReconnectPolicy.Default : ReconnectPolicy.Disabled,
            NoiseServerKey = explicitKey,
            NoiseKeyPins = pins,
            AcceptChangedNoiseKey = Flag("--accept-new-server-key"),
        };

        // A key server-info may be believed (over HTTPS, or on this machine) saves the first XX: it becomes the pin.
        if (options.Transport == ChatWireTransport.Noise && explicitKey is null && announced.NoiseServerKey is { } believed
            && pins.Find(options.Host, options.Port) is null)
        {
            pins.Save(options.Host, options.Port, believed.Span);
        }

        var connection = await ChatWireConnection.ConnectAsync(options, Cancellation).ConfigureAwait(false);
        if (explicitKey is { } given && options.Transport == ChatWireTransport.Noise)
        {
            // The server proved the given key: it is the profile's pin from now on.
            pins.Save(options.Host, options.Port, given.Span);
        }

        if ((Flag("--insecure") && !profile.Insecure) || (Option("--ca-file") is { } file && file != profile.CaFile))
        {
            var current = Profiles.Load(ProfileName) ?? profile;
            Profiles.Save(ProfileName, current with { Insecure = current.Insecure || Flag("--insecure"), CaFile = caFile });
        }

        return (connection, info);
    }

    // --transport noise|tls|tcp; null when not given.
    public ChatWireTransport? TransportOption() => ParseTransport(Option("--transport"));

    public static ChatWireTransport? ParseTransport(string? text) => text switch
    {
        null => null,
        "noise" => ChatWireTransport.Noise,
        "tls" => ChatWireTransport.Tls,
        "tcp" => ChatWireTransport.Tcp,
        _ => throw new CliUsageException($"--transport must be noise, tls or tcp; got \"{text}\"."),
    };

    private ReadOnlyMemory<byte>? NoiseKeyOption()
    {
        if (Option("--noise-key") is not { } hex)
        {
            return null;
        }

        try
        {
            return NoiseKeys.Parse(hex);
        }
        catch (ArgumentException)
        {
            throw new CliUsageException($"--noise-key must be the server's Noise key, 64 hex digits; got \"{hex}\".");
        }
    }

    // A server certificate is trusted when it chains to the CA in the PEM file and names the host.
    private static System.Net.Security.RemoteCertificateValidationCallback TrustOnly(string caFile)
    {
        System.Security.Cryptography.X509Certificates.X509Certificate2 authority;
        try
        {
            authority = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(File.ReadAllText(caFile));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or System.Security.Cryptography.CryptographicException)
        {
            throw new CliUsageException($"--ca-file: \"{caFile}\" is not a readable PEM certificate ({ex.Message}).");
        }

        return (_, certificate, _, errors) =>
        {
            if (certificate is null || errors.HasFlag(System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch))
            {
                return false;
            }

            using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
            chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(authority);
            chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
            using var leaf = new System.Security.Cryptography.X509Certificates.X509Certificate2(certificate);
            return chain.Build(leaf);
        };
    }

    // --password-stdin reads one line; otherwise a prompt with echo off, on a terminal only.
    public async Task<string> ReadPasswordAsync(bool confirm)
    {
        if (Flag("--password-stdin"))
        {
            var line = await Io.Stdin.ReadLineAsync(Cancellation).ConfigureAwait(false);
            if (string.IsNullOrEmpty(line))
            {
                throw new CliUsageException("--password-stdin: stdin holds no password line.");
            }

            return line;
        }

        if (!Io.StdinIsTerminal || Io.PasswordPrompt is not { } prompt)
        {
            throw new CliUsageException("A password is needed: pass --password-stdin and write it to stdin, or run in a terminal to be prompted.");
        }

        var password = prompt("Password: ");
        if (string.IsNullOrEmpty(password))
        {
            throw new CliUsageException("No password given.");
        }

        if (confirm && prompt("Repeat password: ") != password)
        {
            throw new CliUsageException("The passwords do not match.");
        }

        return password;
    }
}
