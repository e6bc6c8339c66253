using System.Buffers;
using System.Globalization;
using System.Text;
using ChatWire.Protocol.Frames;
using ChatWire.Protocol.Tests.Support;
using MessagePack;

namespace ChatWire.Protocol.Tests;

/// <summary>Round trips, golden bytes, segment splits and forward compatibility (docs/protocol.md §2, §4).</summary>
public partial class FrameCodecTests
{
    private static readonly Guid Conversation = Guid.Parse("019abbd0-9380-7a41-a3c9-5e8d0f7b2c16");
    private static readonly Guid MessageId = Guid.Parse("019abbda-6b6c-7b12-8e4d-9c1a2b3c4d5e");
    private static readonly Guid User = Guid.Parse("019abbbe-4400-7c3a-9f12-3b5c7d9e1f20");
    private static readonly Guid Device = Guid.Parse("019abbc7-9bf9-7e55-8b07-6d2f1a9c3e48");

    [Fact]
    public void Hello_RoundTrip_PreservesEveryFieldAtTheLimits()
    {
        var capabilities = Enumerable.Range(0, 16).Select(i => $"{i:D2}".PadRight(32, 'c')).ToArray();
        var name = new string('é', 32); // 64 UTF-8 bytes
        var frame = new Hello(uint.MaxValue, uint.MaxValue, name, capabilities);

        var decoded = RoundTrip(frame);

        Assert.Equal(frame.RequestId, decoded.RequestId);
        Assert.Equal(frame.ProtocolVersion, decoded.ProtocolVersion);
        Assert.Equal(name, decoded.ClientName);
        Assert.Equal(capabilities, decoded.Capabilities);
    }

    [Fact]
    public void Hello_RoundTrip_EmptyNameAndNoCapabilities()
    {
        var decoded = RoundTrip(new Hello(1, 1, string.Empty, []));

        Assert.Equal(string.Empty, decoded.ClientName);
        Assert.Empty(decoded.Capabilities);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(1764087600500L)]
    [InlineData(-1L)]
    [InlineData(long.MinValue)]
    [InlineData(long.MaxValue)]
    public void Welcome_RoundTrip_PreservesEveryField(long serverTime)
    {
        var frame = new Welcome(uint.MaxValue, 1, 262144, 258048, 30000, 10000, serverTime);

        Assert.Equal(frame, RoundTrip(frame));
    }

    [Fact]
    public void Auth_RoundTrip_TokenAtTheLimit()
    {
        var frame = new Auth(2, new string('t', 128), Device);

        Assert.Equal(frame, RoundTrip(frame));
    }

    [Fact]
    public void AuthOk_RoundTrip_PreservesBothIds()
    {
        var frame = new AuthOk(2, User, Device);

        Assert.Equal(frame, RoundTrip(frame));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(127u)]
    [InlineData(128u)]
    [InlineData(uint.MaxValue)]
    public void PingAndPong_RoundTrip_PreserveTheRequestId(uint requestId)
    {
        Assert.Equal(new Ping(requestId), RoundTrip(new Ping(requestId)));
        Assert.Equal(new Pong(requestId), RoundTrip(new Pong(requestId)));
    }

    [Fact]
    public void ErrorFrame_RoundTrip_EveryCodeWithAMessageAtTheLimit()
    {
        var message = new string('m', 1024);
        foreach (var code in ErrorCodes.All)
        {
            var frame = new ErrorFrame(5, code, message);

            Assert.Equal(frame, RoundTrip(frame));
        }
    }

    [Fact]
    public void Send_RoundTrip_ContentAndContentTypeAtTheLimits()
    {
        var content = new byte[ProtocolLimits.DefaultMaxContentLength];
        new Random(7).NextBytes(content);
        var frame = new Send(7, Conversation, MessageId, new string('x', 128), content);

        var decoded = RoundTrip(frame);

        Assert.Equal((frame.RequestId, frame.ConversationId, frame.MessageId, frame.ContentType), (decoded.RequestId, decoded.ConversationId, decoded.MessageId, decoded.ContentType));
        Assert.True(content.AsSpan().SequenceEqual(decoded.Content.Span));
    }

    [Fact]
    public void Send_RoundTrip_EmptyContent()
    {
        var decoded = RoundTrip(new Send(7, Conversation, MessageId, "text/plain", ReadOnlyMemory<byte>.Empty));

        Assert.True(decoded.Content.IsEmpty);
    }

