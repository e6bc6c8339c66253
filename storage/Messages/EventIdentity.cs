using System.Security.Cryptography;
using System.Text;

namespace ChatWire.Storage.Messages;

/// <summary>
/// How every adapter tells a resend from a conflict (docs/protocol.md §4.8, idempotency): the same event id
/// is the same event only from the same device with the same kind, subject, thread and body. The body of a
/// message or an edit is compared as it was sent, through the digest kept with it, since an edit or a
/// deletion may have changed the stored content since (a deletion empties the message and its edits).
/// </summary>
internal static class EventIdentity
{
    /// <summary>The digest every adapter keeps with a new event: for the kinds whose stored content a later change rewrites, else null.</summary>
    public static byte[]? OriginalDigest(IncrementalHash hash, NewEvent e) =>
        e.Kind is EventKind.Message or EventKind.MessageEdited ? Digest(hash, e.ContentType, e.Content.Span) : null;

    /// <summary>Whether <paramref name="e"/> resends <paramref name="original"/>, whose original digest (null when none was kept) is given.</summary>
    public static bool IsSameEvent(StoredEvent original, byte[]? originalDigest, NewEvent e, IncrementalHash hash) =>
        original.SenderDeviceId == e.SenderDeviceId
        && original.Kind == e.Kind
        && original.SubjectId == e.SubjectId
        && original.ThreadRootId == e.ThreadRootId
        && (originalDigest is not null
            ? originalDigest.AsSpan().SequenceEqual(Digest(hash, e.ContentType, e.Content.Span))
            : string.Equals(original.ContentType, e.ContentType, StringComparison.Ordinal) && original.Content.Span.SequenceEqual(e.Content.Span));

    /// <summary>The answer to <paramref name="e"/> when its id is taken by <paramref name="original"/>: Duplicate with it, or Conflict.</summary>
    public static AppendResult AnswerTo(NewEvent e, StoredEvent original, byte[]? originalDigest, IncrementalHash hash) =>
        IsSameEvent(original, originalDigest, e, hash)
            ? new AppendResult(AppendOutcome.Duplicate, original)
            : new AppendResult(AppendOutcome.Conflict, null);

    /// <summary><see cref="AnswerTo(NewEvent, StoredEvent, byte[], IncrementalHash)"/> with a hash of its own, for a read outside a writer.</summary>
    public static AppendResult AnswerTo(NewEvent e, StoredEvent original, byte[]? originalDigest)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        return AnswerTo(e, original, originalDigest, hash);
    }

    /// <summary>SHA-256 of the content type's UTF-8, a zero byte, then the content; <paramref name="hash"/> is a reusable SHA-256.</summary>
    public static byte[] Digest(IncrementalHash hash, string contentType, ReadOnlySpan<byte> content)
    {
        // Content types are at most 128 bytes (docs/protocol.md §3.1): on the stack, not a new array per message.
        var length = Encoding.UTF8.GetByteCount(contentType);
        Span<byte> type = length <= 256 ? stackalloc byte[length] : new byte[length];
        Encoding.UTF8.GetBytes(contentType, type);
        hash.AppendData(type);
        hash.AppendData([0]);
        hash.AppendData(content);
        return hash.GetHashAndReset();
    }
}

/// <summary>The limits of the change rules, the same in every adapter.</summary>
internal static class MessageRules
{
    /// <summary>Distinct emoji one message may gather.</summary>
    public const int MaxEmojiPerMessage = 50;

    /// <summary>Reactions one user may put on one message.</summary>
    public const int MaxReactionsPerUser = 20;
}
