using System.Buffers;
using ChatWire.Protocol;
using MessagePack;

namespace ChatWire.Gateway.Observability;

/// <summary>Reads an encoded EVENT frame's <c>server_time_ms</c> in place, for the delivery latency metric.</summary>
internal static class EventTiming
{
    // Fields before server_time_ms (docs/protocol.md §4.10): request id, conversation id, event id, seq,
    // sender user id, sender device id.
    private const int FieldsBeforeServerTime = 6;

    /// <summary>False for any frame that is not a well-formed EVENT; reads without allocating.</summary>
    public static bool TryReadServerTime(byte[] frame, out long serverTimeUnixMs)
    {
        serverTimeUnixMs = 0;
        if (FrameCodec.PeekOpcode(frame) != Opcode.Event)
        {
            return false;
        }

        try
        {
            var reader = new MessagePackReader(new ReadOnlySequence<byte>(frame, ProtocolLimits.LengthPrefixSize, frame.Length - ProtocolLimits.LengthPrefixSize));
            if (reader.ReadArrayHeader() < 2 + FieldsBeforeServerTime)
            {
                return false;
            }

            reader.Skip();
            for (var i = 0; i < FieldsBeforeServerTime; i++)
            {
                reader.Skip();
            }

            serverTimeUnixMs = reader.ReadInt64();
            return true;
        }
        catch (MessagePackSerializationException)
        {
            return false;
        }
        catch (EndOfStreamException)
        {
            return false;
        }
    }
}
