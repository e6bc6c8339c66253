using System.Text.Json;
using System.Text.RegularExpressions;

namespace ChatWire.Cli;

/// <summary>What signup and login remember: the server and this device's session (docs/cli.md, "Profiles").</summary>
/// <param name="Server">The API base URL, e.g. <c>http://127.0.0.1:7480</c>.</param>
/// <param name="UserId">The logged-in user; null after logout.</param>
/// <param name="Username">The username.</param>
/// <param name="DeviceId">This device; null after logout.</param>
/// <param name="SessionToken">The device's session token; null after logout.</param>
/// <param name="Insecure">Accept the server's untrusted TLS certificate (saved once <c>--insecure</c> connected).</param>
/// <param name="CaFile">A PEM file of the certificate authority to trust for the server (saved once <c>--ca-file</c> connected).</param>
/// <param name="NoisePins">The Noise server keys trusted, <c>host:port</c> to 64 hex digits (pinned on first use, by <c>--noise-key</c>, or moved by a rotation).</param>
internal sealed record CliProfile(string Server, Guid? UserId, string? Username, Guid? DeviceId, string? SessionToken, bool Insecure = false, string? CaFile = null, IReadOnlyDictionary<string, string>? NoisePins = null);

// One JSON file per profile under $XDG_CONFIG_HOME/chatwire (default ~/.config/chatwire), mode 0600
// because it holds a session token; the directory is 0700.
internal sealed partial class ProfileStore(string directory)
{
    public const string DefaultProfile = "default";

    private static readonly JsonSerializerOptions FileOptions = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
    };

    public string Directory { get; } = directory;

    public static string DefaultDirectory(IDictionary<string, string?> environment)
    {
        // XDG Base Directory: a relative XDG_CONFIG_HOME is invalid and must be ignored.
        if (environment.TryGetValue("XDG_CONFIG_HOME", out var xdg) && !string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg))
        {
            return Path.Combine(xdg, "chatwire");
        }

        var home = environment.TryGetValue("HOME", out var value) && !string.IsNullOrEmpty(value)
            ? value
            : System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile);
        return Path.Combine(home, ".config", "chatwire");
    }

    public static bool IsValidName(string name) => ProfileName().IsMatch(name);

    public string PathFor(string profile) => Path.Combine(Directory, profile + ".json");

    public CliProfile? Load(string profile)
    {
        var path = PathFor(profile);
        if (!File.Exists(path))
        {
            return null;
        }

        using var stream = File.OpenRead(path);
        return JsonSerializer.Deserialize<CliProfile>(stream, FileOptions)
            ?? throw new InvalidDataException($"The profile file {path} is empty.");
    }

    public void Save(string profile, CliProfile value)
    {
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(Directory);
        }
        else
        {
            System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        // Write a new 0600 file and rename it over the old one: readers never see half a file, and the
        // mode never depends on the umask or on an older file's mode.
        var path = PathFor(profile);
        var temporary = Path.Combine(Directory, $".{profile}.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using (var stream = new FileStream(temporary, options))
            {
                JsonSerializer.Serialize(stream, value, FileOptions);
                stream.Flush(flushToDisk: true);
            }

            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex ProfileName();
}
