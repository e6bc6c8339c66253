using System.Buffers;
using System.Text.RegularExpressions;
using ChatWire.Protocol.Frames;
using ChatWire.Protocol.Tests.Support;

namespace ChatWire.Protocol.Tests;

/// <summary>What a hostile or broken client can put in a body, field by field (docs/protocol.md §2.3, §2.4, §3).</summary>
public partial class FrameCodecTests
{
    private enum FieldKind
    {
        Opcode,
        RequestId,
        U32,
        U64,
        Id,
        Str,
        Bin,
        StrArray,
    }

    private enum ValueClass
    {
        Nil,
        Bool,
        Float,
        NegativeInt,
        SmallUInt,
        HugeUInt,
        Str,
        ShortBin,
        Bin16,
        Array,
        Map,
        Ext,
    }

    private static readonly (string Name, byte[] Bytes, ValueClass Class)[] WrongValues =
    [
        ("nil", [0xc0], ValueClass.Nil),
        ("false", [0xc2], ValueClass.Bool),
        ("true", [0xc3], ValueClass.Bool),
        ("float32", [0xca, 0x3f, 0x80, 0, 0], ValueClass.Float),
        ("float64", [0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0], ValueClass.Float),
        ("negative fixint", [0xff], ValueClass.NegativeInt),
        ("int8 -128", [0xd0, 0x80], ValueClass.NegativeInt),
        ("int64 -1", [0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], ValueClass.NegativeInt),
        ("fixint 5", [0x05], ValueClass.SmallUInt),
        ("uint64 max", [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], ValueClass.HugeUInt),
        ("str", [0xa1, 0x78], ValueClass.Str),
        ("bin 1", [0xc4, 0x01, 0x00], ValueClass.ShortBin),
        ("bin 16", Raw.Bin(new byte[16]), ValueClass.Bin16),
        ("empty array", [0x90], ValueClass.Array),
        ("array [1]", [0x91, 0x01], ValueClass.Array),
        ("empty map", [0x80], ValueClass.Map),
        ("map {1: 1}", [0x81, 0x01, 0x01], ValueClass.Map),
        ("fixext 1", [0xd4, 0x01, 0x00], ValueClass.Ext),
        ("ext 8", [0xc7, 0x01, 0x05, 0x00], ValueClass.Ext),
    ];

    public static TheoryData<string, int> ClientFramePositions()
    {
        var data = new TheoryData<string, int>();
        foreach (var frame in new[] { "HELLO", "AUTH", "PING", "SEND", "HISTORY" })
        {
            for (var position = 0; position < ValidClientFrame(frame).Length; position++)
            {
                data.Add(frame, position);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ClientFramePositions))]
    public void ReadBody_WrongTypeInField_RejectedWithTheRightCodeAndRequestId(string frame, int position)
    {
        var elements = ValidClientFrame(frame);
        var kind = elements[position].Kind;
        var failures = new List<string>();
        var tried = 0;

        foreach (var (name, bytes, valueClass) in WrongValues)
        {
            if (IsValidFor(kind, valueClass))
            {
                continue;
            }

            tried++;
            var body = Replace(elements, position, bytes);
            var expected = NilOrBadLengthIsInvalidField(kind, valueClass) ? ErrorCode.InvalidField : ErrorCode.MalformedFrame;
            var expectedRequestId = position < 2 ? 0u : 7u;

            var (error, requestId, crash) = DecodeCatchingEverything(body);

            if (crash is not null)
            {
                failures.Add($"{name}: threw {crash.GetType().Name}, not ProtocolException");
            }
            else if (error != expected || requestId != expectedRequestId)
            {
                failures.Add($"{name}: got {error?.ToString() ?? "success"} (request id {requestId}), expected {expected} (request id {expectedRequestId})");
            }
        }

        Assert.True(tried > 0);
        Assert.Empty(failures);
    }

    [Fact]
    public void ReadBody_WrongTypeInACapability_RejectedWithRequestId()
    {
        foreach (var (name, bytes, valueClass) in WrongValues)
        {
            if (valueClass == ValueClass.Str)
            {
                continue;
            }

            var body = Raw.Array(Raw.UInt(0x01), Raw.UInt(7), Raw.UInt(1), Raw.Str("cli"), Raw.Array(Raw.Str("presence"), bytes));
            var expected = valueClass == ValueClass.Nil ? ErrorCode.InvalidField : ErrorCode.MalformedFrame;

            var (error, requestId, crash) = DecodeCatchingEverything(body);

            Assert.True(crash is null, $"{name}: {crash}");
            Assert.True(error == expected && requestId == 7, $"{name}: got {error} (request id {requestId})");
        }
    }

