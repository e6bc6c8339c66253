using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace ChatWire.Protocol.Tests;

/// <summary>
/// Hostile frames a client could send after AUTH, each with the error code the codec answers it with
/// (docs/protocol.md §2, §3, §5). A fixed list of hand-written cases plus cases generated from a seeded
/// <see cref="Random"/> by mutating valid SEND, HISTORY and PING frames.
/// </summary>
/// <remarks>
/// Depends on ChatWire.Protocol only, so the gateway tests can compile this file in (a linked
/// <c>&lt;Compile Include&gt;</c>) and send the same frames over a socket. The expected codes are derived
/// from the mutation, not from running the codec; <c>HostileCorpusTests</c> checks them against it.
/// Every frame is whole (length prefix included) and its length is at most
/// <see cref="ProtocolLimits.DefaultMaxFrameLength"/>; none of the codes closes an authenticated connection.
/// </remarks>
public static class HostileCorpus
{
    /// <summary>The seed of <see cref="Cases"/>.</summary>
    public const int DefaultSeed = 20251125;

    /// <summary>How many generated cases <see cref="Cases"/> holds besides the hand-written ones.</summary>
    public const int DefaultGeneratedCount = 200;

    private static readonly byte[] KnownOpcodes = [.. Enum.GetValues<Opcode>().Select(o => (byte)o)];

    // The first opcode after the highest this version knows.
    private static readonly uint FirstUnknown = (uint)KnownOpcodes.Max() + 1;

    private static readonly string[] ContentTypes =
        ["text/plain", "text/markdown", "application/octet-stream", "application/vnd.chatwire.e2e+cbor", "image/png"];

    private static readonly byte[][] InvalidUtf8 =
    [
        [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xc0, 0xaf], [0xe0, 0x80, 0x80], [0xff], [0xfe],
        [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0x80], [0xbf],
    ];

    private enum Field
    {
        Opcode,
        RequestId,
        Id,
        ContentType,
        Content,
        Seq,
        Direction,
        Limit,
    }

    private enum ValueKind
    {
        Nil,
        Bool,
        Float,
        NegativeInt,
        UInt,
        Str,
        Bin,
        Array,
        Map,
        Ext,
    }

    /// <summary>The hand-written cases followed by <see cref="DefaultGeneratedCount"/> cases from <see cref="DefaultSeed"/>.</summary>
    public static IReadOnlyList<(string Name, byte[] FrameBytes, ErrorCode Expected)> Cases { get; } = Build(DefaultSeed, DefaultGeneratedCount);

    /// <summary>The hand-written cases followed by <paramref name="generatedCount"/> cases generated from <paramref name="seed"/>.</summary>
    public static IReadOnlyList<(string Name, byte[] FrameBytes, ErrorCode Expected)> Build(int seed, int generatedCount)
    {
        var cases = new List<(string, byte[], ErrorCode)>();
        foreach (var (name, body, expected) in HandWritten())
        {
            cases.Add(("h-" + name, Frame(body), expected));
        }

        var random = new Random(seed);
        for (var index = 0; index < generatedCount;)
        {
            if (Generate(random) is { } generated && generated.Body.Length <= ProtocolLimits.DefaultMaxFrameLength)
            {
                cases.Add(($"g{index:D3}-{generated.Name}", Frame(generated.Body), generated.Expected));
                index++;
            }
        }

        return cases;
    }

