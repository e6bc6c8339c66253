using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace ChatWire.Storage.Blobs;

/// <summary>
/// The embedded blob store: one file per key in a directory of the data directory (owner-only), written to a
/// temporary file and renamed into place, so a reader never sees half an object. Clients reach it through the
/// gateway's <c>/v1/blobs/{key}?token=…</c> endpoints: the token is an HMAC-SHA256, under a secret kept in the
/// directory, over the method, key, expiry and (uploads) size, so it grants one operation on one key until then.
/// Keys are write-once: an upload to a key that holds an object is refused.
/// </summary>
public sealed class LocalBlobStore : IBlobStore
{
    /// <summary>Where the gateway serves the blobs, relative to the API's base address.</summary>
    public const string RoutePrefix = "v1/blobs/";

    private const string SecretFileName = ".token-key";
    /// <summary>Uploads in progress are written under this prefix, then renamed into place.</summary>
    public const string TemporaryPrefix = ".upload-";
    private const int MacLength = 32;
    private const int TokenLength = 8 + 8 + MacLength;

    /// <summary>A token's length in a URL: its <see cref="TokenLength"/> bytes in base64url.</summary>
    public const int TokenTextLength = 64;

    private readonly byte[] _secret;
    private readonly TimeProvider _time;

    private LocalBlobStore(string root, byte[] secret, TimeProvider time)
    {
        Root = root;
        _secret = secret;
        _time = time;
    }

    /// <summary>The directory holding the objects.</summary>
    public string Root { get; }

    /// <summary>Opens (creating, owner-only) the store in <paramref name="directory"/>, with its token secret.</summary>
    public static LocalBlobStore Open(string directory, TimeProvider? time = null)
    {
        var root = Path.GetFullPath(directory);
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(root);
        }
        else
        {
            System.IO.Directory.CreateDirectory(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        // Uploads a crash interrupted: never renamed into place, so nothing refers to them.
        foreach (var stale in System.IO.Directory.EnumerateFiles(root, TemporaryPrefix + "*"))
        {
            File.Delete(stale);
        }

        return new LocalBlobStore(root, LoadSecret(Path.Combine(root, SecretFileName)), time ?? TimeProvider.System);
    }

    public Task<BlobUploadGrant> CreateUploadGrantAsync(string key, long size, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        CheckKey(key);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        var url = new Uri($"{RoutePrefix}{key}?token={Token("PUT", key, expiresAt, size)}", UriKind.Relative);
        var headers = new Dictionary<string, string> { ["Content-Type"] = "application/octet-stream" };
        return Task.FromResult(new BlobUploadGrant("PUT", url, headers, new Dictionary<string, string>(), expiresAt));
    }

    public Task<BlobInfo?> GetInfoAsync(string key, CancellationToken cancellationToken = default)
    {
        CheckKey(key);
        var file = new FileInfo(PathOf(key));
        return Task.FromResult(file.Exists ? new BlobInfo(file.Length, new DateTimeOffset(file.LastWriteTimeUtc, TimeSpan.Zero)) : null);
    }

    public Task<Uri> CreateDownloadUrlAsync(string key, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        CheckKey(key);
        return Task.FromResult(new Uri($"{RoutePrefix}{key}?token={Token("GET", key, expiresAt, 0)}", UriKind.Relative));
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        CheckKey(key);
        File.Delete(PathOf(key));
        return Task.CompletedTask;
    }

    /// <summary>
    /// Checks a token from a <c>/v1/blobs</c> request: made by this store for <paramref name="method"/> on
    /// <paramref name="key"/> and not expired. <paramref name="size"/> is the upload size it grants.
    /// </summary>
    public BlobTokenCheck CheckToken(string key, string method, string? token, out long size)
    {
        size = 0;
        Span<byte> bytes = stackalloc byte[TokenLength];
        if (!BlobUploads.IsValidKey(key) || token is null || token.Length != TokenTextLength
            || !Convert.TryFromBase64Chars(token.Replace('-', '+').Replace('_', '/'), bytes, out var written) || written != TokenLength)
        {
            return BlobTokenCheck.Invalid;
        }

        var expiresMs = BinaryPrimitives.ReadInt64BigEndian(bytes);
        var granted = BinaryPrimitives.ReadInt64BigEndian(bytes[8..]);
        Span<byte> expected = stackalloc byte[MacLength];
        Mac(method, key, expiresMs, granted, expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, bytes[16..]))
        {
            return BlobTokenCheck.Invalid;
        }

        if (_time.GetUtcNow().ToUnixTimeMilliseconds() > expiresMs)
        {
            return BlobTokenCheck.Expired;
        }

        size = granted;
        return BlobTokenCheck.Valid;
    }

