using System.Text.Json;

namespace ChatWire.Client.Secure;

/// <summary>An account key pinned on first use, and what was seen of the user's device list since.</summary>
/// <param name="AccountKey">The account signing public key.</param>
/// <param name="DeviceListVersion">The highest device list version seen (a lower one is a rollback).</param>
/// <param name="Verified">Whether this user's key counts as verified (my own account, or compared safety numbers).</param>
internal sealed record PinnedUser(byte[] AccountKey, ulong DeviceListVersion, bool Verified = false);

/// <summary>
/// What this device learned to trust, next to the crypto library's key store (same directory, written while the
/// store's lock is held): the account key of every user seen, pinned on first use (E2E.md §1).
/// </summary>
internal sealed class TrustState
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public Dictionary<Guid, PinnedUser> Pins { get; set; } = [];

    public static TrustState Load(string path) =>
        File.Exists(path) ? JsonSerializer.Deserialize<TrustState>(File.ReadAllBytes(path), Options) ?? new TrustState() : new TrustState();

    public void Save(string path)
    {
        var temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using (var stream = new FileStream(temporary, options))
            {
                JsonSerializer.Serialize(stream, this, Options);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }
}
