using System.Text.Json;
using System.Text.Json.Serialization;
using ChatWire.Crypto;

namespace ChatWire.Client.Secure;

/// <summary>
/// What this device keeps secret and what it has learned to trust, persisted in one file (mode 0600): its
/// device keys and prekey privates, the account key and history keys once it is approved, the account keys it
/// pinned on first use, and its sender chains. Written whole and renamed over the old file, so a crash leaves
/// the old or the new state, never half of one.
/// </summary>
internal sealed class SecureDeviceState
{
    public Guid UserId { get; set; }

    public Guid DeviceId { get; set; }

    public byte[] DeviceSigningPrivate { get; set; } = [];

    public byte[] DeviceDhPrivate { get; set; } = [];

    public long CreatedAtMs { get; set; }

    public uint CertificateVersion { get; set; } = 1;

    /// <summary>The account signing key's private half; null until this device is approved (linked).</summary>
    public byte[]? AccountPrivate { get; set; }

    /// <summary>History key privates by generation; every generation is kept so old history stays readable.</summary>
    public Dictionary<uint, byte[]> HistoryKeys { get; set; } = [];

    /// <summary>Signed prekey privates by id: the current one and the previous, for late initiators.</summary>
    public Dictionary<uint, byte[]> SignedPrekeys { get; set; } = [];

    public uint CurrentSignedPrekeyId { get; set; }

    public Dictionary<uint, byte[]> OneTimePrekeys { get; set; } = [];

    public uint NextOneTimePrekeyId { get; set; } = 1;

    /// <summary>Trust on first use: the account key seen for each user, and the highest device list version.</summary>
    public Dictionary<Guid, PinnedUser> Pins { get; set; } = [];

    [JsonIgnore]
    public bool IsApproved => AccountPrivate is not null;

    public DeviceKeys DeviceKeys() => Crypto.DeviceKeys.FromPrivateKeys(DeviceSigningPrivate, DeviceDhPrivate);

    public AccountSigningKey? AccountKey() => AccountPrivate is null ? null : AccountSigningKey.FromPrivateKey(AccountPrivate);

    public IReadOnlyList<HistoryKey> AllHistoryKeys() =>
        [.. HistoryKeys.OrderBy(pair => pair.Key).Select(pair => HistoryKey.FromPrivateKey(pair.Key, pair.Value))];

    public DeviceCertificate Certificate() => DeviceCertificate.Create(UserId, DeviceId, DeviceKeys(), CreatedAtMs, CertificateVersion);
}

/// <summary>An account key pinned on first use, and what was seen of the user's device list since.</summary>
/// <param name="AccountKey">The account signing public key.</param>
/// <param name="DeviceListVersion">The highest device list version seen (a lower one is a rollback).</param>
/// <param name="Verified">Whether the user compared safety numbers and marked it verified.</param>
internal sealed record PinnedUser(byte[] AccountKey, ulong DeviceListVersion, bool Verified = false);

// One JSON file per device state; see SecureDeviceState for the write discipline.
internal static class SecureDeviceStateFile
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = false,
    };

    public static SecureDeviceState? Load(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        var bytes = File.ReadAllBytes(path);
        return JsonSerializer.Deserialize<SecureDeviceState>(bytes, Options)
            ?? throw new InvalidDataException($"The key file {path} is empty.");
    }

    public static void Save(string path, SecureDeviceState state)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using (var stream = new FileStream(temporary, options))
            {
                JsonSerializer.Serialize(stream, state, Options);

                // Write-ahead for sender chains: the next chain key is on disk before a ciphertext leaves.
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
