using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using ChatWire.Protocol.Noise;

namespace ChatWire.Gateway.Noise;

/// <summary>
/// The Noise listener's static key pairs: the current one; after a rotation the previous one, still accepted
/// from IK clients until <see cref="PreviousAcceptedUntil"/> (they are told the current key inside the handshake);
/// and a staged next one (<c>--stage-noise-key</c>), accepted from IK clients before it becomes current, so that
/// during a rolling restart after the rotation a client that already learnt the new key may reach a node that has
/// not restarted yet. Kept in one JSON file (mode 0600): generated on first start, rotated by
/// <c>ChatWire.Gateway --rotate-noise-key</c> (which promotes a staged key when there is one). Every node of a
/// cluster must hold the same file, since clients pin one key per service.
/// </summary>
internal sealed class NoiseServerKeys : IDisposable
{
    public const string DefaultFileName = "noise-key.json";

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    private NoiseServerKeys(NoiseKeyPair current, NoiseKeyPair? previous, DateTimeOffset? previousAcceptedUntil, NoiseKeyPair? next, string path)
    {
        Current = current;
        Previous = previous;
        Next = next;
        PreviousAcceptedUntil = previousAcceptedUntil;
        Path = path;
    }

    public NoiseKeyPair Current { get; }

    /// <summary>The key in use before the last rotation; null when there was none or its grace period has ended.</summary>
    public NoiseKeyPair? Previous { get; }

    public DateTimeOffset? PreviousAcceptedUntil { get; }

    /// <summary>The key staged to become current at the next rotation; null when none is staged.</summary>
    public NoiseKeyPair? Next { get; }

    public string Path { get; }

    /// <summary>The current public key as lowercase hex (what server-info shows and the start-up log prints).</summary>
    public string CurrentPublicKeyHex => Convert.ToHexStringLower(Current.PublicKey);

    /// <summary>Whether the previous key is still accepted at <paramref name="now"/>.</summary>
    public bool AcceptsPrevious(DateTimeOffset now) => Previous is not null && now < PreviousAcceptedUntil;

    /// <summary>The file at <paramref name="path"/>, made with a new key pair when missing.</summary>
    public static NoiseServerKeys LoadOrCreate(string path, TimeSpan previousAccepted, out bool created)
    {
        created = false;
        var file = File.Exists(path) ? Read(path) : null;
        if (file is null)
        {
            using var generated = NoiseKeyPair.Generate();
            file = new KeyFile(1, new StoredKey(generated.PrivateKey.ToArray(), DateTimeOffset.UtcNow), null, null);
            Write(path, file);
            created = true;
        }

        var current = NoiseKeyPair.FromPrivateKey(file.Current.PrivateKey);
        var previous = file.Previous is { } p ? NoiseKeyPair.FromPrivateKey(p.PrivateKey) : null;
        var next = file.Next is { } n ? NoiseKeyPair.FromPrivateKey(n.PrivateKey) : null;

        // The previous key's grace runs from the rotation, which is when the current key became current.
        DateTimeOffset? until = previous is null ? null : file.Current.CreatedAt + previousAccepted;
        return new NoiseServerKeys(current, previous, until, next, path);
    }

    /// <summary>
    /// Makes the staged key current, or a new one when none is staged, and keeps the old current one as previous
    /// (dropping an older previous); the new current public key, and whether it was the staged one.
    /// </summary>
    public static (byte[] PublicKey, bool WasStaged) Rotate(string path)
    {
        var file = File.Exists(path) ? Read(path) : null;
        var now = DateTimeOffset.UtcNow;
        if (file?.Next is { } staged)
        {
            // Its grace for the old key runs from now, when it becomes current, not from when it was staged.
            Write(path, new KeyFile(1, staged with { CreatedAt = now }, file.Current, null));
            using var promoted = NoiseKeyPair.FromPrivateKey(staged.PrivateKey);
            return (promoted.PublicKey.ToArray(), true);
        }

        using var generated = NoiseKeyPair.Generate();
        Write(path, new KeyFile(1, new StoredKey(generated.PrivateKey.ToArray(), now), file?.Current, null));
        return (generated.PublicKey.ToArray(), false);
    }

    /// <summary>
    /// Makes a new key and stages it as the next one (replacing a key staged before): accepted from IK clients at the
    /// nodes' next start, current at the next <see cref="Rotate"/>. The staged public key, and the one it replaced.
    /// </summary>
    public static (byte[] PublicKey, byte[]? Replaced) Stage(string path)
    {
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"There is no Noise key file at {path} to stage a next key in: start the gateway once (it makes one), or point Gateway:NoiseKeyPath at the file.");
        }

        var file = Read(path);
        byte[]? replaced = null;
        if (file.Next is { } old)
        {
            using var oldPair = NoiseKeyPair.FromPrivateKey(old.PrivateKey);
            replaced = oldPair.PublicKey.ToArray();
        }

        using var generated = NoiseKeyPair.Generate();
        Write(path, file with { Next = new StoredKey(generated.PrivateKey.ToArray(), DateTimeOffset.UtcNow) });
        return (generated.PublicKey.ToArray(), replaced);
    }

    private static KeyFile Read(string path)
    {
        KeyFile? file;
        try
        {
            file = JsonSerializer.Deserialize<KeyFile>(File.ReadAllBytes(path), Json);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The Noise key file {path} is not valid JSON ({ex.Message}). Restore it from a backup; deleting it makes a new key, which every client that pinned the old one will refuse.", ex);
        }

        if (file is not { Version: 1, Current.PrivateKey.Length: NoiseKeyPair.KeySize }
            || file.Previous is { PrivateKey.Length: not NoiseKeyPair.KeySize } || file.Next is { PrivateKey.Length: not NoiseKeyPair.KeySize })
        {
            throw new InvalidDataException($"The Noise key file {path} is not a version 1 key file with 32-byte keys. Restore it from a backup; deleting it makes a new key, which every client that pinned the old one will refuse.");
        }

        return file;
    }

    // Written whole to a temporary file in the same directory (0600 from the start), then renamed over the old one,
    // so a crash leaves either file, never half of one.
    private static void Write(string path, KeyFile file)
    {
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = System.IO.Path.Combine(directory, "." + System.IO.Path.GetFileName(path) + "." + Guid.NewGuid().ToString("N") + ".tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        var bytes = JsonSerializer.SerializeToUtf8Bytes(file, Json);
        try
        {
            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
            File.Delete(temporary);
        }
    }

    public void Dispose()
    {
        Current.Dispose();
        Previous?.Dispose();
        Next?.Dispose();
    }

    // Next is absent from files written before staging existed, and from files with nothing staged.
    private sealed record KeyFile(int Version, StoredKey Current, StoredKey? Previous, StoredKey? Next);

    private sealed record StoredKey(
        [property: JsonConverter(typeof(Base64Bytes))] byte[] PrivateKey,
        DateTimeOffset CreatedAt);

    // Private keys as standard base64 (System.Text.Json's default for byte[]; explicit so the file format is fixed).
    private sealed class Base64Bytes : JsonConverter<byte[]>
    {
        public override byte[] Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.GetBytesFromBase64();

        public override void Write(Utf8JsonWriter writer, byte[] value, JsonSerializerOptions options) => writer.WriteBase64StringValue(value);
    }
}