    // The common content types come back as one cached string (no allocation per frame); any other, a near miss in
    // case or a prefix included, and a common one split across segments, is read as it was sent.
    [Theory]
    [InlineData("text/plain", true)]
    [InlineData("application/vnd.chatwire.e2e", true)]
    [InlineData("Text/Plain", false)]
    [InlineData("text/plai", false)]
    [InlineData("text/plain; charset=utf-8", false)]
    public void Decode_CommonContentType_OneCachedString(string contentType, bool cached)
    {
        var body = FrameCodec.ToArray(new Send(7, Conversation, MessageId, contentType, "hi"u8.ToArray()))[4..];

        var first = FrameCodec.Decode<Send>(new ReadOnlySequence<byte>(body), ProtocolLimits.Default).ContentType;
        var second = FrameCodec.Decode<Send>(new ReadOnlySequence<byte>(body), ProtocolLimits.Default).ContentType;
        var split = FrameCodec.Decode<Send>(Segments.Split(body, body.Length - 7), ProtocolLimits.Default);

        Assert.Equal((contentType, contentType, contentType), (first, second, split.ContentType));
        Assert.Equal(cached, ReferenceEquals(first, second));
        Assert.Equal("hi"u8.ToArray(), split.Content.ToArray());
        Assert.Equal("hi"u8.ToArray(), FrameCodec.Decode<Send>(new ReadOnlySequence<byte>(body), ProtocolLimits.Default).Content.ToArray());
    }

    [Fact]
    public void SendAck_RoundTrip_LargestSeq()
    {
        var frame = new SendAck(7, Conversation, MessageId, ulong.MaxValue, 1764088245123);

        Assert.Equal(frame, RoundTrip(frame));
    }

    [Fact]
    public void EventFrame_RoundTrip_PreservesEveryField()
    {
        var message = Message(43, "hi alice!");

        var decoded = RoundTrip(new EventFrame(message));

        Assert.Equal(0u, decoded.RequestId);
        AssertSameMessage(message, decoded.Event);
    }

    [Theory]
    [InlineData(0ul, HistoryDirection.Before, 1u)]
    [InlineData(42ul, HistoryDirection.After, 200u)]
    [InlineData(ulong.MaxValue, HistoryDirection.Before, 50u)]
    public void History_RoundTrip_PreservesEveryField(ulong fromSeq, HistoryDirection direction, uint limit)
    {
        var frame = new History(8, Conversation, fromSeq, direction, limit);

        Assert.Equal(frame, RoundTrip(frame));
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(2, true)]
    [InlineData(200, true)]
    public void HistoryPage_RoundTrip_PreservesEveryMessage(int count, bool hasMore)
    {
        var messages = Enumerable.Range(1, count).Select(i => Message((ulong)i, $"message {i}")).ToArray();

        var decoded = RoundTrip(new HistoryPage(8, Conversation, messages, hasMore));

        Assert.Equal((8u, Conversation, hasMore), (decoded.RequestId, decoded.ConversationId, decoded.HasMore));
        Assert.Equal(count, decoded.Events.Count);
        for (var i = 0; i < count; i++)
        {
            AssertSameMessage(messages[i], decoded.Events[i]);
        }
    }

    [Fact]
    public void Write_Ping_GoldenBytes()
    {
        Assert.Equal("00000003920503", Hex(new Ping(3)));
    }

    [Fact]
    public void Write_PongWithTwoByteRequestId_UsesUint16()
    {
        // 300 does not fit a positive fixint (≤ 127) or uint 8: cd 01 2c.
        Assert.Equal("00000005" + "92" + "06" + "cd012c", Hex(new Pong(300)));
    }

    [Fact]
    public void Write_Welcome_GoldenBytes()
    {
        var expected = "0000000e" + "98" + "02" + "01" + "01" + "cd1000" + "ccc8" + "00" + "cdffff" + "ff";

        Assert.Equal(expected, Hex(new Welcome(1, 1, 4096, 200, 0, 65535, -1)));
    }

