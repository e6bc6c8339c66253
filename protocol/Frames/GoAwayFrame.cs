using ChatWire.Protocol.Internal;
using MessagePack;

namespace ChatWire.Protocol.Frames;

/// <summary>
/// GO_AWAY <c>[0x23, 0, reconnect_window_ms, message]</c> (docs/protocol.md §4.27): the node is draining (it
/// was told to stop). The client opens a new connection, to another node when it knows one, after a delay it
/// picks uniformly in [0, <see cref="ReconnectWindowMs"/>], then leaves this one; it resumes from its
/// watermarks (SYNC and HISTORY) as after any reconnect. Until the client leaves (or the drain deadline
/// passes and the server closes with <c>SHUTTING_DOWN</c>), the connection serves requests as before.
/// </summary>
/// <param name="ReconnectWindowMs">The window over which clients spread their reconnects, so that the other nodes are not met by every client at once.</param>
/// <param name="Message">A human-readable sentence; not for programs to parse.</param>
public readonly record struct GoAway(uint ReconnectWindowMs, string Message) : IFrame<GoAway>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.GoAway;

    /// <inheritdoc/>
    public static int RequiredFields => 2;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <summary>Always 0: GO_AWAY is pushed, it answers no request.</summary>
    public uint RequestId => 0;

    /// <inheritdoc/>
    public static GoAway ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits) =>
        new(reader.ReadUInt32(), MessagePackFields.ReadString(ref reader, limits.MaxErrorMessageLength, requestId, "message"));

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        writer.Write(ReconnectWindowMs);
        writer.Write(Message);
    }
}
