using System.Security.Cryptography;
using System.Text;

namespace ChatWire.Storage.Messages;

/// <summary>
/// The idempotency rule every adapter applies when an event id is already stored in its conversation
/// (docs/protocol.md §4.8): Duplicate when the resend is the same event, Conflict otherwise.
/// </summary>
internal static class EventIdentity
{
    /// <summary>
    /// A resend is the same event only from the same device with the same kind, subject and body. A message's
    /// body is compared as it was sent (its digest), since an edit or a deletion may have changed it since.
    /// </summary>
    public static bool IsSameEvent(StoredEvent original, byte[]? originalDigest, NewEvent e, IncrementalHash hash) =>
        original.SenderDeviceId == e.SenderDeviceId
        && original.Kind == e.Kind
        && original.SubjectId == e.SubjectId
        && original.ThreadRootId == e.ThreadRootId
        && (originalDigest is not null
            ? originalDigest.AsSpan().SequenceEqual(Digest(hash, e.ContentType, e.Content.Span))
            : string.Equals(original.ContentType, e.ContentType, StringComparison.Ordinal) && original.Content.Span.SequenceEqual(e.Content.Span));

    /// <summary>SHA-256 of the content type's UTF-8, a zero byte, then the content.</summary>
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
