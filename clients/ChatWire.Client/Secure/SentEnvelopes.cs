using System.Buffers.Binary;
using System.Security.Cryptography;
using ChatWire.Crypto;

namespace ChatWire.Client.Secure;

/// <summary>
/// The sealed envelopes of recent encrypted SENDs that have no SEND_ACK yet, by message id, so that a resend with the
/// same id and the same message carries the same bytes: the server then answers a message it stored already with its
/// original seq (docs/protocol.md, SEND) instead of <c>IDEMPOTENCY_CONFLICT</c>, which a fresh encryption (other
/// bytes) would get. Each is also written to a file in the key store's <c>unacknowledged/</c> directory before its
/// SEND leaves, so a resend after the app restarted (or from another process of the profile, such as the CLI's next
/// command) finds it too. An entry and its file go when the SEND is answered; at most <see cref="Capacity"/> are kept,
/// the oldest dropped first. The files hold ciphertext the server was about to receive anyway, and are owner-only.
/// </summary>
/// <param name="directory">Where the files go; null keeps them in memory only.</param>
internal sealed class SentEnvelopes(string? directory = null)
{
    private const byte FileVersion = 2;
    private const int HeaderSizeV1 = 1 + 32 + 8 + 16;
    private const int HeaderSize = HeaderSizeV1 + 16;

    /// <summary>How many unacknowledged envelopes are kept (each at most the protocol's content limit).</summary>
    public const int Capacity = 32;

    private readonly Lock _lock = new();
    // In the order remembered: the first entry is the oldest, dropped first past the capacity.
    private readonly OrderedDictionary<Guid, Entry> _byMessage = [];

    /// <summary>One sealed SEND: the message it encrypts (by digest), and what went on the wire.</summary>
    /// <param name="Digest">SHA-256 over conversation, kind, thread, mentions and plaintext (for a file: the file, not the descriptor).</param>
    /// <param name="Envelope">The sealed content.</param>
    /// <param name="Epoch">The membership epoch it was sealed for.</param>
    /// <param name="DistributionId">Its chain's distribution id.</param>
    /// <param name="AttachmentId">For a file, the attachment its descriptor names (uploaded already); empty otherwise.</param>
    public sealed record Entry(byte[] Digest, byte[] Envelope, ulong Epoch, Guid DistributionId, Guid AttachmentId = default);

    /// <summary>What identifies the message a SEND carries, apart from its id: equal digests, equal messages.</summary>
    public static byte[] Digest(Guid conversationId, EnvelopeContentType kind, ReadOnlySpan<byte> plaintext, MessageOptions? options)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> scratch = stackalloc byte[16];
        conversationId.TryWriteBytes(scratch, bigEndian: true, out _);
        hash.AppendData(scratch);
        hash.AppendData([(byte)kind, (byte)(options?.GroupMentions ?? default)]);
        (options?.ThreadRootId ?? Guid.Empty).TryWriteBytes(scratch, bigEndian: true, out _);
        hash.AppendData(scratch);
        var mentions = options?.Mentions ?? [];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(scratch, mentions.Count);
        hash.AppendData(scratch[..4]);
        foreach (var mention in mentions)
        {
            mention.TryWriteBytes(scratch, bigEndian: true, out _);
            hash.AppendData(scratch);
        }

        hash.AppendData(plaintext);
        return hash.GetHashAndReset();
    }

    /// <summary>The envelope sent earlier under <paramref name="messageId"/> for the same message, if any (in memory, else on disk).</summary>
    public Entry? Find(Guid messageId, byte[] digest)
    {
        lock (_lock)
        {
            var entry = _byMessage.TryGetValue(messageId, out var held) ? held : Read(messageId);
            return entry is not null && CryptographicOperations.FixedTimeEquals(entry.Digest, digest) ? entry : null;
        }
    }

    /// <summary>Keeps the envelope about to be sent under <paramref name="messageId"/> (replacing an earlier one), on disk before it returns.</summary>
    public void Remember(Guid messageId, Entry entry)
    {
        lock (_lock)
        {
            _byMessage.Remove(messageId);
            _byMessage.Add(messageId, entry);
            if (_byMessage.Count > Capacity)
            {
                _byMessage.RemoveAt(0);
            }

            Write(messageId, entry);
        }
    }

    /// <summary>Drops what was kept under <paramref name="messageId"/> (acknowledged, or refused for good).</summary>
    public void Forget(Guid messageId)
    {
        lock (_lock)
        {
            _byMessage.Remove(messageId);
            if (directory is not null)
            {
                File.Delete(PathOf(messageId));
            }
        }
    }

    private string PathOf(Guid messageId) => Path.Combine(directory!, messageId.ToString("N") + ".envelope");

    // u8 version (2) || digest(32) || u64 epoch || distribution id(16) || attachment id(16) || envelope (version 1 had no
    // attachment id; it is still read); written whole under a temporary name
    // and moved into place, so a file is never half there. Older files past the capacity go (other processes' too).
    private void Write(Guid messageId, Entry entry)
    {
        if (directory is null)
        {
            return;
        }

        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var bytes = new byte[HeaderSize + entry.Envelope.Length];
        bytes[0] = FileVersion;
        entry.Digest.CopyTo(bytes, 1);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(33), entry.Epoch);
        entry.DistributionId.TryWriteBytes(bytes.AsSpan(41), bigEndian: true, out _);
        entry.AttachmentId.TryWriteBytes(bytes.AsSpan(HeaderSizeV1), bigEndian: true, out _);
        entry.Envelope.CopyTo(bytes, HeaderSize);
        var temporary = PathOf(messageId) + "." + Guid.NewGuid().ToString("N") + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temporary, options))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, PathOf(messageId), overwrite: true);
        foreach (var stale in new DirectoryInfo(directory).GetFiles("*.envelope").OrderByDescending(file => file.LastWriteTimeUtc).Skip(Capacity))
        {
            stale.Delete();
        }
    }

    private Entry? Read(Guid messageId)
    {
        if (directory is null)
        {
            return null;
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(PathOf(messageId));
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }

        // A file this version cannot read is as good as none: the resend is encrypted anew.
        var headerSize = bytes.Length == 0 ? 0 : bytes[0] switch { 1 => HeaderSizeV1, FileVersion => HeaderSize, _ => 0 };
        return headerSize > 0 && bytes.Length > headerSize
            ? new Entry(
                bytes[1..33],
                bytes[headerSize..],
                BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(33)),
                new Guid(bytes.AsSpan(41, 16), bigEndian: true),
                headerSize == HeaderSize ? new Guid(bytes.AsSpan(HeaderSizeV1, 16), bigEndian: true) : Guid.Empty)
            : null;
    }
}
