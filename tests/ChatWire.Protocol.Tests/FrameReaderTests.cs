using System.Buffers;
using System.Buffers.Binary;
using ChatWire.Protocol.Tests.Support;
using MessagePack;

namespace ChatWire.Protocol.Tests;

public class FrameReaderTests
{
    private const uint Limit = ProtocolLimits.DefaultMaxFrameLength;

    // PING request 7 with a trailing str "abc": split points land inside the prefix, on the
    // prefix/body boundary and inside the body.
    private static readonly byte[] Body = [0x93, 0x05, 0x07, 0xa3, 0x61, 0x62, 0x63];

    [Fact]
    public void TryReadFrame_WholeBuffer_ReturnsBodyAndConsumesFrame()
    {
        var buffer = new ReadOnlySequence<byte>(Frame(Body));

        Assert.True(FrameReader.TryReadFrame(ref buffer, Limit, out var body));

        Assert.Equal(Body, body.ToArray());
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void TryReadFrame_ByteByByte_FalseUntilLastByteThenExactlyTheBody()
    {
        var frame = Frame(Body);
        var received = new List<byte>();

        for (var i = 0; i < frame.Length - 1; i++)
        {
            received.Add(frame[i]);
            var buffer = Segments.OneBytePerSegment([.. received]);
            var start = buffer.Start;

            Assert.False(FrameReader.TryReadFrame(ref buffer, Limit, out _), $"true after {received.Count} bytes");
            Assert.Equal(start, buffer.Start);
            Assert.Equal(received.Count, buffer.Length);
        }

        received.Add(frame[^1]);
        var complete = Segments.OneBytePerSegment([.. received]);
        Assert.True(FrameReader.TryReadFrame(ref complete, Limit, out var body));
        Assert.Equal(Body, body.ToArray());
        Assert.True(complete.IsEmpty);
    }

    [Fact]
    public void TryReadFrame_SplitAtEveryPoint_ReturnsTheSameBody()
    {
        var frame = Frame(Body);

        for (var cut = 0; cut <= frame.Length; cut++)
        {
            var buffer = Segments.Split(frame, cut);

            Assert.True(FrameReader.TryReadFrame(ref buffer, Limit, out var body), $"cut at {cut}");
            Assert.Equal(Body, body.ToArray());
            Assert.True(buffer.IsEmpty);
        }
    }

    [Fact]
    public void TryReadFrame_SplitAtEveryPairOfPoints_ReturnsTheSameBody()
    {
        var frame = Frame(Body);

        for (var first = 0; first <= frame.Length; first++)
        {
            for (var second = first; second <= frame.Length; second++)
            {
                var buffer = Segments.Split(frame, first, second);

                Assert.True(FrameReader.TryReadFrame(ref buffer, Limit, out var body), $"cuts at {first}, {second}");
                Assert.Equal(Body, body.ToArray());
            }
        }
    }

    [Fact]
    public void TryReadFrame_TwoFramesBackToBack_ReadsBothInOrder()
    {
        byte[] second = [0x92, 0x06, 0x07];
        byte[] stream = [.. Frame(Body), .. Frame(second)];

        for (var cut = 0; cut <= stream.Length; cut++)
        {
            var buffer = Segments.Split(stream, cut);

            Assert.True(FrameReader.TryReadFrame(ref buffer, Limit, out var body1));
            Assert.Equal(Body, body1.ToArray());
            Assert.True(FrameReader.TryReadFrame(ref buffer, Limit, out var body2));
            Assert.Equal(second, body2.ToArray());
            Assert.True(buffer.IsEmpty);
            Assert.False(FrameReader.TryReadFrame(ref buffer, Limit, out _));
        }
    }

    [Fact]
    public void TryReadFrame_SecondFrameIncomplete_ReturnsFirstThenFalseLeavingTheRest()
    {
        byte[] stream = [.. Frame(Body), .. Frame([0x92, 0x06, 0x07])[..5]];
        var buffer = new ReadOnlySequence<byte>(stream);

        Assert.True(FrameReader.TryReadFrame(ref buffer, Limit, out _));
        Assert.False(FrameReader.TryReadFrame(ref buffer, Limit, out _));

        Assert.Equal(5, buffer.Length);
    }

    [Fact]
    public void TryReadFrame_EmptyBuffer_ReturnsFalse()
    {
        var buffer = ReadOnlySequence<byte>.Empty;

        Assert.False(FrameReader.TryReadFrame(ref buffer, Limit, out _));
    }

    [Fact]
    public void TryReadFrame_LengthZero_ReturnsEmptyBodyThatDecodesAsMalformed()
    {
        var buffer = new ReadOnlySequence<byte>(new byte[] { 0, 0, 0, 0 });

        Assert.True(FrameReader.TryReadFrame(ref buffer, Limit, out var body));
        Assert.True(body.IsEmpty);
        Assert.True(buffer.IsEmpty);

        var ex = Assert.Throws<ProtocolException>(() =>
        {
            var reader = new MessagePackReader(body);
            FrameCodec.ReadHeader(ref reader);
        });
        Assert.Equal(ErrorCode.MalformedFrame, ex.Code);
    }

    [Fact]
    public void TryReadFrame_LengthAtLimit_IsAccepted()
    {
        var frame = new byte[4 + Limit];
        BinaryPrimitives.WriteUInt32BigEndian(frame, Limit);

        var prefixOnly = new ReadOnlySequence<byte>(frame, 0, 4);
        Assert.False(FrameReader.TryReadFrame(ref prefixOnly, Limit, out _));

        var whole = new ReadOnlySequence<byte>(frame);
        Assert.True(FrameReader.TryReadFrame(ref whole, Limit, out var body));
        Assert.Equal(Limit, (uint)body.Length);
    }

    [Theory]
    [InlineData(Limit + 1)]
    [InlineData(0x8000_0000u)] // negative when read as a signed int32
    [InlineData(0xFFFF_FFFFu)]
    public void TryReadFrame_LengthOverLimit_ThrowsFrameTooLargeFromThePrefixAlone(uint length)
    {
        var prefix = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(prefix, length);

        var contiguous = new ReadOnlySequence<byte>(prefix);
        var ex = Assert.Throws<ProtocolException>(() => FrameReader.TryReadFrame(ref contiguous, Limit, out _));
        Assert.Equal(ErrorCode.FrameTooLarge, ex.Code);

        // The prefix split over segments takes the other branch of the prefix read.
        var split = Segments.Split(prefix, 1, 3);
        ex = Assert.Throws<ProtocolException>(() => FrameReader.TryReadFrame(ref split, Limit, out _));
        Assert.Equal(ErrorCode.FrameTooLarge, ex.Code);
    }

    [Fact]
    public void TryReadFrame_PreAuthLimitPlusOne_ThrowsFrameTooLarge()
    {
        var prefix = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(prefix, ProtocolLimits.DefaultMaxPreAuthFrameLength + 1);
        var buffer = new ReadOnlySequence<byte>(prefix);

        var ex = Assert.Throws<ProtocolException>(() => FrameReader.TryReadFrame(ref buffer, ProtocolLimits.DefaultMaxPreAuthFrameLength, out _));

        Assert.Equal(ErrorCode.FrameTooLarge, ex.Code);
    }

    [Fact]
    public void TryReadFrame_ThreeBytesOfAHugePrefix_ReturnsFalse()
    {
        var buffer = new ReadOnlySequence<byte>(new byte[] { 0xff, 0xff, 0xff });

        Assert.False(FrameReader.TryReadFrame(ref buffer, Limit, out _));
    }

    private static byte[] Frame(byte[] body)
    {
        var frame = new byte[4 + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)body.Length);
        body.CopyTo(frame, 4);
        return frame;
    }
}
