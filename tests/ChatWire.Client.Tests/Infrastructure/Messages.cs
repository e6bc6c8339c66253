using System.Text;
using ChatWire.Protocol.Frames;

namespace ChatWire.Client.Tests.Infrastructure;

// Message values for the unit tests of pure logic (de-duplication, output formatting); no server involved.
internal static class Messages
{
    public static readonly Guid SenderId = Guid.Parse("0190a0b2-0000-7000-8000-0000000000a1");
    public static readonly Guid SenderDeviceId = Guid.Parse("0190a0b2-0000-7000-8000-0000000000d1");

    public static ConversationEvent Text(Guid conversationId, ulong seq, string text = "hi", Guid? messageId = null) => new(
        conversationId,
        messageId ?? Guid.CreateVersion7(),
        seq,
        SenderId,
        SenderDeviceId,
        1_700_000_000_000 + (long)seq,
        "text/plain",
        Encoding.UTF8.GetBytes(text));
}
