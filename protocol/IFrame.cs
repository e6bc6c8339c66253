using MessagePack;

namespace ChatWire.Protocol;

/// <summary>
/// A frame type: its opcode, how its fields after the opcode and request id are written, and how they
/// are read. Implemented by value types so <see cref="FrameCodec"/> encodes without boxing.
/// </summary>
/// <remarks>
/// Fields are only ever appended (docs/protocol.md §2.4). A reader requires <see cref="RequiredFields"/>,
/// reads the optional fields it knows when they are present (taking their documented defaults when they
/// are not), and the codec skips whatever follows. A writer leaves optional fields that hold their
/// defaults off the end (<see cref="FieldCount"/>), so a frame that needs no newer field is written exactly
/// as older writers wrote it.
/// </remarks>
/// <typeparam name="TSelf">The implementing frame type.</typeparam>
public interface IFrame<TSelf>
    where TSelf : struct, IFrame<TSelf>
{
    /// <summary>The opcode written first in the body.</summary>
    static abstract Opcode Opcode { get; }

    /// <summary>How many fields a reader requires after the opcode and request id.</summary>
    static abstract int RequiredFields { get; }

    /// <summary>How many fields this version knows: the required ones plus optional trailing ones (none unless overridden).</summary>
    static virtual int KnownFields => TSelf.RequiredFields;

    /// <summary>The request id written second in the body.</summary>
    uint RequestId { get; }

    /// <summary>How many fields this frame writes: from <see cref="RequiredFields"/> to <see cref="KnownFields"/>.</summary>
    int FieldCount { get; }

    /// <summary>
    /// Reads <paramref name="present"/> fields (at least <see cref="RequiredFields"/>, at most
    /// <see cref="KnownFields"/>); optional fields beyond <paramref name="present"/> take their defaults.
    /// </summary>
    static abstract TSelf ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits);

    /// <summary>Writes the <see cref="FieldCount"/> fields after the opcode and request id.</summary>
    void WriteFields(ref MessagePackWriter writer);
}
