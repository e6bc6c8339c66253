namespace ChatWire.Protocol;

/// <summary>The first two elements of a frame body, plus how many fields follow them.</summary>
/// <param name="OpcodeValue">The opcode as sent; it may be one this library does not know.</param>
/// <param name="RequestId">The client's request id, echoed in the answer; 0 for server-pushed events.</param>
/// <param name="FieldCount">The number of array elements after the opcode and request id.</param>
public readonly record struct FrameHeader(uint OpcodeValue, uint RequestId, int FieldCount)
{
    /// <summary>Whether <see cref="OpcodeValue"/> names an opcode this library knows.</summary>
    public bool IsKnown => OpcodeValue <= byte.MaxValue && Enum.IsDefined((Opcode)OpcodeValue);

    /// <summary>The opcode; check <see cref="IsKnown"/> first.</summary>
    public Opcode Opcode => (Opcode)OpcodeValue;
}
