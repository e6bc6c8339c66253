using System.Buffers;
using System.Text;
using MessagePack;

namespace ChatWire.Protocol.Internal;

// Bounded field readers and writers shared by every frame. Each reader checks a declared length
// against its limit before it allocates, so a hostile frame costs at most the frame it arrived in.
internal static class MessagePackFields
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public const int UuidLength = 16;

    public static Guid ReadUuid(ref MessagePackReader reader, uint requestId, string field)
    {
        var bytes = ReadBinOrNil(ref reader, requestId, field);
        if (bytes is not { Length: UuidLength } seq)
        {
            ThrowHelper.InvalidField($"{field} must be a 16-byte bin.", requestId);
            return default;
        }

        Span<byte> buffer = stackalloc byte[UuidLength];
        seq.CopyTo(buffer);
        return new Guid(buffer, bigEndian: true);
    }

    /// <summary>An unsigned int of 0 to 255 in any integer format (an enum's value, known to this version or not).</summary>
    public static byte ReadByteValue(ref MessagePackReader reader, uint requestId, string field)
    {
        var value = reader.ReadUInt32();
        if (value > byte.MaxValue)
        {
            ThrowHelper.InvalidField($"{field} must be 0 to 255; got {value}.", requestId);
        }

        return (byte)value;
    }

    public static void WriteUuid(ref MessagePackWriter writer, Guid value)
    {
        writer.WriteBinHeader(UuidLength);
        var span = writer.GetSpan(UuidLength);
        value.TryWriteBytes(span, bigEndian: true, out _);
        writer.Advance(UuidLength);
    }

    /// <summary>An array of ids, at most <paramref name="maxCount"/>.</summary>
    public static Guid[] ReadUuids(ref MessagePackReader reader, int maxCount, uint requestId, string field)
    {
        var count = ReadArrayHeader(ref reader, maxCount, requestId, field);
        var ids = new Guid[count];
        for (var i = 0; i < count; i++)
        {
            ids[i] = ReadUuid(ref reader, requestId, field);
        }

        return ids;
    }

    public static void WriteUuids(ref MessagePackWriter writer, IReadOnlyList<Guid> values)
    {
        writer.WriteArrayHeader(values.Count);
        foreach (var value in values)
        {
            WriteUuid(ref writer, value);
        }
    }

    public static string ReadString(ref MessagePackReader reader, int maxBytes, uint requestId, string field) =>
        DecodeString(reader.ReadStringSequence(), maxBytes, requestId, field);

    private static string DecodeString(ReadOnlySequence<byte>? bytes, int maxBytes, uint requestId, string field)
    {
        if (bytes is not { } seq)
        {
            ThrowHelper.InvalidField($"{field} must be a string, not nil.", requestId);
            return string.Empty;
        }

        if (seq.Length > maxBytes)
        {
            ThrowHelper.InvalidField($"{field} is {seq.Length} bytes; the limit is {maxBytes}.", requestId);
        }

        try
        {
            return seq.IsSingleSegment ? StrictUtf8.GetString(seq.FirstSpan) : StrictUtf8.GetString(seq.ToArray());
        }
        catch (DecoderFallbackException ex)
        {
            throw new ProtocolException(ErrorCode.InvalidField, $"{field} is not valid UTF-8.", requestId, ex);
        }
    }

    // The content types nearly every message carries (what the SDK sends: end-to-end content, or plain text where that
    // is off), so that decoding a SEND or EDIT allocates no string for them.
    private static readonly (byte[] Utf8, string Text)[] CommonContentTypes =
        [.. new[] { ContentTypes.EndToEnd, ContentTypes.PlainText }.Select(t => (Encoding.UTF8.GetBytes(t), t))];

    /// <summary>A content type (a string field): one of the common ones without allocating, any other as <see cref="ReadString"/> reads it.</summary>
    public static string ReadContentType(ref MessagePackReader reader, int maxBytes, uint requestId)
    {
        var bytes = reader.ReadStringSequence();
        if (bytes is { IsSingleSegment: true } seq && seq.Length <= maxBytes)
        {
            foreach (var (utf8, text) in CommonContentTypes)
            {
                if (seq.FirstSpan.SequenceEqual(utf8))
                {
                    return text;
                }
            }
        }

        return DecodeString(bytes, maxBytes, requestId, "content_type");
    }

    public static ReadOnlyMemory<byte> ReadBin(ref MessagePackReader reader, int maxBytes, uint requestId, string field)
    {
        var bytes = ReadBinOrNil(ref reader, requestId, field);
        if (bytes is not { } seq)
        {
            ThrowHelper.InvalidField($"{field} must be a bin, not nil.", requestId);
            return default;
        }

        if (seq.Length > maxBytes)
        {
            ThrowHelper.ContentTooLarge(seq.Length, maxBytes, requestId);
        }

        return seq.ToArray();
    }

    // MessagePack-CSharp's ReadBytes also accepts a str (the old spec's raw type); ids and content are
    // bin only (docs/protocol.md §2), so a str there is a wrong type.
    public static ReadOnlySequence<byte>? ReadBinOrNil(ref MessagePackReader reader, uint requestId, string field)
    {
        if (reader.NextMessagePackType == MessagePackType.String)
        {
            ThrowHelper.Malformed($"{field} must be a bin, not a str.", requestId);
        }

        return reader.ReadBytes();
    }

    public static int ReadArrayHeader(ref MessagePackReader reader, int maxCount, uint requestId, string field)
    {
        var count = reader.ReadArrayHeader();
        if (count < 0 || count > maxCount)
        {
            ThrowHelper.InvalidField($"{field} has {count} items; the limit is {maxCount}.", requestId);
        }

        // Every element takes at least one byte: a header that claims more than the bytes left is a lie.
        if (count > reader.Sequence.Length - reader.Consumed)
        {
            ThrowHelper.Malformed($"{field} claims {count} items but the frame ends first.", requestId);
        }

        return count;
    }

    // Skips one value of any type, bounded in depth, so trailing fields from newer peers are ignored
    // without letting deep nesting exhaust the stack.
    public static void SkipBounded(ref MessagePackReader reader, int depth, int maxDepth, uint requestId)
    {
        if (depth > maxDepth)
        {
            ThrowHelper.Malformed(
                $"A skipped trailing element nests too deeply: at most {maxDepth} levels below an element of the frame, {maxDepth - 1} below one of a list entry.", requestId);
        }

        switch (reader.NextMessagePackType)
        {
            case MessagePackType.Array:
                {
                    var count = reader.ReadArrayHeader();
                    GuardCount(ref reader, count, requestId);
                    for (var i = 0; i < count; i++)
                    {
                        SkipBounded(ref reader, depth + 1, maxDepth, requestId);
                    }

                    break;
                }

            case MessagePackType.Map:
                {
                    var count = reader.ReadMapHeader();
                    GuardCount(ref reader, (long)count * 2, requestId);
                    for (var i = 0; i < count * 2; i++)
                    {
                        SkipBounded(ref reader, depth + 1, maxDepth, requestId);
                    }

                    break;
                }

            default:
                reader.Skip();
                break;
        }
    }

    private static void GuardCount(ref MessagePackReader reader, long count, uint requestId)
    {
        if (count < 0 || count > reader.Sequence.Length - reader.Consumed)
        {
            ThrowHelper.Malformed($"A collection claims {count} items but the frame ends first.", requestId);
        }
    }
}
