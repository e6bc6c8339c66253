namespace ChatWire.Protocol;

/// <summary>
/// The limits a peer enforces while decoding. The server announces its values in WELCOME; the defaults
/// are the values of protocol v1 (docs/protocol.md §3).
/// </summary>
public sealed record ProtocolLimits
{
    /// <summary>The protocol version this library speaks.</summary>
    public const uint CurrentVersion = 1;

    /// <summary>Length prefix size in bytes (u32, big-endian).</summary>
    public const int LengthPrefixSize = 4;

    /// <summary>Default for <see cref="MaxFrameLength"/>: 256 KiB, the message-envelope ceiling.</summary>
    public const uint DefaultMaxFrameLength = 256 * 1024;

    /// <summary>Default for <see cref="MaxPreAuthFrameLength"/>: 4 KiB is ample for HELLO and AUTH.</summary>
    public const uint DefaultMaxPreAuthFrameLength = 4 * 1024;

    /// <summary>Default for <see cref="MaxContentLength"/>: the frame ceiling less 4 KiB of header fields.</summary>
    public const int DefaultMaxContentLength = 252 * 1024;

    /// <summary>The defaults of protocol v1.</summary>
    public static ProtocolLimits Default { get; } = new();

    /// <summary>Largest frame body (the length prefix's value) accepted after AUTH.</summary>
    public uint MaxFrameLength { get; init; } = DefaultMaxFrameLength;

    /// <summary>Largest frame body accepted before AUTH succeeds.</summary>
    public uint MaxPreAuthFrameLength { get; init; } = DefaultMaxPreAuthFrameLength;

    /// <summary>Largest SEND content, in bytes.</summary>
    public int MaxContentLength { get; init; } = DefaultMaxContentLength;

    /// <summary>Longest content type, in UTF-8 bytes.</summary>
    public int MaxContentTypeLength { get; init; } = 128;

    /// <summary>Longest client name in HELLO, in UTF-8 bytes.</summary>
    public int MaxClientNameLength { get; init; } = 64;

    /// <summary>Most capabilities in HELLO.</summary>
    public int MaxCapabilities { get; init; } = 16;

    /// <summary>Longest capability name, in UTF-8 bytes.</summary>
    public int MaxCapabilityLength { get; init; } = 32;

    /// <summary>Longest session token in AUTH, in UTF-8 bytes.</summary>
    public int MaxTokenLength { get; init; } = 128;

    /// <summary>Longest error message, in UTF-8 bytes.</summary>
    public int MaxErrorMessageLength { get; init; } = 1024;

    /// <summary>Most events in one HISTORY page.</summary>
    public int MaxHistoryLimit { get; init; } = 200;

    /// <summary>Most conversations in one SYNC page.</summary>
    public int MaxSyncLimit { get; init; } = 500;

    /// <summary>Most users one message may mention by id (SEND <c>mentions</c>).</summary>
    public int MaxMentions { get; init; } = 50;

    /// <summary>Longest reaction emoji, in UTF-8 bytes (REACT <c>emoji</c>).</summary>
    public int MaxEmojiLength { get; init; } = 64;

    /// <summary>Most entries in an event's <c>reactions</c> and <c>thread_participants</c> lists.</summary>
    public int MaxListedPerMessage { get; init; } = 50;

    /// <summary>Most users one connection may watch the presence of (PRESENCE_WATCH).</summary>
    public int MaxPresenceWatch { get; init; } = 200;

    /// <summary>Longest end-to-end <c>distribution_id</c> in SEND, in bytes (16 for a chain id; the wire allows up to this).</summary>
    public int MaxDistributionIdLength { get; init; } = 64;

    /// <summary>Deepest nesting accepted in trailing fields a reader skips.</summary>
    public int MaxSkipDepth { get; init; } = 16;
}
