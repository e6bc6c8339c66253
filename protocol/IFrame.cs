using MessagePack;

namespace ChatWire.Protocol;

/// <summary>
/// A frame type: its opcode, how its fields after the opcode and request id are written, and how they
/// are read. Implemented by value types so <see cref="FrameCodec"/> encodes without boxing.
/// </summary>
/// <typeparam name="TSelf">The implementing frame type.</typeparam>
public interface IFrame<TSelf>
    where TSelf : struct, IFrame<TSelf>
{
    /// <summary>The opcode written first in the body.</summary>
    static abstract Opcode Opcode { get; }

    /// <summary>How many fields a v1 reader requires after the opcode and request id.</summary>
    static abstract int RequiredFields { get; }

    /// <summary>The request id written second in the body.</summary>
    uint RequestId { get; }

    /// <summary>Reads exactly <see cref="RequiredFields"/> fields; the codec skips any trailing ones.</summary>
    static abstract TSelf ReadFields(ref MessagePackReader reader, uint requestId, ProtocolLimits limits);

    /// <summary>Writes the fields after the opcode and request id, <see cref="RequiredFields"/> of them.</summary>
    void WriteFields(ref MessagePackWriter writer);
}
