using ChatWire.Gateway.Observability;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.Gateway.Tests.Units;

public sealed class EventTimingTests
{
    private static readonly ConversationEvent Stored = new(
        Guid.CreateVersion7(), Guid.CreateVersion7(), 42, Guid.CreateVersion7(), Guid.CreateVersion7(), 1_764_087_045_123, "text/plain", "hi"u8.ToArray());

    [Fact]
    public void TryReadServerTime_EncodedEvent_ReturnsItsServerTime()
    {
        Assert.True(EventTiming.TryReadServerTime(FrameCodec.ToArray(new EventFrame(Stored)), out var storedAt));
        Assert.Equal(1_764_087_045_123, storedAt);
    }

    [Fact]
    public void TryReadServerTime_OtherFrame_False()
    {
        Assert.False(EventTiming.TryReadServerTime(FrameCodec.ToArray(new UserTyping(Stored.ConversationId, Stored.SenderUserId)), out _));
    }

    [Theory]
    [InlineData(6)]
    [InlineData(20)]
    [InlineData(60)]
    public void TryReadServerTime_TruncatedEvent_False(int length)
    {
        var frame = FrameCodec.ToArray(new EventFrame(Stored));

        Assert.False(EventTiming.TryReadServerTime(frame[..length], out _));
    }
}
