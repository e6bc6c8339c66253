namespace ChatWire.Gateway.Delivery;

internal enum ControlKind : byte
{
    ConversationJoined = 1,
    ConversationLeft = 2,
    DeviceRevoked = 3,
}

/// <summary>A message on a user's bus topic: 1 byte kind, then a 16-byte id (conversation or device).</summary>
internal readonly record struct ControlMessage(ControlKind Kind, Guid Id)
{
    public const int Length = 17;

    public byte[] Encode()
    {
        var bytes = new byte[Length];
        bytes[0] = (byte)Kind;
        Id.TryWriteBytes(bytes.AsSpan(1), bigEndian: true, out _);
        return bytes;
    }

    public static bool TryDecode(ReadOnlySpan<byte> payload, out ControlMessage message)
    {
        if (payload.Length != Length || payload[0] is 0 or > (byte)ControlKind.DeviceRevoked)
        {
            message = default;
            return false;
        }

        message = new ControlMessage((ControlKind)payload[0], new Guid(payload[1..], bigEndian: true));
        return true;
    }
}