    /// <summary>Valid frames from the same generators the mutations start from: a control that they decode.</summary>
    public static IReadOnlyList<byte[]> ValidFrames(int seed, int count)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => Frame(Array(RandomShape(random).Select(e => e.Bytes))))];
    }

    private static IEnumerable<(string Name, byte[] Body, ErrorCode Expected)> HandWritten()
    {
        var conversation = Bin(Convert.FromHexString("019abbd093807a41a3c95e8d0f7b2c16"));
        var message = Bin(Convert.FromHexString("019abbda6b6c7b128e4d9c1a2b3c4d5e"));
        byte[] Send(byte[]? conversationId = null, byte[]? messageId = null, byte[]? contentType = null, byte[]? content = null, byte[]? trailing = null) =>
            Array([
                UInt(0x10), UInt(7), conversationId ?? conversation, messageId ?? message, contentType ?? Str("text/plain"), content ?? Bin("hello"u8.ToArray()),
                .. trailing is null ? System.Array.Empty<byte[]>() : [trailing]]);
        byte[] History(byte[]? fromSeq = null, byte[]? direction = null, byte[]? limit = null) =>
            Array([UInt(0x13), UInt(7), conversation, fromSeq ?? UInt(0), direction ?? UInt(0), limit ?? UInt(50)]);
        byte[] PingWith(params byte[][] trailing) => Array([UInt(0x05), UInt(7), .. trailing]);

        yield return ("empty-body", [], ErrorCode.MalformedFrame);
        yield return ("body-nil", [0xc0], ErrorCode.MalformedFrame);
        yield return ("body-never-used-byte-c1", [0xc1], ErrorCode.MalformedFrame);
        yield return ("body-map", [0x82, 0x05, 0x07, 0x01, 0x02], ErrorCode.MalformedFrame);
        yield return ("body-two-values-no-array", [0x05, 0x07], ErrorCode.MalformedFrame);
        yield return ("body-empty-array", [0x90], ErrorCode.MalformedFrame);
        yield return ("body-array-of-one", [0x91, 0x10], ErrorCode.MalformedFrame);
        yield return ("body-array32-claims-4294967295", [0xdd, 0xff, 0xff, 0xff, 0xff, 0x05, 0x07], ErrorCode.MalformedFrame);
        yield return ("body-array16-claims-one-more", [0xdc, 0x00, 0x03, 0x05, 0x07], ErrorCode.MalformedFrame);
        yield return ("opcode-negative", [0x92, 0xff, 0x07], ErrorCode.MalformedFrame);
        yield return ("opcode-2^32", [0x92, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0, 0x07], ErrorCode.MalformedFrame);
        yield return ("opcode-str", [0x92, 0xa4, .. "SEND"u8, 0x07], ErrorCode.MalformedFrame);
        yield return ("opcode-float", [0x92, 0xca, 0x41, 0x80, 0, 0, 0x07], ErrorCode.MalformedFrame);
        yield return ("request-id-negative", [0x92, 0x05, 0xff], ErrorCode.MalformedFrame);
        yield return ("request-id-2^32", [0x92, 0x05, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0], ErrorCode.MalformedFrame);
        yield return ("request-id-nil", [0x92, 0x05, 0xc0], ErrorCode.MalformedFrame);
        foreach (var opcode in new uint[] { 0x00, 0x08, 0x0f, FirstUnknown, 0x7f, 0xff, 0x100, 0x105, 0xffff_ffff })
        {
            yield return ($"unknown-opcode-0x{opcode:x}", Array([UInt(opcode), UInt(7)]), ErrorCode.UnknownOpcode);
        }

        yield return ("unknown-opcode-with-garbage-fields", Array([UInt(0x42), UInt(7), [0xc1], [0xc6, 0xff, 0xff, 0xff, 0xff]]), ErrorCode.UnknownOpcode);
        yield return ("PING-bytes-after-array", [.. PingWith(), 0x00], ErrorCode.MalformedFrame);
        yield return ("PING-second-body-after-array", [.. PingWith(), .. PingWith()], ErrorCode.MalformedFrame);
        yield return ("PING-trailing-17-levels", PingWith([.. Enumerable.Repeat((byte)0x91, 17), 0x00]), ErrorCode.MalformedFrame);
        yield return ("PING-trailing-10000-levels", PingWith([.. Enumerable.Repeat((byte)0x91, 10_000), 0x00]), ErrorCode.MalformedFrame);
        yield return ("PING-trailing-array32-claims-4294967295", PingWith([0xdd, 0xff, 0xff, 0xff, 0xff]), ErrorCode.MalformedFrame);
        yield return ("PING-trailing-map32-claims-4294967295", PingWith([0xdf, 0xff, 0xff, 0xff, 0xff]), ErrorCode.MalformedFrame);
        yield return ("PING-trailing-str32-claims-4294967295", PingWith([0xdb, 0xff, 0xff, 0xff, 0xff]), ErrorCode.MalformedFrame);
        yield return ("PING-trailing-bin32-claims-2147483648", PingWith([0xc6, 0x80, 0x00, 0x00, 0x00]), ErrorCode.MalformedFrame);
        yield return ("PING-trailing-ext32-claims-4294967295", PingWith([0xc9, 0xff, 0xff, 0xff, 0xff, 0x01]), ErrorCode.MalformedFrame);
        yield return ("PING-trailing-never-used-byte", PingWith([0xc1]), ErrorCode.MalformedFrame);
        yield return ("SEND-no-fields", Array([UInt(0x10), UInt(7)]), ErrorCode.MalformedFrame);
        yield return ("SEND-three-fields", Array([UInt(0x10), UInt(7), conversation, message, Str("text/plain")]), ErrorCode.MalformedFrame);
        yield return ("SEND-conversation-id-15-bytes", Send(conversationId: Bin(new byte[15])), ErrorCode.InvalidField);
        yield return ("SEND-conversation-id-17-bytes", Send(conversationId: Bin(new byte[17])), ErrorCode.InvalidField);
        yield return ("SEND-conversation-id-str", Send(conversationId: Str("0123456789abcdef")), ErrorCode.MalformedFrame);
        yield return ("SEND-conversation-id-nil", Send(conversationId: [0xc0]), ErrorCode.InvalidField);
        yield return ("SEND-message-id-uuid-text", Send(messageId: Str("019abbda-6b6c-7b12-8e4d-9c1a2b3c4d5e")), ErrorCode.MalformedFrame);
        yield return ("SEND-message-id-empty-bin", Send(messageId: Bin([])), ErrorCode.InvalidField);
        yield return ("SEND-content-type-129-bytes", Send(contentType: Str(new string('x', 129))), ErrorCode.InvalidField);
        yield return ("SEND-content-type-65-two-byte-chars", Send(contentType: Str(new string('é', 65))), ErrorCode.InvalidField);
        yield return ("SEND-content-type-invalid-utf8", Send(contentType: StrBytes([0x74, 0xc3, 0x28])), ErrorCode.InvalidField);
        yield return ("SEND-content-type-surrogate", Send(contentType: StrBytes([0xed, 0xa0, 0x80])), ErrorCode.InvalidField);
        yield return ("SEND-content-type-overlong-slash", Send(contentType: StrBytes([0x74, 0xc0, 0xaf])), ErrorCode.InvalidField);
        yield return ("SEND-content-type-bin", Send(contentType: Bin("text/plain"u8.ToArray())), ErrorCode.MalformedFrame);
        yield return ("SEND-content-type-nil", Send(contentType: [0xc0]), ErrorCode.InvalidField);
        yield return ("SEND-content-str", Send(content: Str("hello")), ErrorCode.MalformedFrame);
        yield return ("SEND-content-nil", Send(content: [0xc0]), ErrorCode.InvalidField);
        yield return ("SEND-content-258049-bytes", Send(content: Bin(new byte[ProtocolLimits.DefaultMaxContentLength + 1])), ErrorCode.ContentTooLarge);
        yield return ("SEND-content-bin32-claims-4294967295", Send(content: [0xc6, 0xff, 0xff, 0xff, 0xff]), ErrorCode.MalformedFrame);
        yield return ("SEND-content-bin32-claims-300000", Send(content: [0xc6, 0x00, 0x04, 0x93, 0xe0, 0x01]), ErrorCode.MalformedFrame);
        yield return ("SEND-content-type-str32-claims-2147483648", Send(contentType: [0xdb, 0x80, 0x00, 0x00, 0x00]), ErrorCode.MalformedFrame);
        yield return ("SEND-trailing-bin32-claims-4294967295", Send(trailing: [0xc6, 0xff, 0xff, 0xff, 0xff]), ErrorCode.MalformedFrame);
        yield return ("HISTORY-limit-0", History(limit: UInt(0)), ErrorCode.InvalidField);
        yield return ("HISTORY-limit-201", History(limit: UInt(201)), ErrorCode.InvalidField);
        yield return ("HISTORY-limit-4294967295", History(limit: UInt(uint.MaxValue)), ErrorCode.InvalidField);
        yield return ("HISTORY-limit-2^32", History(limit: UInt(1ul << 32)), ErrorCode.MalformedFrame);
        yield return ("HISTORY-direction-2", History(direction: UInt(2)), ErrorCode.InvalidField);
        yield return ("HISTORY-direction-true", History(direction: [0xc3]), ErrorCode.MalformedFrame);
        yield return ("HISTORY-from-seq-negative", History(fromSeq: [0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), ErrorCode.MalformedFrame);
        yield return ("HISTORY-from-seq-float", History(fromSeq: [0xcb, 0x40, 0x45, 0, 0, 0, 0, 0, 0]), ErrorCode.MalformedFrame);
        yield return ("HISTORY-from-seq-nil", History(fromSeq: [0xc0]), ErrorCode.MalformedFrame);
    }

    private static (string Name, byte[] Body, ErrorCode Expected)? Generate(Random random)
    {
        var shape = RandomShape(random);
        var frame = shape[0].FrameName;
        return random.Next(9) switch
        {
            0 => Truncate(random, shape, frame),
            1 => WrongType(random, shape, frame),
            2 => OutOfLimits(random, shape, frame),
            3 => LyingHeader(random, shape, frame),
            4 => DeepNesting(random, shape, frame),
            5 => UnknownOpcode(random, shape, frame),
            6 => NotAnArray(random),
            7 => BytesAfterTheArray(random, shape, frame),
            _ => WrongElementCount(random, shape, frame),
        };
    }

    private static (string, byte[], ErrorCode) Truncate(Random random, List<Element> shape, string frame)
    {
        var body = Array(shape.Select(e => e.Bytes));
        var keep = random.Next(body.Length);
        return ($"truncated-{frame}-to-{keep}-of-{body.Length}", body[..keep], ErrorCode.MalformedFrame);
    }

    private static (string, byte[], ErrorCode)? WrongType(Random random, List<Element> shape, string frame)
    {
        var position = random.Next(shape.Count);
        var (bytes, kind, number, length, label) = RandomValue(random);
        if (Expect(shape[position].Field, kind, number, length) is not { } expected)
        {
            return null;
        }

        return ($"wrong-type-{frame}-{shape[position].Name}-{label}", Replace(shape, position, bytes), expected);
    }

    private static (string, byte[], ErrorCode)? OutOfLimits(Random random, List<Element> shape, string frame)
    {
        var fields = Enumerable.Range(0, shape.Count).Where(i => shape[i].Field is not (Field.Opcode or Field.RequestId or Field.Seq)).ToList();
        if (fields.Count == 0)
        {
            return null;
        }

        var position = fields[random.Next(fields.Count)];
        var element = shape[position];
        switch (element.Field)
        {
            case Field.Id:
                var idLength = random.Next(2) == 0 ? random.Next(16) : random.Next(17, 100);
                return ($"id-length-{frame}-{element.Name}-{idLength}", Replace(shape, position, Bin(RandomBytes(random, idLength))), ErrorCode.InvalidField);

            case Field.ContentType:
                switch (random.Next(3))
                {
                    case 0:
                        var ascii = random.Next(129, 400);
                        return ($"too-long-{frame}-content_type-{ascii}-ascii", Replace(shape, position, Str(RandomAscii(random, ascii))), ErrorCode.InvalidField);
                    case 1:
                        // Within 128 characters but over 128 UTF-8 bytes: the limit counts bytes.
                        var chars = random.Next(65, 129);
                        return ($"too-long-{frame}-content_type-{chars}-two-byte-chars", Replace(shape, position, Str(new string('é', chars))), ErrorCode.InvalidField);
                    default:
                        var bad = InvalidUtf8[random.Next(InvalidUtf8.Length)];
                        var text = Encoding.ASCII.GetBytes(RandomAscii(random, random.Next(0, 40)));
                        var at = random.Next(text.Length + 1);
                        byte[] utf8 = [.. text[..at], .. bad, .. text[at..]];
                        return ($"invalid-utf8-{frame}-content_type-{Convert.ToHexStringLower(bad)}-at-{at}", Replace(shape, position, StrBytes(utf8)), ErrorCode.InvalidField);
                }

            case Field.Content:
                var contentLength = ProtocolLimits.DefaultMaxContentLength + 1 + random.Next(3000);
                return ($"too-large-{frame}-content-{contentLength}", Replace(shape, position, Bin(new byte[contentLength])), ErrorCode.ContentTooLarge);

            case Field.Direction:
                var direction = random.Next(2) == 0 ? (ulong)random.Next(2, 256) : (ulong)random.NextInt64(2, 1L << 32);
                return ($"out-of-range-{frame}-direction-{direction}", Replace(shape, position, UInt(direction)), ErrorCode.InvalidField);

            case Field.Limit:
                var limit = random.Next(3) switch { 0 => 0ul, 1 => (ulong)random.Next(201, 65536), _ => (ulong)random.NextInt64(201, 1L << 32) };
                return ($"out-of-range-{frame}-limit-{limit}", Replace(shape, position, UInt(limit)), ErrorCode.InvalidField);

            default:
                return null;
        }
    }

    // A str, bin, ext, array or map header claiming more than the rest of the body holds: the reader must
    // fail on the missing bytes without allocating for the claim.
    private static (string, byte[], ErrorCode) LyingHeader(Random random, List<Element> shape, string frame)
    {
        var filler = RandomBytes(random, random.Next(9));
        var position = random.Next(-1, shape.Count + 1); // -1: the body's own array header; Count: a trailing element
        var after = position < 0 ? shape.Sum(e => e.Bytes.Length) : filler.Length + shape.Skip(position + 1).Sum(e => e.Bytes.Length);
        var minimum = (ulong)after + 1;

        if (position < 0)
        {
            var claim = Claim(random, minimum, uint.MaxValue);
            byte[] header = claim <= 0xffff ? [0xdc, (byte)(claim >> 8), (byte)claim] : [0xdd, .. BigEndian((uint)claim)];
            return ($"lying-{frame}-array-header-{claim}", [.. header, .. shape.SelectMany(e => e.Bytes)], ErrorCode.MalformedFrame);
        }

        var (lie, label) = LyingValueHeader(random, minimum);
        byte[] element = [.. lie, .. filler];
        var body = position == shape.Count
            ? Array([.. shape.Select(e => e.Bytes), element])
            : Replace(shape, position, element);
        var where = position == shape.Count ? "trailing" : shape[position].Name;
        return ($"lying-{frame}-{where}-{label}", body, ErrorCode.MalformedFrame);
    }

    private static (byte[] Header, string Label) LyingValueHeader(Random random, ulong minimum)
    {
        // Families: str (a0 fix, d9, da, db), bin (c4, c5, c6), ext (c7, c8, c9: length then type byte),
        // array (dc, dd), map (de, df); each picks the narrowest width that can hold the claim.
        var family = random.Next(5);
        var width = random.Next(family is 3 or 4 ? 1 : 0, 3); // 0: 8-bit, 1: 16-bit, 2: 32-bit length
        var maximum = width switch { 0 => 0xffu, 1 => 0xffffu, _ => uint.MaxValue };
        if (minimum > maximum)
        {
            width = 2;
            maximum = uint.MaxValue;
        }

        var claim = Claim(random, minimum, maximum);
        byte[] length = width switch
        {
            0 => [(byte)claim],
            1 => [(byte)(claim >> 8), (byte)claim],
            _ => BigEndian((uint)claim),
        };
        var (marker, name) = (family, width) switch
        {
            (0, 0) => ((byte)0xd9, "str8"),
            (0, 1) => ((byte)0xda, "str16"),
            (0, _) => ((byte)0xdb, "str32"),
            (1, 0) => ((byte)0xc4, "bin8"),
            (1, 1) => ((byte)0xc5, "bin16"),
            (1, _) => ((byte)0xc6, "bin32"),
            (2, 0) => ((byte)0xc7, "ext8"),
            (2, 1) => ((byte)0xc8, "ext16"),
            (2, _) => ((byte)0xc9, "ext32"),
            (3, 1) => ((byte)0xdc, "array16"),
            (3, _) => ((byte)0xdd, "array32"),
            (_, 1) => ((byte)0xde, "map16"),
            _ => ((byte)0xdf, "map32"),
        };
        byte[] header = family == 2 ? [marker, .. length, 0x01] : [marker, .. length];
        return (header, $"{name}-claims-{claim}");
    }

    private static ulong Claim(Random random, ulong minimum, ulong maximum) => random.Next(3) switch
    {
        0 => minimum,
        1 => maximum,
        _ => (ulong)random.NextInt64((long)minimum, (long)maximum + 1),
    };

    private static (string, byte[], ErrorCode) DeepNesting(Random random, List<Element> shape, string frame)
    {
        // 17 levels is one past the skip depth limit; go well past it too.
        var levels = random.Next(2) == 0 ? random.Next(17, 40) : random.Next(40, 12_000);
        var nested = new List<byte>();
        for (var i = 0; i < levels; i++)
        {
            if (random.Next(2) == 0)
            {
                nested.Add(0x91);
            }
            else
            {
                nested.AddRange([0x81, 0x00]);
            }
        }

        nested.Add(0x00);
        var inField = random.Next(3) == 0 && shape.Count > 2;
        var position = inField ? random.Next(2, shape.Count) : shape.Count;
        var body = inField ? Replace(shape, position, [.. nested]) : Array([.. shape.Select(e => e.Bytes), [.. nested]]);
        return ($"nested-{frame}-{(inField ? shape[position].Name : "trailing")}-{levels}-levels", body, ErrorCode.MalformedFrame);
    }

    private static (string, byte[], ErrorCode) UnknownOpcode(Random random, List<Element> shape, string frame)
    {
        uint opcode;
        do
        {
            opcode = random.Next(4) switch
            {
                0 => (uint)random.Next(0, 0x20),
                1 => (uint)random.Next((int)FirstUnknown, 0x100),
                2 => (uint)random.Next(0x100, 0x10000),
                _ => (uint)random.NextInt64(0x10000, 1L << 32),
            };
        }
        while (opcode <= 0xff && KnownOpcodes.Contains((byte)opcode));

        // Readers accept any integer format that holds the value, so the opcode need not be the shortest.
        byte[] encoded = random.Next(3) switch
        {
            0 => UInt(opcode),
            1 => [0xce, .. BigEndian(opcode)],
            _ => [0xd3, 0, 0, 0, 0, .. BigEndian(opcode)],
        };
        return ($"unknown-opcode-{frame}-0x{opcode:x}", Replace(shape, 0, encoded), ErrorCode.UnknownOpcode);
    }

    private static (string, byte[], ErrorCode) NotAnArray(Random random)
    {
        if (random.Next(3) == 0)
        {
            byte first;
            do
            {
                first = (byte)random.Next(256);
            }
            while (first is (>= 0x90 and <= 0x9f) or 0xdc or 0xdd);

            return ($"not-an-array-random-{first:x2}", [first, .. RandomBytes(random, random.Next(40))], ErrorCode.MalformedFrame);
        }

        var (bytes, _, _, _, label) = RandomValue(random);
        if (bytes[0] is (>= 0x90 and <= 0x9f) or 0xdc or 0xdd)
        {
            bytes = [0x80]; // RandomValue made an array: use an empty map instead
            label = "empty-map";
        }

        return ($"not-an-array-{label}", [.. bytes, .. RandomBytes(random, random.Next(4))], ErrorCode.MalformedFrame);
    }

    private static (string, byte[], ErrorCode) BytesAfterTheArray(Random random, List<Element> shape, string frame)
    {
        var extra = RandomBytes(random, random.Next(1, 33));
        return ($"bytes-after-{frame}-{extra.Length}", [.. Array(shape.Select(e => e.Bytes)), .. extra], ErrorCode.MalformedFrame);
    }

    // An array header that does not match the elements: too few to hold opcode, request id and the
    // required fields, or more than follow (the reader runs out while skipping "trailing" fields).
    private static (string, byte[], ErrorCode)? WrongElementCount(Random random, List<Element> shape, string frame)
    {
        var count = random.Next(2) == 0 ? random.Next(0, shape.Count) : shape.Count + random.Next(1, 6);
        return count == shape.Count
            ? null
            : ($"element-count-{frame}-{count}-for-{shape.Count}", [.. ArrayHeader(count), .. shape.SelectMany(e => e.Bytes)], ErrorCode.MalformedFrame);
    }

    // The code a field answers for a value of the given kind, or null when the value is valid there.
    private static ErrorCode? Expect(Field field, ValueKind kind, ulong number, int length) => (field, kind) switch
    {
        (Field.Opcode, ValueKind.UInt) when number > uint.MaxValue => ErrorCode.MalformedFrame,
        (Field.Opcode, ValueKind.UInt) when number <= 0xff && KnownOpcodes.Contains((byte)number) => null,
        (Field.Opcode, ValueKind.UInt) => ErrorCode.UnknownOpcode,
        (Field.RequestId, ValueKind.UInt) => number > uint.MaxValue ? ErrorCode.MalformedFrame : null,
        (Field.Id, ValueKind.Bin) => length == 16 ? null : ErrorCode.InvalidField,
        (Field.Id or Field.ContentType or Field.Content, ValueKind.Nil) => ErrorCode.InvalidField,
        (Field.ContentType, ValueKind.Str) => length > 128 ? ErrorCode.InvalidField : null,
        (Field.Content, ValueKind.Bin) => length > ProtocolLimits.DefaultMaxContentLength ? ErrorCode.ContentTooLarge : null,
        (Field.Seq, ValueKind.UInt) => null,
        (Field.Direction, ValueKind.UInt) => number switch { <= 1 => null, <= uint.MaxValue => ErrorCode.InvalidField, _ => ErrorCode.MalformedFrame },
        (Field.Limit, ValueKind.UInt) => number switch { >= 1 and <= 200 => null, <= uint.MaxValue => ErrorCode.InvalidField, _ => ErrorCode.MalformedFrame },
        _ => ErrorCode.MalformedFrame,
    };

    private static (byte[] Bytes, ValueKind Kind, ulong Number, int Length, string Label) RandomValue(Random random)
    {
        switch (random.Next(10))
        {
            case 0:
                return ([0xc0], ValueKind.Nil, 0, 0, "nil");
            case 1:
                var flag = random.Next(2) == 0;
                return ([flag ? (byte)0xc3 : (byte)0xc2], ValueKind.Bool, 0, 0, flag ? "true" : "false");
            case 2:
                return random.Next(2) == 0
                    ? ([0xca, .. RandomBytes(random, 4)], ValueKind.Float, 0, 0, "float32")
                    : ([0xcb, .. RandomBytes(random, 8)], ValueKind.Float, 0, 0, "float64");
            case 3:
                var negative = random.Next(3) switch { 0 => -random.Next(1, 33), 1 => -random.Next(33, 100_000), _ => random.NextInt64(long.MinValue, 0) };
                return (Int(negative), ValueKind.NegativeInt, 0, 0, $"int-{negative.ToString(CultureInfo.InvariantCulture)[1..]}-below-zero");
            case 4:
                var number = RandomUInt(random);
                var wide = random.Next(3) == 0 && number <= long.MaxValue;
                return (wide ? [0xd3, .. BigEndian((uint)(number >> 32)), .. BigEndian((uint)number)] : UInt(number), ValueKind.UInt, number, 0, $"uint-{number}{(wide ? "-as-int64" : string.Empty)}");
            case 5:
                var strLength = random.Next(3) == 0 ? random.Next(129, 300) : random.Next(0, 40);
                return (Str(RandomAscii(random, strLength)), ValueKind.Str, 0, strLength, $"str-{strLength}");
            case 6:
                var binLength = random.Next(3) == 0 ? 16 : random.Next(0, 64);
                return (Bin(RandomBytes(random, binLength)), ValueKind.Bin, 0, binLength, $"bin-{binLength}");
            case 7:
                var items = random.Next(0, 4);
                return (Array(Enumerable.Range(0, items).Select(_ => UInt((ulong)random.Next(128)))), ValueKind.Array, 0, items, $"array-{items}");
            case 8:
                var entries = random.Next(0, 3);
                return ([(byte)(0x80 | entries), .. Enumerable.Range(0, entries * 2).Select(_ => (byte)random.Next(128))], ValueKind.Map, 0, entries, $"map-{entries}");
            default:
                var size = 1 << random.Next(5); // fixext 1, 2, 4, 8, 16: d4..d8
                return ([(byte)(0xd4 + BitLength(size)), (byte)random.Next(128), .. RandomBytes(random, size)], ValueKind.Ext, 0, size, $"fixext{size}");
        }
    }

    private static int BitLength(int powerOfTwo) => System.Numerics.BitOperations.Log2((uint)powerOfTwo);

    private static ulong RandomUInt(Random random) => random.Next(6) switch
    {
        0 => (ulong)random.Next(0, 128),
        1 => (ulong)random.Next(128, 256),
        2 => (ulong)random.Next(256, 65536),
        3 => (ulong)random.NextInt64(65536, 1L << 32),
        4 => uint.MaxValue + (ulong)random.Next(1, 1000),
        _ => (ulong)random.NextInt64(long.MaxValue) + (ulong)random.NextInt64(long.MaxValue),
    };

    // One valid SEND, HISTORY, EDIT, DELETE, READ or PING frame, element by element.
    private static List<Element> RandomShape(Random random)
    {
        var requestId = (ulong)random.NextInt64(1, 1L << 32);
        switch (random.Next(10))
        {
            case 0:
            case 1:
            case 2:
            case 3:
                return
                [
                    new("SEND", "opcode", UInt(0x10), Field.Opcode),
                    new("SEND", "request_id", UInt(requestId), Field.RequestId),
                    new("SEND", "conversation_id", Bin(RandomUuidV7(random)), Field.Id),
                    new("SEND", "message_id", Bin(RandomUuidV7(random)), Field.Id),
                    new("SEND", "content_type", Str(ContentTypes[random.Next(ContentTypes.Length)]), Field.ContentType),
                    new("SEND", "content", Bin(RandomBytes(random, random.Next(0, 65))), Field.Content),
                ];
            case 4:
            case 5:
                var fromSeq = random.Next(3) switch { 0 => 0ul, 1 => (ulong)random.Next(1, 100_000), _ => (ulong)random.NextInt64(long.MaxValue) };
                return
                [
                    new("HISTORY", "opcode", UInt(0x13), Field.Opcode),
                    new("HISTORY", "request_id", UInt(requestId), Field.RequestId),
                    new("HISTORY", "conversation_id", Bin(RandomUuidV7(random)), Field.Id),
                    new("HISTORY", "from_seq", UInt(fromSeq), Field.Seq),
                    new("HISTORY", "direction", UInt((ulong)random.Next(2)), Field.Direction),
                    new("HISTORY", "limit", UInt((ulong)random.Next(1, 201)), Field.Limit),
                ];
            case 6:
                return
                [
                    new("EDIT", "opcode", UInt(0x18), Field.Opcode),
                    new("EDIT", "request_id", UInt(requestId), Field.RequestId),
                    new("EDIT", "conversation_id", Bin(RandomUuidV7(random)), Field.Id),
                    new("EDIT", "message_id", Bin(RandomUuidV7(random)), Field.Id),
                    new("EDIT", "content_type", Str(ContentTypes[random.Next(ContentTypes.Length)]), Field.ContentType),
                    new("EDIT", "content", Bin(RandomBytes(random, random.Next(0, 65))), Field.Content),
                ];
            case 7:
                return
                [
                    new("DELETE", "opcode", UInt(0x19), Field.Opcode),
                    new("DELETE", "request_id", UInt(requestId), Field.RequestId),
                    new("DELETE", "conversation_id", Bin(RandomUuidV7(random)), Field.Id),
                    new("DELETE", "message_id", Bin(RandomUuidV7(random)), Field.Id),
                ];
            case 8:
                return
                [
                    new("READ", "opcode", UInt(0x1b), Field.Opcode),
                    new("READ", "request_id", UInt(requestId), Field.RequestId),
                    new("READ", "conversation_id", Bin(RandomUuidV7(random)), Field.Id),
                    new("READ", "seq", UInt((ulong)random.NextInt64(long.MaxValue)), Field.Seq),
                ];
            default:
                return
                [
                    new("PING", "opcode", UInt(0x05), Field.Opcode),
                    new("PING", "request_id", UInt(requestId), Field.RequestId),
                ];
        }
    }

    private static byte[] RandomUuidV7(Random random)
    {
        var bytes = RandomBytes(random, 16);
        bytes[6] = (byte)(0x70 | (bytes[6] & 0x0f));
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3f));
        return bytes;
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static string RandomAscii(Random random, int length) =>
        string.Create(length, random, static (span, r) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = (char)r.Next(0x20, 0x7f);
            }
        });

    private static byte[] Replace(List<Element> shape, int position, byte[] replacement) =>
        Array(shape.Select((e, i) => i == position ? replacement : e.Bytes));

    // A minimal MessagePack writer (shortest forms, as the protocol's writers use), kept here so this
    // file needs nothing but ChatWire.Protocol.
    private static byte[] Array(IEnumerable<byte[]> elements)
    {
        var list = elements.ToList();
        return [.. ArrayHeader(list.Count), .. list.SelectMany(e => e)];
    }

    private static byte[] ArrayHeader(int count) => count switch
    {
        < 16 => [(byte)(0x90 | count)],
        <= 0xffff => [0xdc, (byte)(count >> 8), (byte)count],
        _ => [0xdd, .. BigEndian((uint)count)],
    };

    private static byte[] UInt(ulong value) => value switch
    {
        <= 0x7f => [(byte)value],
        <= 0xff => [0xcc, (byte)value],
        <= 0xffff => [0xcd, (byte)(value >> 8), (byte)value],
        <= uint.MaxValue => [0xce, .. BigEndian((uint)value)],
        _ => [0xcf, .. BigEndian((uint)(value >> 32)), .. BigEndian((uint)value)],
    };

    private static byte[] Int(long negative) => negative switch
    {
        >= -32 => [(byte)(sbyte)negative],
        >= sbyte.MinValue => [0xd0, (byte)(sbyte)negative],
        >= short.MinValue => [0xd1, (byte)(negative >> 8), (byte)negative],
        >= int.MinValue => [0xd2, .. BigEndian((uint)(int)negative)],
        _ => [0xd3, .. BigEndian((uint)(negative >> 32)), .. BigEndian((uint)negative)],
    };

    private static byte[] Str(string value) => StrBytes(Encoding.UTF8.GetBytes(value));

    private static byte[] StrBytes(byte[] utf8) => utf8.Length switch
    {
        < 32 => [(byte)(0xa0 | utf8.Length), .. utf8],
        <= 0xff => [0xd9, (byte)utf8.Length, .. utf8],
        <= 0xffff => [0xda, (byte)(utf8.Length >> 8), (byte)utf8.Length, .. utf8],
        _ => [0xdb, .. BigEndian((uint)utf8.Length), .. utf8],
    };

    private static byte[] Bin(byte[] data) => data.Length switch
    {
        <= 0xff => [0xc4, (byte)data.Length, .. data],
        <= 0xffff => [0xc5, (byte)(data.Length >> 8), (byte)data.Length, .. data],
        _ => [0xc6, .. BigEndian((uint)data.Length), .. data],
    };

    private static byte[] Frame(byte[] body) => [.. BigEndian((uint)body.Length), .. body];

    private static byte[] BigEndian(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    private sealed record Element(string FrameName, string Name, byte[] Bytes, Field Field);
}
