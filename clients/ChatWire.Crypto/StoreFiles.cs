using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ChatWire.Crypto;

/// <summary>
/// Durable file replacement for the key store: write a temporary file, flush it to disk, rename it over the old one,
/// then flush the directory so the rename itself survives a power cut. Only then does the caller go on (write-ahead).
/// </summary>
internal static partial class StoreFiles
{
    // Private keys live in these files: owner read/write only (the mode is ignored on Windows).
    private static readonly FileStreamOptions CreateOptions = OperatingSystem.IsWindows()
        ? new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None }
        : new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite };

    public static void WriteAtomically<T>(string path, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
    {
        var directory = Path.GetDirectoryName(path)!;
        var temporary = path + ".tmp";
        File.Delete(temporary);
        using (var stream = new FileStream(temporary, CreateOptions))
        {
            JsonSerializer.Serialize(stream, value, typeInfo);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
        FlushDirectory(directory);
    }

    /// <summary>Creates <paramref name="path"/> readable by the owner only (it holds private keys).</summary>
    public static void CreatePrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    public static T? Read<T>(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
        where T : class
    {
        if (!File.Exists(path))
        {
            return null;
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return JsonSerializer.Deserialize(stream, typeInfo)
            ?? throw new InvalidDataException($"The key store file {path} is empty.");
    }

    public static void Delete(string path)
    {
        if (File.Exists(path))
        {
            File.Delete(path);
            FlushDirectory(Path.GetDirectoryName(path)!);
        }
    }

    // .NET cannot open a directory as a file, so fsync(2) goes through libc. Windows (NTFS journals the rename) skips it.
    private static void FlushDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var descriptor = Open(directory, 0);
        if (descriptor < 0)
        {
            throw new IOException($"Cannot open {directory} to flush it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (Fsync(descriptor) != 0)
            {
                throw new IOException($"Cannot flush {directory} (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = Close(descriptor);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int descriptor);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int descriptor);
}

/// <summary>The device's long-lived keys as the key store keeps them (identity.json).</summary>
internal sealed class IdentityState
{
    public int FormatVersion { get; set; } = 1;
    public Guid UserId { get; set; }
    public Guid DeviceId { get; set; }
    public byte[] DeviceSigningPrivateKey { get; set; } = [];
    public byte[] DeviceDhPrivateKey { get; set; } = [];
    public long CreatedAtMs { get; set; }
    public uint CertificateVersion { get; set; }
    public byte[]? AccountSignature { get; set; }
    public byte[]? AccountSigningPrivateKey { get; set; }
    public List<HistoryKeyState> HistoryKeys { get; set; } = [];
    public List<SignedPrekeyState> SignedPrekeys { get; set; } = [];
    public List<OneTimePrekeyState> OneTimePrekeys { get; set; } = [];
    public uint NextPrekeyId { get; set; } = 1;
    public Dictionary<Guid, ulong> DeviceListVersions { get; set; } = [];
    public Dictionary<Guid, AccountKeyState> AccountKeys { get; set; } = [];
}

internal sealed record AccountKeyState(byte[] PublicKey, bool Verified);

internal sealed record HistoryKeyState(uint Generation, byte[] PrivateKey);

internal sealed record SignedPrekeyState(uint PrekeyId, byte[] PrivateKey, byte[] PublicKey, byte[] Signature, long CreatedAtMs);

internal sealed record OneTimePrekeyState(uint PrekeyId, byte[] PrivateKey);

[JsonSourceGenerationOptions(WriteIndented = false)]
[JsonSerializable(typeof(IdentityState))]
[JsonSerializable(typeof(OutboundChain))]
[JsonSerializable(typeof(InboundChain))]
[JsonSerializable(typeof(EpochSecretState))]
internal sealed partial class StoreJsonContext : JsonSerializerContext;