    public static TheoryData<string, int> RequiredFieldPositions()
    {
        var data = new TheoryData<string, int>();
        foreach (var frame in new[] { "HELLO", "AUTH", "SEND", "HISTORY" })
        {
            for (var position = 2; position < ValidClientFrame(frame).Length; position++)
            {
                data.Add(frame, position);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(RequiredFieldPositions))]
    public void ReadBody_NilInRequiredField_RejectedWithRequestId(string frame, int position)
    {
        var elements = ValidClientFrame(frame);
        var expected = elements[position].Kind is FieldKind.Id or FieldKind.Str or FieldKind.Bin
            ? ErrorCode.InvalidField
            : ErrorCode.MalformedFrame;

        var error = ServerDecoder.Decode(new ReadOnlySequence<byte>(Replace(elements, position, Raw.Nil)), ProtocolLimits.Default, out var requestId);

        Assert.Equal(expected, error);
        Assert.Equal(7u, requestId);
    }

    [Theory]
    [InlineData("AUTH", 3, 15)]
    [InlineData("AUTH", 3, 17)]
    [InlineData("SEND", 2, 15)]
    [InlineData("SEND", 2, 17)]
    [InlineData("SEND", 3, 0)]
    [InlineData("SEND", 3, 15)]
    [InlineData("SEND", 3, 17)]
    [InlineData("HISTORY", 2, 15)]
    [InlineData("HISTORY", 2, 17)]
    [InlineData("HISTORY", 2, 255)]
    public void ReadBody_IdNotSixteenBytes_InvalidField(string frame, int position, int length)
    {
        var body = Replace(ValidClientFrame(frame), position, Raw.Bin(new byte[length]));

        var error = ServerDecoder.Decode(new ReadOnlySequence<byte>(body), ProtocolLimits.Default, out var requestId);

        Assert.Equal(ErrorCode.InvalidField, error);
        Assert.Equal(7u, requestId);
    }

    // Regression: MessagePack-CSharp's ReadBytes accepts a str, so a 16-byte str passed as an id.
    [Theory]
    [InlineData("AUTH", 3)]
    [InlineData("SEND", 2)]
    [InlineData("SEND", 3)]
    [InlineData("HISTORY", 2)]
    public void ReadBody_SixteenByteStrAsId_Malformed(string frame, int position)
    {
        var body = Replace(ValidClientFrame(frame), position, Raw.Str("0123456789abcdef"));

        var error = ServerDecoder.Decode(new ReadOnlySequence<byte>(body), ProtocolLimits.Default, out var requestId);

        Assert.Equal(ErrorCode.MalformedFrame, error);
        Assert.Equal(7u, requestId);
    }

    // Regression: a fixstr passed as distribution_id (its reader used ReadBytes, which takes a str).
    [Theory]
    [InlineData("abc")]
    [InlineData("0123456789abcdef")]
    public void ReadBody_StrAsDistributionId_Malformed_ABinOfTheSameBytesAccepted(string value)
    {
        byte[] Send(byte[] distributionId) => Raw.Array(
            Raw.UInt(0x10), Raw.UInt(9), Raw.Id(Conversation), Raw.Id(Guid.CreateVersion7()), Raw.Str("text/plain"), Raw.Bin("x"u8.ToArray()),
            Raw.Id(Guid.Empty), Raw.ArrayHeader(0), Raw.UInt(0), Raw.UInt(0), distributionId);

        var asStr = ServerDecoder.Decode(new ReadOnlySequence<byte>(Send(Raw.Str(value))), ProtocolLimits.Default, out var requestId);
        var asBin = FrameCodec.Decode<Send>(new ReadOnlySequence<byte>(Send(Raw.Bin(System.Text.Encoding.ASCII.GetBytes(value)))), ProtocolLimits.Default);

        Assert.Equal((ErrorCode.MalformedFrame, 9u), (asStr, requestId));
        Assert.Equal(value, System.Text.Encoding.ASCII.GetString(asBin.DistributionId.Span));
    }

    [Fact]
    public void ReadBody_StrAsContent_Malformed()
    {
        var body = Replace(ValidClientFrame("SEND"), 5, Raw.Str("hello"));

        Assert.Equal(ErrorCode.MalformedFrame, ServerDecoder.Decode(new ReadOnlySequence<byte>(body), ProtocolLimits.Default, out _));
    }

    public static TheoryData<string, int, string> InvalidUtf8Cases()
    {
        string[] sequences =
        [
            "c328", // a lead byte followed by ASCII
            "eda080", // an encoded surrogate (U+D800)
            "c0af", // an overlong '/'
            "e08080", // an overlong NUL
            "ff", // never valid in UTF-8
            "f4908080", // above U+10FFFF
            "e282", // a truncated 3-byte sequence
            "61f09f98", // a truncated 4-byte sequence at the end
            "80", // a lone continuation byte
        ];
        var data = new TheoryData<string, int, string>();
        foreach (var (frame, position) in new[] { ("HELLO", 3), ("AUTH", 2), ("SEND", 4) })
        {
            foreach (var hex in sequences)
            {
                data.Add(frame, position, hex);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(InvalidUtf8Cases))]
    public void ReadBody_InvalidUtf8InAString_InvalidField(string frame, int position, string utf8Hex)
    {
        var body = Replace(ValidClientFrame(frame), position, Raw.StrBytes(Convert.FromHexString(utf8Hex)));

        var error = ServerDecoder.Decode(new ReadOnlySequence<byte>(body), ProtocolLimits.Default, out var requestId);

        Assert.Equal(ErrorCode.InvalidField, error);
        Assert.Equal(7u, requestId);
    }

    [Fact]
    public void ReadBody_InvalidUtf8InACapability_InvalidField()
    {
        var body = Raw.Array(Raw.UInt(0x01), Raw.UInt(7), Raw.UInt(1), Raw.Str("cli"), Raw.Array(Raw.StrBytes([0xed, 0xa0, 0x80])));

        Assert.Equal(ErrorCode.InvalidField, ServerDecoder.Decode(new ReadOnlySequence<byte>(body), ProtocolLimits.Default, out _));
    }

    [Theory]
    [InlineData("client_name 65 bytes", ErrorCode.InvalidField)]
    [InlineData("client_name 22 euro signs (66 bytes)", ErrorCode.InvalidField)]
    [InlineData("17 capabilities", ErrorCode.InvalidField)]
    [InlineData("capability 33 bytes", ErrorCode.InvalidField)]
    [InlineData("session_token 129 bytes", ErrorCode.InvalidField)]
    [InlineData("content_type 129 bytes", ErrorCode.InvalidField)]
    [InlineData("content 258049 bytes", ErrorCode.ContentTooLarge)]
    public void ReadBody_FieldOverItsLimit_Rejected(string what, ErrorCode expected)
    {
        var body = what switch
        {
            "client_name 65 bytes" => Replace(ValidClientFrame("HELLO"), 3, Raw.Str(new string('n', 65))),
            "client_name 22 euro signs (66 bytes)" => Replace(ValidClientFrame("HELLO"), 3, Raw.Str(new string('€', 22))),
            "17 capabilities" => Replace(ValidClientFrame("HELLO"), 4, Raw.Array([.. Enumerable.Range(0, 17).Select(i => Raw.Str($"c{i}"))])),
            "capability 33 bytes" => Replace(ValidClientFrame("HELLO"), 4, Raw.Array(Raw.Str(new string('c', 33)))),
            "session_token 129 bytes" => Replace(ValidClientFrame("AUTH"), 2, Raw.Str(new string('t', 129))),
            "content_type 129 bytes" => Replace(ValidClientFrame("SEND"), 4, Raw.Str(new string('x', 129))),
            "content 258049 bytes" => Replace(ValidClientFrame("SEND"), 5, Raw.Bin(new byte[ProtocolLimits.DefaultMaxContentLength + 1])),
            _ => throw new ArgumentOutOfRangeException(nameof(what)),
        };

        var error = ServerDecoder.Decode(new ReadOnlySequence<byte>(body), ProtocolLimits.Default, out var requestId);

        Assert.Equal(expected, error);
        Assert.Equal(7u, requestId);
    }

    // A SEND's mention list over 50 ids (51, or 10,000 in one frame) is INVALID_FIELD with the request id; 50 are taken.
    [Theory]
    [InlineData(50, null)]
    [InlineData(51, ErrorCode.InvalidField)]
    [InlineData(10_000, ErrorCode.InvalidField)]
    public void Send_MentionsOverFifty_InvalidField(int count, ErrorCode? expected)
    {
        var send = ValidClientFrame("SEND").Select(e => e.Bytes).ToList();
        send.Add(Raw.Id(Guid.Empty));
        send.Add(Raw.Array([.. Enumerable.Range(0, count).Select(_ => Raw.Id(Guid.CreateVersion7()))]));

        var error = ServerDecoder.Decode(new ReadOnlySequence<byte>(Raw.Array([.. send])), ProtocolLimits.Default, out var requestId);

        Assert.Equal(expected, error);
        Assert.Equal(7u, requestId);
    }

    [Fact]
    public void ReadBody_ContentOverACustomLimit_ContentTooLarge()
    {
        var limits = new ProtocolLimits { MaxContentLength = 10 };
        var atLimit = Replace(ValidClientFrame("SEND"), 5, Raw.Bin(new byte[10]));
        var overLimit = Replace(ValidClientFrame("SEND"), 5, Raw.Bin(new byte[11]));

        Assert.Null(ServerDecoder.Decode(new ReadOnlySequence<byte>(atLimit), limits, out _));
        Assert.Equal(ErrorCode.ContentTooLarge, ServerDecoder.Decode(new ReadOnlySequence<byte>(overLimit), limits, out _));
    }

    [Theory]
    [InlineData(0u, 0u)]
    [InlineData(0u, 201u)]
    [InlineData(1u, uint.MaxValue)]
    [InlineData(2u, 50u)]
    [InlineData(uint.MaxValue, 50u)]
    public void History_DirectionOrLimitOutOfRange_InvalidField(uint direction, uint limit)
    {
        var body = Raw.Array(Raw.UInt(0x13), Raw.UInt(7), Raw.Id(Conversation), Raw.UInt(0), Raw.UInt(direction), Raw.UInt(limit));

        AssertRejected<History>(body, ErrorCode.InvalidField, 7);
    }

    [Fact]
    public void History_DirectionOutOfRangeAndAThreadRootOfTheWrongType_MalformedFrame_TheFieldsAreDecodedFirst()
    {
        var body = Raw.Array(Raw.UInt(0x13), Raw.UInt(7), Raw.Id(Conversation), Raw.UInt(0), Raw.UInt(2), Raw.UInt(50), Raw.UInt(5));

        AssertRejected<History>(body, ErrorCode.MalformedFrame, 7);
    }

    [Theory]
    [InlineData(0u, 1u)]
    [InlineData(1u, 200u)]
    public void History_DirectionAndLimitAtTheirBounds_Accepted(uint direction, uint limit)
    {
        var body = Raw.Array(Raw.UInt(0x13), Raw.UInt(7), Raw.Id(Conversation), Raw.UInt(0), Raw.UInt(direction), Raw.UInt(limit));

        var decoded = FrameCodec.Decode<History>(new ReadOnlySequence<byte>(body), ProtocolLimits.Default);

        Assert.Equal(((HistoryDirection)direction, limit), (decoded.Direction, decoded.Limit));
    }

    public static TheoryData<string, string> LyingHeaders()
    {
        string[] headers =
        [
            "ddffffffff", // array 32 of 2^32-1
            "dd7fffffff", // array 32 of 2^31-1
            "dfffffffff", // map 32 of 2^32-1
            "dbffffffff", // str 32 of 2^32-1 (negative as an int32)
            "db80000000", // str 32 of 2^31
            "db7fffffff", // str 32 of 2^31-1
            "c6ffffffff", // bin 32 of 2^32-1
            "c680000000", // bin 32 of 2^31
            "c9ffffffff01", // ext 32 of 2^32-1
            "dcffff", // array 16 of 65535
            "daffff", // str 16 of 65535
        ];
        string[] placements = ["HELLO capabilities", "PING trailing", "SEND conversation_id", "SEND content_type", "SEND content", "SEND trailing", "HISTORY from_seq"];
        var data = new TheoryData<string, string>();
        foreach (var placement in placements)
        {
            foreach (var header in headers)
            {
                data.Add(placement, header);
            }
        }

        return data;
    }

    // A length or count that claims more than the frame holds must fail as a protocol error before
    // anything is allocated: not OutOfMemoryException, EndOfStreamException or ArgumentOutOfRangeException.
    [Theory]
    [MemberData(nameof(LyingHeaders))]
    public void ReadBody_HeaderClaimingMoreThanTheFrameHolds_MalformedProtocolException(string placement, string headerHex)
    {
        byte[] lie = [.. Convert.FromHexString(headerHex), 0x01, 0x02];
        var body = placement switch
        {
            "HELLO capabilities" => Replace(ValidClientFrame("HELLO"), 4, lie),
            "PING trailing" => Raw.Array([.. ValidClientFrame("PING").Select(e => e.Bytes), lie]),
            "SEND conversation_id" => Replace(ValidClientFrame("SEND"), 2, lie),
            "SEND content_type" => Replace(ValidClientFrame("SEND"), 4, lie),
            "SEND content" => Replace(ValidClientFrame("SEND"), 5, lie),
            "SEND trailing" => Raw.Array([.. ValidClientFrame("SEND").Select(e => e.Bytes), lie]),
            "HISTORY from_seq" => Replace(ValidClientFrame("HISTORY"), 3, lie),
            _ => throw new ArgumentOutOfRangeException(nameof(placement)),
        };

        var (error, requestId, crash) = DecodeCatchingEverything(body);

        Assert.Null(crash);
        Assert.Equal(ErrorCode.MalformedFrame, error);
        Assert.Equal(7u, requestId);
    }

    // A count of 2^31 or more overflows the library's int; the opcode and request id after it are still read.
    [Theory]
    [InlineData("ddffffffff")]
    [InlineData("dd80000000")]
    [InlineData("dd7fffffff")]
    public void ReadHeader_ArrayHeaderClaimingBillionsOfElements_MalformedWithTheRequestId(string headerHex)
    {
        var (error, requestId, crash) = DecodeCatchingEverything([.. Convert.FromHexString(headerHex), 0x05, 0x07]);

        Assert.Null(crash);
        Assert.Equal((ErrorCode.MalformedFrame, 7u), (error, requestId));
    }

    [Theory]
    [InlineData("dd")]
    [InlineData("dd8000")]
    public void ReadHeader_Array32HeaderCutShort_MalformedWithRequestIdZero(string headerHex)
    {
        var (error, requestId, crash) = DecodeCatchingEverything(Convert.FromHexString(headerHex));

        Assert.Null(crash);
        Assert.Equal((ErrorCode.MalformedFrame, 0u), (error, requestId));
    }

    [Theory]
    [InlineData("PING trailing arrays")]
    [InlineData("SEND trailing maps")]
    [InlineData("SEND content arrays")]
    [InlineData("HISTORY_PAGE message trailing arrays")]
    public void ReadBody_TenThousandLevelsOfNesting_MalformedWithoutStackOverflow(string where)
    {
        const int Depth = 10_000;
        var body = where switch
        {
            "PING trailing arrays" => Raw.Array(Raw.UInt(0x05), Raw.UInt(7), Raw.NestedArrays(Depth)),
            "SEND trailing maps" => Raw.Array([.. ValidClientFrame("SEND").Select(e => e.Bytes), Raw.NestedMaps(Depth)]),
            "SEND content arrays" => Replace(ValidClientFrame("SEND"), 5, Raw.NestedArrays(Depth)),
            "HISTORY_PAGE message trailing arrays" => Raw.Array(
                Raw.UInt(0x14), Raw.UInt(7), Raw.Id(Conversation),
                [.. Raw.ArrayHeader(1), .. Raw.Array(
                    Raw.Id(MessageId), Raw.UInt(1), Raw.Id(User), Raw.Id(Device), Raw.UInt(0), Raw.Str("t"), Raw.Bin([]), Raw.NestedArrays(Depth))],
                [0xc3]),
            _ => throw new ArgumentOutOfRangeException(nameof(where)),
        };

        var (error, requestId, crash) = DecodeCatchingEverything(body);

        Assert.Null(crash);
        Assert.Equal(ErrorCode.MalformedFrame, error);
        Assert.Equal(7u, requestId);
    }

    [Fact]
    public void ErrorCodesName_EveryCode_UniqueStableScreamingSnakeName()
    {
        var names = ErrorCodes.All.Select(ErrorCodes.Name).ToList();

        Assert.Equal(names.Count, names.Distinct(StringComparer.Ordinal).Count());
        Assert.All(names, name => Assert.Matches(new Regex("^[A-Z]+(_[A-Z]+)*$"), name));
        Assert.DoesNotContain("UNKNOWN", names);
    }

    [Fact]
    public void ErrorCodesName_UndefinedNumber_Unknown()
    {
        Assert.Equal("UNKNOWN", ErrorCodes.Name((ErrorCode)4999));
    }

    [Fact]
    public void ErrorCodesAll_EveryEnumValue_InAscendingOrder()
    {
        var numbers = ErrorCodes.All.Select(c => (int)c).ToList();

        Assert.Equal(Enum.GetValues<ErrorCode>().Length, numbers.Count);
        Assert.Equal(numbers.Order(), numbers);
    }

    // Valid client frames with request id 7, one entry per body element.
    private static (byte[] Bytes, FieldKind Kind)[] ValidClientFrame(string frame) => frame switch
    {
        "HELLO" =>
        [
            (Raw.UInt(0x01), FieldKind.Opcode), (Raw.UInt(7), FieldKind.RequestId), (Raw.UInt(1), FieldKind.U32),
            (Raw.Str("cli"), FieldKind.Str), (Raw.Array(Raw.Str("presence")), FieldKind.StrArray),
        ],
        "AUTH" =>
        [
            (Raw.UInt(0x03), FieldKind.Opcode), (Raw.UInt(7), FieldKind.RequestId), (Raw.Str("token"), FieldKind.Str),
            (Raw.Id(Device), FieldKind.Id),
        ],
        "PING" => [(Raw.UInt(0x05), FieldKind.Opcode), (Raw.UInt(7), FieldKind.RequestId)],
        "SEND" =>
        [
            (Raw.UInt(0x10), FieldKind.Opcode), (Raw.UInt(7), FieldKind.RequestId), (Raw.Id(Conversation), FieldKind.Id),
            (Raw.Id(MessageId), FieldKind.Id), (Raw.Str("text/plain"), FieldKind.Str), (Raw.Bin("hi"u8.ToArray()), FieldKind.Bin),
        ],
        "HISTORY" =>
        [
            (Raw.UInt(0x13), FieldKind.Opcode), (Raw.UInt(7), FieldKind.RequestId), (Raw.Id(Conversation), FieldKind.Id),
            (Raw.UInt(42), FieldKind.U64), (Raw.UInt(1), FieldKind.U32), (Raw.UInt(50), FieldKind.U32),
        ],
        _ => throw new ArgumentOutOfRangeException(nameof(frame)),
    };

    private static byte[] Replace((byte[] Bytes, FieldKind Kind)[] elements, int position, byte[] replacement) =>
        Raw.Array([.. elements.Select((e, i) => i == position ? replacement : e.Bytes)]);

    // A value of the field's own type is not a wrong type (an out-of-range integer is tested on its own).
    private static bool IsValidFor(FieldKind kind, ValueClass value) => (kind, value) switch
    {
        (FieldKind.Opcode or FieldKind.RequestId or FieldKind.U32, ValueClass.SmallUInt) => true,
        (FieldKind.U64, ValueClass.SmallUInt or ValueClass.HugeUInt) => true,
        (FieldKind.Id, ValueClass.Bin16) => true,
        (FieldKind.Str, ValueClass.Str) => true,
        (FieldKind.Bin, ValueClass.ShortBin or ValueClass.Bin16) => true,
        (FieldKind.StrArray, ValueClass.Array) => true,
        _ => false,
    };

    private static bool NilOrBadLengthIsInvalidField(FieldKind kind, ValueClass value) =>
        (value == ValueClass.Nil && kind is FieldKind.Id or FieldKind.Str or FieldKind.Bin)
        || (kind == FieldKind.Id && value == ValueClass.ShortBin);

    private static (ErrorCode? Error, uint RequestId, Exception? Crash) DecodeCatchingEverything(byte[] body)
    {
        try
        {
            var error = ServerDecoder.Decode(new ReadOnlySequence<byte>(body), ProtocolLimits.Default, out var requestId);
            return (error, requestId, null);
        }
#pragma warning disable CA1031 // Anything but ProtocolException escaping the codec is the failure under test.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return (null, 0, ex);
        }
    }
}
