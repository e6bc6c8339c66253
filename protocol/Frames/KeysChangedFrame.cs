using ChatWire.Protocol.Internal;
using MessagePack;

namespace ChatWire.Protocol.Frames;

/// <summary>What changed in a user's own keys (KEYS_CHANGED, docs/protocol.md §4.28). Readers ignore values they do not know.</summary>
public enum KeyChange : byte
{
    /// <summary>One of the user's devices registered its keys and waits for approval; the device id is that device.</summary>
    DeviceRegistered = 1,

    /// <summary>The user's signed device list was replaced (a device approved or removed); the device id is nil.</summary>
    DeviceList = 2,

    /// <summary>Another device left keys for the device of the device id (a link payload: after an approval, or the new history key after a revocation).</summary>
    LinkPayload = 3,

    /// <summary>A new history key was added (after a revocation, say); the device id is nil.</summary>
    HistoryKey = 4,

    /// <summary>The account key was registered or reset; the device id is nil.</summary>
    AccountKey = 5,

    /// <summary>
    /// A device's session ended (logout, revoked by the user or an administrator, a password change) and its keys,
    /// if it had any, left the user's current devices; the device id is that device.
    /// </summary>
    DeviceRevoked = 6,
}

/// <summary>
/// KEYS_CHANGED <c>[0x24, 0, change, device_id]</c> (docs/protocol.md §4.28): something in the user's own key
/// directory changed, pushed to every connection of the user, the one whose request made the change included.
/// Not stored: a device that was not connected learns the same from the key directory when it next asks.
/// </summary>
/// <param name="Change">What changed; a value this version does not know is passed through for the reader to ignore.</param>
/// <param name="DeviceId">The device the change is about, or the nil UUID when it is about no one device.</param>
public readonly record struct KeysChanged(KeyChange Change, Guid DeviceId) : IFrame<KeysChanged>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.KeysChanged;

    /// <inheritdoc/>
    public static int RequiredFields => 2;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <summary>Always 0: pushed, not an answer.</summary>
    public uint RequestId => 0;

    /// <inheritdoc/>
    public static KeysChanged ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits) =>
        new((KeyChange)MessagePackFields.ReadByteValue(ref reader, requestId, "change"), MessagePackFields.ReadUuid(ref reader, requestId, "device_id"));

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        writer.Write((byte)Change);
        MessagePackFields.WriteUuid(ref writer, DeviceId);
    }
}
