namespace ChatWire.Gateway.Delivery;

/// <summary>
/// Somewhere events are written: a protocol connection in the server, a recording fake in unit tests. The
/// fan-out writes each event's bytes, serialized once, to every target of every member.
/// </summary>
internal interface IDeliveryTarget
{
    Guid UserId { get; }

    Guid DeviceId { get; }

    /// <summary>Writes one encoded EVENT frame. Never blocks: a target that cannot keep up closes itself.</summary>
    void Deliver(ReadOnlySpan<byte> frame);

    /// <summary>The device's session was revoked: close with SESSION_REVOKED.</summary>
    void Revoke();
}

/// <summary>
/// Targets compared by reference, hashed by their device id rather than by the runtime's identity hash: an
/// identity hash lives in the object's header, and a session that also locks on itself would then carry a
/// sync block for its whole life.
/// </summary>
internal sealed class DeliveryTargetComparer : IEqualityComparer<IDeliveryTarget>
{
    public static readonly DeliveryTargetComparer Instance = new();

    public bool Equals(IDeliveryTarget? x, IDeliveryTarget? y) => ReferenceEquals(x, y);

    public int GetHashCode(IDeliveryTarget obj) => obj.DeviceId.GetHashCode();
}