    /// <summary>
    /// Stores <paramref name="body"/> under <paramref name="key"/>: at most <paramref name="maxSize"/> bytes (a longer
    /// body is refused and nothing is kept), never over an object already there.
    /// </summary>
    public async Task<BlobWriteResult> WriteAsync(string key, long maxSize, Stream body, CancellationToken cancellationToken = default)
    {
        CheckKey(key);
        ArgumentNullException.ThrowIfNull(body);
        var target = PathOf(key);
        if (File.Exists(target))
        {
            return BlobWriteResult.AlreadyExists;
        }

        var temporary = Path.Combine(Root, TemporaryPrefix + Guid.NewGuid().ToString("N"));
        try
        {
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, useAsync: true))
            {
                var buffer = new byte[64 * 1024];
                long total = 0;
                int read;
                while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    total += read;
                    if (total > maxSize)
                    {
                        return BlobWriteResult.TooLong;
                    }

                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }

                await file.FlushAsync(cancellationToken);
                file.Flush(flushToDisk: true);
            }

            try
            {
                File.Move(temporary, target, overwrite: false);
            }
            catch (IOException) when (File.Exists(target))
            {
                return BlobWriteResult.AlreadyExists;
            }

            return BlobWriteResult.Stored;
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>The object's bytes, or null when there is none.</summary>
    public Stream? OpenRead(string key)
    {
        CheckKey(key);
        try
        {
            return new FileStream(PathOf(key), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 64 * 1024, useAsync: true);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    /// <summary>The SHA-256 of the object's bytes, or null when there is none.</summary>
    public async Task<byte[]?> ComputeSha256Async(string key, CancellationToken cancellationToken = default)
    {
        await using var stream = OpenRead(key);
        return stream is null ? null : await SHA256.HashDataAsync(stream, cancellationToken);
    }

    private string Token(string method, string key, DateTimeOffset expiresAt, long size)
    {
        Span<byte> token = stackalloc byte[TokenLength];
        var expiresMs = expiresAt.ToUnixTimeMilliseconds();
        BinaryPrimitives.WriteInt64BigEndian(token, expiresMs);
        BinaryPrimitives.WriteInt64BigEndian(token[8..], size);
        Mac(method, key, expiresMs, size, token[16..]);
        return Convert.ToBase64String(token).Replace('+', '-').Replace('/', '_');
    }

    private void Mac(string method, string key, long expiresMs, long size, Span<byte> destination)
    {
        var message = Encoding.ASCII.GetBytes(FormattableString.Invariant($"CW-blob-v1\n{method}\n{key}\n{expiresMs}\n{size}"));
        HMACSHA256.HashData(_secret, message, destination);
    }

    private string PathOf(string key) => Path.Combine(Root, key);

    private static void CheckKey(string key)
    {
        if (!BlobUploads.IsValidKey(key))
        {
            throw new ArgumentException("A blob key is 1 to 128 ASCII letters, digits, '-' or '_'.", nameof(key));
        }
    }

    // 32 random bytes made on first open and kept owner-only: tokens outlive a restart.
    private static byte[] LoadSecret(string path)
    {
        if (File.Exists(path))
        {
            var existing = File.ReadAllBytes(path);
            if (existing.Length == 32)
            {
                return existing;
            }
        }

        var secret = RandomNumberGenerator.GetBytes(32);
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var file = new FileStream(path, options))
        {
            file.Write(secret);
        }

        return secret;
    }
}

/// <summary>The verdict on a <c>/v1/blobs</c> token.</summary>
public enum BlobTokenCheck
{
    Valid,

    /// <summary>Not made by this store for this method and key (or not a token at all).</summary>
    Invalid,

    Expired,
}

/// <summary>What became of an upload to the local store.</summary>
public enum BlobWriteResult
{
    Stored,

    /// <summary>The body was longer than the grant: nothing was kept.</summary>
    TooLong,

    /// <summary>The key holds an object already (keys are write-once).</summary>
    AlreadyExists,
}
