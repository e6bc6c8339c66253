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

    /// <summary>
    /// Writes one encoded frame like <see cref="Deliver"/> but leaves it in the target's buffer, so several events
    /// for one connection leave together in one system call (and, encrypted, one record). The caller counts the
    /// frames written (<c>chatwire_frames_sent_total</c>), once per event rather than once per target. When the
    /// target had nothing waiting before (<see cref="DeliveryWrite.WrittenFlushOwed"/>), the caller owes it
    /// exactly one <see cref="FlushDeliveries"/>, which it makes as soon as the events at hand are written.
    /// Never blocks.
    /// </summary>
    DeliveryWrite DeliverUnflushed(ReadOnlySpan<byte> frame);

    /// <summary>
    /// Writes several encoded frames, in order, as <see cref="DeliverUnflushed"/> would one by one, for events that
    /// follow each other in the fan-out with the same recipients: a connection takes its lock once for the run
    /// rather than once per event. <paramref name="joined"/> is either empty or the same frames back to back, given
    /// only when none of them is ephemeral (<see cref="DeliveryFrames.IsEphemeral"/>), so that a target may write
    /// the run in one piece. Adds 1 to <c>written[i]</c> for each frame <c>frames[i]</c> it wrote, and returns
    /// <see cref="DeliveryWrite.WrittenFlushOwed"/> when the caller owes it one <see cref="FlushDeliveries"/>,
    /// <see cref="DeliveryWrite.Written"/> when it wrote without owing one, <see cref="DeliveryWrite.Dropped"/> when
    /// it wrote nothing. Never blocks.
    /// </summary>
    DeliveryWrite DeliverRunUnflushed(ReadOnlySpan<byte[]> frames, ReadOnlySpan<byte> joined, Span<int> written) =>
        DeliveryFrames.DeliverEach(this, frames, written);

    /// <summary>Sends what <see cref="DeliverUnflushed"/> left waiting.</summary>
    void FlushDeliveries();

    /// <summary>The device's session was revoked: close with SESSION_REVOKED.</summary>
    void Revoke();
}

/// <summary>Facts about encoded frames that the fan-out and its targets share.</summary>
internal static class DeliveryFrames
{
    /// <summary>
    /// Typing and presence notices: a connection that is behind drops them rather than queue them (a late "is typing"
    /// is worse than none), so they are never written as part of a joined run.
    /// </summary>
    public static bool IsEphemeral(Protocol.Opcode opcode) => opcode is Protocol.Opcode.UserTyping or Protocol.Opcode.Presence;

    /// <summary>A run written one <see cref="IDeliveryTarget.DeliverUnflushed"/> at a time (what a target without a faster way does).</summary>
    public static DeliveryWrite DeliverEach(IDeliveryTarget target, ReadOnlySpan<byte[]> frames, Span<int> written)
    {
        var result = DeliveryWrite.Dropped;
        for (var i = 0; i < frames.Length; i++)
        {
            var write = target.DeliverUnflushed(frames[i]);
            if (write != DeliveryWrite.Dropped)
            {
                written[i]++;
                result = write > result ? write : result;
            }
        }

        return result;
    }
}

/// <summary>
/// What <see cref="IDeliveryTarget.DeliverUnflushed"/> did with a frame. Ordered: what a run did is the greatest of
/// what its frames did.
/// </summary>
internal enum DeliveryWrite : byte
{
    /// <summary>Not written: the target is closing, or the frame was an ephemeral one it was too far behind for.</summary>
    Dropped,

    /// <summary>Written behind frames that already owe a flush.</summary>
    Written,

    /// <summary>Written, and the caller owes the target one <see cref="IDeliveryTarget.FlushDeliveries"/>.</summary>
    WrittenFlushOwed,
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