    [Fact]
    public void Write_ErrorFrame_GoldenBytesCarryTheName()
    {
        // 1003 = 0x03eb; "UNKNOWN_OPCODE" is 14 bytes (fixstr ae); the empty message is a0.
        var expected = "00000016" + "95" + "07" + "09" + "cd03eb" + "ae" + "554e4b4e4f574e5f4f50434f4445" + "a0";

        Assert.Equal(expected, Hex(new ErrorFrame(9, ErrorCode.UnknownOpcode, string.Empty)));
    }

    [Fact]
    public void Write_History_GoldenBytes()
    {
        var expected = "00000025" + "96" + "13" + "ce00010000" + "c410" + "0123456789abcdef0123456789abcdef"
            + "cf0000000100000000" + "01" + "ccc8";
        var frame = new History(65536, Guid.Parse("01234567-89ab-cdef-0123-456789abcdef"), 1ul << 32, HistoryDirection.After, 200);

        Assert.Equal(expected, Hex(frame));
    }

    [Fact]
    public void Write_SendWith300ByteContent_UsesBin16AndEmptyContentType()
    {
        var content = Enumerable.Repeat((byte)0xab, 300).ToArray();
        var expected = "00000157" + "96" + "10" + "01" + "c410" + "019abbd093807a41a3c95e8d0f7b2c16" + "c410" + "019abbda6b6c7b128e4d9c1a2b3c4d5e"
            + "a0" + "c5012c" + string.Concat(Enumerable.Repeat("ab", 300));

        Assert.Equal(expected, Hex(new Send(1, Conversation, MessageId, string.Empty, content)));
    }

    [Fact]
    public void Write_SendAck_GoldenBytes()
    {
        var expected = "0000002a" + "96" + "11" + "07" + "c410" + "019abbd093807a41a3c95e8d0f7b2c16" + "c410" + "019abbda6b6c7b128e4d9c1a2b3c4d5e"
            + "cc80" + "00";

        Assert.Equal(expected, Hex(new SendAck(7, Conversation, MessageId, 128, 0)));
    }

    [Fact]
    public void Write_IntoBufferWriter_SameBytesAsToArray()
    {
        var frame = new Send(7, Conversation, MessageId, "text/plain", "hello"u8.ToArray());
        var output = new ArrayBufferWriter<byte>();

        FrameCodec.Write(output, frame);
        FrameCodec.Write(output, frame);

        byte[] once = FrameCodec.ToArray(frame);
        Assert.Equal([.. once, .. once], output.WrittenSpan.ToArray());
    }

    [Fact]
    public void Decode_SendSplitAtEveryPoint_SameFrame()
    {
        var body = FrameCodec.ToArray(new Send(7, Conversation, MessageId, "text/plain; charset=utf-8", "héllo wörld"u8.ToArray()))[4..];

        for (var cut = 0; cut <= body.Length; cut++)
        {
            var decoded = FrameCodec.Decode<Send>(Segments.Split(body, cut), ProtocolLimits.Default);

            Assert.Equal("text/plain; charset=utf-8", decoded.ContentType);
            Assert.Equal("héllo wörld"u8.ToArray(), decoded.Content.ToArray());
            Assert.Equal(MessageId, decoded.MessageId);
        }
    }

    [Fact]
    public void Decode_HistoryPageOneBytePerSegment_SameFrame()
    {
        var messages = new[] { Message(42, "hello"), Message(43, "ünïcödé") };
        var body = FrameCodec.ToArray(new HistoryPage(8, Conversation, messages, true))[4..];

        var decoded = FrameCodec.Decode<HistoryPage>(Segments.OneBytePerSegment(body), ProtocolLimits.Default);

        AssertSameMessage(messages[0], decoded.Events[0]);
        AssertSameMessage(messages[1], decoded.Events[1]);
        Assert.True(decoded.HasMore);
    }

    [Fact]
    public void Decode_HelloSplitAtEveryPoint_SameFrame()
    {
        var body = FrameCodec.ToArray(new Hello(1, 1, "chatwire-cli/0.1.0", ["presence", "typing"]))[4..];

        for (var cut = 0; cut <= body.Length; cut++)
        {
            var decoded = FrameCodec.Decode<Hello>(Segments.Split(body, cut), ProtocolLimits.Default);

            Assert.Equal("chatwire-cli/0.1.0", decoded.ClientName);
            Assert.Equal(["presence", "typing"], decoded.Capabilities);
        }
    }

