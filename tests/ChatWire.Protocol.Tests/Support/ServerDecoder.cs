using System.Buffers;
using ChatWire.Protocol.Frames;
using MessagePack;

namespace ChatWire.Protocol.Tests.Support;

/// <summary>
/// Decodes a frame body the way a receiver does: <see cref="FrameCodec.ReadHeader"/>, then, for a known
/// opcode, <see cref="FrameCodec.ReadBody{T}"/> of that opcode's frame type.
/// </summary>
internal static class ServerDecoder
{
    /// <summary>The code the body is answered with, or null when it decodes.</summary>
    public static ErrorCode? Decode(ReadOnlySequence<byte> body, ProtocolLimits limits, out uint requestId)
    {
        requestId = 0;
        try
        {
            var reader = new MessagePackReader(body);
            var header = FrameCodec.ReadHeader(ref reader);
            requestId = header.RequestId;
            if (!header.IsKnown)
            {
                return ErrorCode.UnknownOpcode;
            }

            ReadBody(ref reader, header, limits);
            return null;
        }
        catch (ProtocolException ex)
        {
            requestId = ex.RequestId;
            return ex.Code;
        }
    }

    private static void ReadBody(ref MessagePackReader reader, in FrameHeader header, ProtocolLimits limits)
    {
        switch (header.Opcode)
        {
            case Opcode.Hello: FrameCodec.ReadBody<Hello>(ref reader, header, limits); break;
            case Opcode.Welcome: FrameCodec.ReadBody<Welcome>(ref reader, header, limits); break;
            case Opcode.Auth: FrameCodec.ReadBody<Auth>(ref reader, header, limits); break;
            case Opcode.AuthOk: FrameCodec.ReadBody<AuthOk>(ref reader, header, limits); break;
            case Opcode.Ping: FrameCodec.ReadBody<Ping>(ref reader, header, limits); break;
            case Opcode.Pong: FrameCodec.ReadBody<Pong>(ref reader, header, limits); break;
            case Opcode.Error: FrameCodec.ReadBody<ErrorFrame>(ref reader, header, limits); break;
            case Opcode.Send: FrameCodec.ReadBody<Send>(ref reader, header, limits); break;
            case Opcode.SendAck: FrameCodec.ReadBody<SendAck>(ref reader, header, limits); break;
            case Opcode.Event: FrameCodec.ReadBody<EventFrame>(ref reader, header, limits); break;
            case Opcode.History: FrameCodec.ReadBody<History>(ref reader, header, limits); break;
            case Opcode.HistoryPage: FrameCodec.ReadBody<HistoryPage>(ref reader, header, limits); break;
            case Opcode.Sync: FrameCodec.ReadBody<Sync>(ref reader, header, limits); break;
            case Opcode.SyncPage: FrameCodec.ReadBody<SyncPage>(ref reader, header, limits); break;
            case Opcode.Ok: FrameCodec.ReadBody<Ok>(ref reader, header, limits); break;
            case Opcode.Edit: FrameCodec.ReadBody<Edit>(ref reader, header, limits); break;
            case Opcode.Delete: FrameCodec.ReadBody<Delete>(ref reader, header, limits); break;
            case Opcode.React: FrameCodec.ReadBody<React>(ref reader, header, limits); break;
            case Opcode.Read: FrameCodec.ReadBody<MarkRead>(ref reader, header, limits); break;
            case Opcode.ReadState: FrameCodec.ReadBody<ReadState>(ref reader, header, limits); break;
            case Opcode.Typing: FrameCodec.ReadBody<Typing>(ref reader, header, limits); break;
            case Opcode.UserTyping: FrameCodec.ReadBody<UserTyping>(ref reader, header, limits); break;
            case Opcode.SetStatus: FrameCodec.ReadBody<SetStatus>(ref reader, header, limits); break;
            case Opcode.PresenceWatch: FrameCodec.ReadBody<PresenceWatch>(ref reader, header, limits); break;
            case Opcode.Presence: FrameCodec.ReadBody<PresenceFrame>(ref reader, header, limits); break;
            case Opcode.Received: FrameCodec.ReadBody<Received>(ref reader, header, limits); break;
            case Opcode.GoAway: FrameCodec.ReadBody<GoAway>(ref reader, header, limits); break;
            case Opcode.KeysChanged: FrameCodec.ReadBody<KeysChanged>(ref reader, header, limits); break;
            default: throw new InvalidOperationException($"No frame type for {header.Opcode}; add it here.");
        }
    }
}
