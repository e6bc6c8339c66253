using System.Security.Cryptography;
using ChatWire.Crypto;

namespace ChatWire.Client.Secure;

/// <summary>
/// The sealed envelopes of this process's recent encrypted SENDs that have no SEND_ACK yet, by message id, so that a
/// resend with the same id and the same message carries the same bytes: the server then answers a message it stored
/// already with its original seq (docs/protocol.md, SEND) instead of <c>IDEMPOTENCY_CONFLICT</c>, which a fresh
/// encryption (other bytes) would get. An entry goes when its SEND is acknowledged; at most <see cref="Capacity"/> are
/// kept, the oldest dropped first. Nothing is kept on disk: after a restart a resend is encrypted anew.
/// </summary>
internal sealed class SentEnvelopes
{
    /// <summary>How many unacknowledged envelopes are kept (each at most the protocol's content limit).</summary>
    public const int Capacity = 32;

    private readonly Lock _lock = new();
    // In the order remembered: the first entry is the oldest, dropped first past the capacity.
    private readonly OrderedDictionary<Guid, Entry> _byMessage = [];

    /// <summary>One sealed SEND: the message it encrypts (by digest), and what went on the wire.</summary>
    /// <param name="Digest">SHA-256 over conversation, kind, thread, mentions and plaintext.</param>
    /// <param name="Envelope">The sealed content.</param>
    /// <param name="Epoch">The membership epoch it was sealed for.</param>
    /// <param name="DistributionId">Its chain's distribution id.</param>
    public sealed record Entry(byte[] Digest, byte[] Envelope, ulong Epoch, Guid DistributionId);

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

    /// <summary>The envelope sent earlier under <paramref name="messageId"/> for the same message, if any.</summary>
    public Entry? Find(Guid messageId, byte[] digest)
    {
        lock (_lock)
        {
            return _byMessage.TryGetValue(messageId, out var entry) && CryptographicOperations.FixedTimeEquals(entry.Digest, digest) ? entry : null;
        }
    }

    /// <summary>Keeps the envelope about to be sent under <paramref name="messageId"/> (replacing an earlier one).</summary>
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
        }
    }

    /// <summary>Drops what was kept under <paramref name="messageId"/> (acknowledged, or refused for good).</summary>
    public void Forget(Guid messageId)
    {
        lock (_lock)
        {
            _byMessage.Remove(messageId);
        }
    }
}