    [Theory]
    [InlineData("92" + "cc05" + "ce00000007")] // uint 8 opcode, uint 32 request id
    [InlineData("92" + "d005" + "d10007")] // int 8 opcode, int 16 request id
    [InlineData("dc0002" + "05" + "07")] // array 16 header
    [InlineData("dd00000002" + "05" + "d300000000" + "00000007")] // array 32 header, int 64 request id
    public void Decode_PingInLongerIntegerAndArrayFormats_Accepted(string bodyHex)
    {
        var decoded = FrameCodec.Decode<Ping>(Body(bodyHex), ProtocolLimits.Default);

        Assert.Equal(7u, decoded.RequestId);
    }

    [Fact]
    public void Decode_SendInLongerStrAndBinFormats_Accepted()
    {
        var body = "96" + "10" + "07"
            + "c50010" + "019abbd093807a41a3c95e8d0f7b2c16" // bin 16 id
            + "c600000010" + "019abbda6b6c7b128e4d9c1a2b3c4d5e" // bin 32 id
            + "da0001" + "74" // str 16 "t"
            + "c600000002" + "6869"; // bin 32 content

        var decoded = FrameCodec.Decode<Send>(Body(body), ProtocolLimits.Default);

        Assert.Equal((Conversation, MessageId, "t"), (decoded.ConversationId, decoded.MessageId, decoded.ContentType));
        Assert.Equal("hi"u8.ToArray(), decoded.Content.ToArray());
    }

    [Fact]
    public void Decode_HistoryWithSignedIntegerFormats_Accepted()
    {
        var body = "96" + "13" + "08" + "c410" + "019abbd093807a41a3c95e8d0f7b2c16" + "d3000000000000002a" + "d001" + "d200000032";

        var decoded = FrameCodec.Decode<History>(Body(body), ProtocolLimits.Default);

        Assert.Equal(new History(8, Conversation, 42, HistoryDirection.After, 50), decoded);
    }

    [Theory]
    [InlineData(0x00u)]
    [InlineData(0x08u)]
    [InlineData(0x0fu)]
    [InlineData(0x3fu)]
    [InlineData(0xffu)]
    [InlineData(0x100u)]
    [InlineData(0x110u)] // 0x10 (SEND) in its low byte
    [InlineData(uint.MaxValue)]
    public void ReadHeader_UnknownOpcode_DecodesWithIsKnownFalse(uint opcode)
    {
        var reader = new MessagePackReader(new ReadOnlySequence<byte>(Raw.Array(Raw.UInt(opcode), Raw.UInt(9), Raw.Str("x"))));

        var header = FrameCodec.ReadHeader(ref reader);

        Assert.False(header.IsKnown);
        Assert.Equal(opcode, header.OpcodeValue);
        Assert.Equal(9u, header.RequestId);
        Assert.Equal(1, header.FieldCount);
    }

    [Fact]
    public void ReadHeader_EveryKnownOpcode_IsKnown()
    {
        foreach (var opcode in Enum.GetValues<Opcode>())
        {
            var reader = new MessagePackReader(new ReadOnlySequence<byte>(Raw.Array(Raw.UInt((byte)opcode), Raw.UInt(1))));

            var header = FrameCodec.ReadHeader(ref reader);

            Assert.True(header.IsKnown);
            Assert.Equal(opcode, header.Opcode);
        }
    }

