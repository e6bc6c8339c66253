namespace ChatWire.Crypto;

/// <summary>What an envelope carries (the header's content_type byte).</summary>
public enum EnvelopeContentType : byte
{
    /// <summary>A new message.</summary>
    Message = 1,

    /// <summary>An edit of <see cref="EnvelopeHeader.TargetMessageId"/>.</summary>
    Edit = 2,

    /// <summary>A deletion of <see cref="EnvelopeHeader.TargetMessageId"/>.</summary>
    Delete = 3,

    /// <summary>A reaction to <see cref="EnvelopeHeader.TargetMessageId"/>.</summary>
    Reaction = 4,

    /// <summary>A reply in the thread of <see cref="EnvelopeHeader.ThreadRootId"/>.</summary>
    ThreadReply = 5,
}

/// <summary>
/// The authenticated header of an envelope (docs/e2e.md "Envelope"). Everything here is readable by the server
/// (routing, mentions, threads); all of it is bound into the AES-GCM associated data and the chain signature.
/// </summary>
public sealed record EnvelopeHeader
{
    /// <summary>The envelope format version (1).</summary>
    public const byte Version = 1;

    /// <summary>The suite: X25519 / Ed25519 / AES-256-GCM / HKDF-SHA256 (1).</summary>
    public const byte Suite = 1;

    /// <summary>At most this many mentioned users.</summary>
    public const int MaxMentions = ushort.MaxValue;

    /// <summary>What the envelope carries.</summary>
    public required EnvelopeContentType ContentType { get; init; }

    /// <summary>The conversation (channel or DM) the envelope is for.</summary>
    public required Guid ConversationId { get; init; }

    /// <summary>The client-generated message id (UUIDv7): idempotency and dedupe key.</summary>
    public required Guid MessageId { get; init; }

    /// <summary>The sending user.</summary>
    public required Guid SenderUserId { get; init; }

    /// <summary>The sending device.</summary>
    public required Guid SenderDeviceId { get; init; }

    /// <summary>The membership epoch the chain belongs to.</summary>
    public required ulong Epoch { get; init; }

    /// <summary>The sender chain (SEND's distribution_id).</summary>
    public required Guid ChainId { get; init; }

    /// <summary>
    /// The epoch secret the chain is derived from (flags bit 4, 0x10; docs/e2e.md "Large conversations"), else null.
    /// When set, the envelope is signed with the sender's device signing key, not a per-chain key, and it is SEND's
    /// distribution_id.
    /// </summary>
    public Guid? EpochSecretId { get; init; }

    /// <summary>The chain iteration whose key encrypted the body.</summary>
    public required uint Iteration { get; init; }

    /// <summary>The sender's clock, Unix milliseconds (display only; the server's order is authoritative).</summary>
    public required long ClientTimestampMs { get; init; }

    /// <summary>The thread root for a reply in a thread, else null.</summary>
    public Guid? ThreadRootId { get; init; }

    /// <summary>The message an edit, deletion or reaction refers to, else null.</summary>
    public Guid? TargetMessageId { get; init; }

    /// <summary>Mentioned users (plaintext so the server can notify them).</summary>
    public IReadOnlyList<Guid> Mentions { get; init; } = [];

    /// <summary>Whether the message mentions @channel.</summary>
    public bool MentionsChannel { get; init; }

    /// <summary>Whether the message mentions @here.</summary>
    public bool MentionsHere { get; init; }

    /// <summary>The 12-byte AES-GCM nonce; must equal the nonce derived from the chain key.</summary>
    public required byte[] Nonce { get; init; }

    /// <summary>
    /// The header of an envelope, parsed but <b>not authenticated</b>: only for an envelope this device has already
    /// decrypted (whose signature and tag it checked), to compare the header with what a later delivery says of it.
    /// A malformed layout throws <see cref="ChatWireCryptoException"/> (<see cref="CryptoError.Malformed"/>).
    /// </summary>
    /// <param name="envelope">The whole envelope.</param>
    public static EnvelopeHeader ReadUnauthenticated(ReadOnlySpan<byte> envelope) => Envelope.Parse(envelope).Header;
}