    [Fact]
    public void ReadBody_TrailingUnknownFieldsOfEveryType_Skipped()
    {
        var body = Raw.Array(
            Raw.UInt(0x10), Raw.UInt(7), Raw.Id(Conversation), Raw.Id(MessageId), Raw.Str("text/plain"), Raw.Bin("hello"u8.ToArray()),
            Raw.Id(Guid.Empty), Raw.ArrayHeader(0), Raw.UInt(0), Raw.UInt(0), Raw.Bin([]), // every optional field of this version
            Raw.Str("a future field"),
            [0x81, 0xa1, 0x6b, 0x93, 0x01, 0xc3, 0xc0], // {"k": [1, true, nil]}
            Raw.NestedArrays(16),
            Raw.NestedMaps(16),
            Raw.Bin(new byte[300]),
            [0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0], // float 64
            [0xd6, 0x01, 1, 2, 3, 4], // fixext 4
            Raw.Nil);

        var decoded = FrameCodec.Decode<Send>(new ReadOnlySequence<byte>(body), ProtocolLimits.Default);

        Assert.Equal("hello"u8.ToArray(), decoded.Content.ToArray());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ReadBody_TrailingFieldNestedSeventeenLevels_Malformed(bool maps)
    {
        var nested = maps ? Raw.NestedMaps(17) : Raw.NestedArrays(17);
        var body = Raw.Array(Raw.UInt(0x05), Raw.UInt(7), nested);

        AssertRejected<Ping>(body, ErrorCode.MalformedFrame, 7);
    }

    [Fact]
    public void ReadBody_HistoryPageEventWithTrailingFields_Skipped()
    {
        var message = Message(42, "hello");
        var eventArray = Raw.Array(
            Raw.Id(message.EventId), Raw.UInt(42), Raw.Id(User), Raw.Id(Device), Raw.UInt((ulong)message.ServerTimeUnixMs),
            Raw.Str("text/plain"), Raw.Bin("hello"u8.ToArray()), Raw.UInt(0), Raw.Id(Guid.Empty),
            Raw.Id(Guid.Empty), Raw.ArrayHeader(0), Raw.UInt(0), Raw.UInt(0), Raw.UInt(0), Raw.UInt(0), Raw.UInt(0), Raw.ArrayHeader(0), Raw.ArrayHeader(0),
            Raw.Str("future"), Raw.NestedArrays(3));
        var body = Raw.Array(Raw.UInt(0x14), Raw.UInt(8), Raw.Id(Conversation), [.. Raw.ArrayHeader(1), .. eventArray], [0xc2]);

        var decoded = FrameCodec.Decode<HistoryPage>(new ReadOnlySequence<byte>(body), ProtocolLimits.Default);

        AssertSameMessage(message, Assert.Single(decoded.Events));
        Assert.False(decoded.HasMore);
    }

    [Fact]
    public void EventFrame_MessageWithoutSubject_WrittenWithoutTheOptionalFields()
    {
        var frame = new EventFrame(Message(42, "hello"));

        var reader = new MessagePackReader(FrameCodec.ToArray(frame).AsMemory(ProtocolLimits.LengthPrefixSize));

        Assert.Equal(EventFrame.RequiredFields, FrameCodec.ReadHeader(ref reader).FieldCount);
        Assert.Equal(EventFrame.RequiredFields, frame.FieldCount);
    }

    [Fact]
    public void EventFrame_MembershipEvent_RoundTripsKindAndSubject()
    {
        var subject = Guid.CreateVersion7();
        var joined = Message(43, string.Empty) with { ContentType = string.Empty, Kind = EventKind.MemberJoined, SubjectId = subject };

        var decoded = RoundTrip(new EventFrame(joined));

        // Kind and subject are written; the optional fields after them, all default, are not.
        Assert.Equal(EventFrame.RequiredFields + 2, new EventFrame(joined).FieldCount);
        Assert.Equal((EventKind.MemberJoined, subject), (decoded.Event.Kind, decoded.Event.SubjectId));
        AssertSameMessage(joined, decoded.Event);
    }

    [Fact]
    public void ReadBody_EventWithKindButNoSubject_SubjectTakesItsDefault()
    {
        var body = Raw.Array(
            Raw.UInt(0x12), Raw.UInt(0), Raw.Id(Conversation), Raw.Id(Guid.CreateVersion7()), Raw.UInt(5), Raw.Id(User), Raw.Id(Device),
            Raw.UInt(1764088245000), Raw.Str(string.Empty), Raw.Bin([]), Raw.UInt(200));

        var decoded = FrameCodec.Decode<EventFrame>(new ReadOnlySequence<byte>(body), ProtocolLimits.Default);

        Assert.Equal((EventKind)200, decoded.Event.Kind);
        Assert.Equal(Guid.Empty, decoded.Event.SubjectId);
    }

    [Fact]
    public void ReadBody_EventKindOver255_InvalidField()
    {
        var body = Raw.Array(
            Raw.UInt(0x12), Raw.UInt(0), Raw.Id(Conversation), Raw.Id(Guid.CreateVersion7()), Raw.UInt(5), Raw.Id(User), Raw.Id(Device),
            Raw.UInt(1764088245000), Raw.Str(string.Empty), Raw.Bin([]), Raw.UInt(256), Raw.Id(User));

        AssertRejected<EventFrame>(body, ErrorCode.InvalidField, 0);
    }

    [Fact]
    public void ReadBody_ArrayEndsBeforeItsClaimedElements_MalformedWithTheRequestId()
    {
        // docs/protocol.md §2.2: once the opcode and request id are read, the ERROR carries the request id.
        var header = new MessagePackReader(new byte[] { 0x96, 0x10, 0x07 });
        var read = FrameCodec.ReadHeader(ref header);

        Assert.Equal((16u, 7u, 4), (read.OpcodeValue, read.RequestId, read.FieldCount));
        AssertRejected<Send>([0x96, 0x10, 0x07], ErrorCode.MalformedFrame, 7);
        AssertRejected<Send>([0x96, 0x10, 0x07, 0xc4, 0x10, 0x01], ErrorCode.MalformedFrame, 7);
    }

    [Fact]
    public void ReadHeader_RequestIdMissingOrNotAnInteger_MalformedWithRequestIdZero()
    {
        foreach (var body in new byte[][] { [0x92, 0x10], [0x92, 0x10, 0xa1, 0x41], [0x96, 0xc0, 0x07] })
        {
            var ex = Assert.Throws<ProtocolException>(() => FrameCodec.Decode<Send>(new ReadOnlySequence<byte>(body), ProtocolLimits.Default));
            Assert.Equal((ErrorCode.MalformedFrame, 0u), (ex.Code, ex.RequestId));
        }
    }

    [Fact]
    public void ReadBody_Malformed_MessageIsOursNotTheLibrarys()
    {
        // A map where the first id belongs: the library's "Unexpected msgpack code 129" must not reach the peer.
        var ex = Assert.Throws<ProtocolException>(() => FrameCodec.Decode<Send>(new ReadOnlySequence<byte>([0x96, 0x10, 0x07, 0x81, 0x00, 0x00, 0, 0, 0]), ProtocolLimits.Default));

        Assert.DoesNotContain("msgpack", ex.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("code", ex.Message, StringComparison.OrdinalIgnoreCase);
        Assert.StartsWith("SEND ", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sync_RoundTrip_PreservesEveryField()
    {
        var decoded = RoundTrip(new Sync(11, Conversation, 500));

        Assert.Equal((11u, Conversation, 500u), (decoded.RequestId, decoded.AfterConversationId, decoded.Limit));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(501u)]
    public void Sync_LimitOutOfRange_InvalidFieldWithRequestId(uint limit)
    {
        AssertRejected<Sync>(Raw.Array(Raw.UInt(0x15), Raw.UInt(11), Raw.Id(Guid.Empty), Raw.UInt(limit)), ErrorCode.InvalidField, 11);
    }

    [Fact]
    public void SyncPage_RoundTrip_PreservesEveryConversation()
    {
        ConversationState[] states = [new(Conversation, 42), new(Guid.CreateVersion7(), 0)];

        var decoded = RoundTrip(new SyncPage(12, states, HasMore: true));

        Assert.Equal(states, decoded.Conversations);
        Assert.True(decoded.HasMore);
    }

    [Fact]
    public void ReadBody_SyncPageEntryWithTrailingFields_Skipped()
    {
        var entry = Raw.Array(Raw.Id(Conversation), Raw.UInt(42), Raw.UInt(40), Raw.UInt(2), Raw.UInt(1), [0xc2], [0xc2], Raw.UInt(41), Raw.Str("future"), Raw.NestedMaps(2));
        var body = Raw.Array(Raw.UInt(0x16), Raw.UInt(12), [.. Raw.ArrayHeader(1), .. entry], [0xc3]);

        var decoded = FrameCodec.Decode<SyncPage>(new ReadOnlySequence<byte>(body), ProtocolLimits.Default);

        Assert.Equal(new ConversationState(Conversation, 42, 40, 2, 1, DeviceCursor: 41), Assert.Single(decoded.Conversations));
    }

    [Theory]
    [InlineData("00")]
    [InlineData("c0")]
    [InlineData("920507")] // a whole second frame body without its prefix
    public void ReadBody_BytesAfterTheArray_MalformedWithRequestId(string extraHex)
    {
        var body = Body("920507" + extraHex).ToArray();

        AssertRejected<Ping>(body, ErrorCode.MalformedFrame, 7);
    }

    [Theory]
    [InlineData("HELLO", 3)]
    [InlineData("HELLO", 4)]
    [InlineData("AUTH", 3)]
    [InlineData("SEND", 3)]
    [InlineData("SEND", 5)]
    [InlineData("HISTORY", 2)]
    [InlineData("HISTORY", 5)]
    public void ReadBody_FewerFieldsThanRequired_MalformedWithRequestId(string frame, int keep)
    {
        var elements = ValidClientFrame(frame).Select(e => e.Bytes).Take(keep).ToArray();

        var error = ServerDecoder.Decode(new ReadOnlySequence<byte>(Raw.Array(elements)), ProtocolLimits.Default, out var requestId);

        Assert.Equal(ErrorCode.MalformedFrame, error);
        Assert.Equal(7u, requestId);
    }

    [Fact]
    public void Decode_BodyOfAnotherOpcode_Malformed()
    {
        var body = FrameCodec.ToArray(new Pong(7))[4..];

        var ex = Assert.Throws<ProtocolException>(() => FrameCodec.Decode<Ping>(new ReadOnlySequence<byte>(body), ProtocolLimits.Default));

        Assert.Equal(ErrorCode.MalformedFrame, ex.Code);
        Assert.Equal(7u, ex.RequestId);
    }

    [Theory]
    [InlineData("")]
    [InlineData("c0")] // nil
    [InlineData("0105")] // two values, no array
    [InlineData("820105")] // a map
    [InlineData("91" + "05")] // an array of one element
    [InlineData("90")] // an empty array
    [InlineData("c1")] // the never-used byte
    [InlineData("a3616263")] // a str
    public void ReadHeader_NotAnArrayOfTwo_MalformedWithRequestIdZero(string bodyHex)
    {
        var ex = Assert.Throws<ProtocolException>(() =>
        {
            var reader = new MessagePackReader(Body(bodyHex));
            FrameCodec.ReadHeader(ref reader);
        });

        Assert.Equal(ErrorCode.MalformedFrame, ex.Code);
        Assert.Equal(0u, ex.RequestId);
    }

    private static T RoundTrip<T>(T frame)
        where T : struct, IFrame<T>
    {
        var output = new ArrayBufferWriter<byte>();
        FrameCodec.Write(output, frame);
        Assert.Equal(FrameCodec.ToArray(frame), output.WrittenSpan.ToArray());

        var buffer = new ReadOnlySequence<byte>(output.WrittenMemory);
        Assert.True(FrameReader.TryReadFrame(ref buffer, ProtocolLimits.DefaultMaxFrameLength, out var body));
        Assert.True(buffer.IsEmpty);
        return FrameCodec.Decode<T>(body, ProtocolLimits.Default);
    }

    private static ConversationEvent Message(ulong seq, string text) =>
        new(Conversation, Guid.Parse($"019abbda-6b6c-7b12-8e4d-{seq:x12}", CultureInfo.InvariantCulture), seq, User, Device,
            1764088245000 + (long)seq, "text/plain", Encoding.UTF8.GetBytes(text));

    private static void AssertSameMessage(ConversationEvent expected, ConversationEvent actual)
    {
        Assert.Equal(
            (expected.ConversationId, expected.EventId, expected.Seq, expected.SenderUserId, expected.SenderDeviceId, expected.ServerTimeUnixMs, expected.ContentType),
            (actual.ConversationId, actual.EventId, actual.Seq, actual.SenderUserId, actual.SenderDeviceId, actual.ServerTimeUnixMs, actual.ContentType));
        Assert.Equal((expected.Kind, expected.SubjectId), (actual.Kind, actual.SubjectId));
        Assert.Equal(expected.Content.ToArray(), actual.Content.ToArray());
    }

    private static string Hex<T>(T frame)
        where T : struct, IFrame<T> => Convert.ToHexStringLower(FrameCodec.ToArray(frame));

    private static ReadOnlySequence<byte> Body(string hex) => new(Convert.FromHexString(hex));

    private static void AssertRejected<T>(byte[] body, ErrorCode expected, uint requestId)
        where T : struct, IFrame<T>
    {
        var ex = Assert.Throws<ProtocolException>(() => FrameCodec.Decode<T>(new ReadOnlySequence<byte>(body), ProtocolLimits.Default));
        Assert.Equal(expected, ex.Code);
        Assert.Equal(requestId, ex.RequestId);
    }
}
