using ChatWire.Storage.Keys;

namespace ChatWire.Gateway.Keys;

/// <summary>
/// Whom a sender chain's seed must be sealed to (docs/e2e.md, "Distribution"), from the conversation's
/// <see cref="DistributionRoster"/>:
/// <list type="bullet">
/// <item>history mode: every member user at their current history key generation, the sender's own user
/// included (their other devices read the chain through it);</item>
/// <item>strict mode: every device on every member's signed device list, except the sending device itself.</item>
/// </list>
/// A member with no usable key (no history key, or none since a device was revoked; no signed device list) cannot
/// be sealed to and is not required; the state endpoint shows them with a null generation or no devices, and
/// once they publish keys the roster version moves, so every distribution must then cover them.
/// </summary>
internal static class DistributionRules
{
    /// <summary>Why an upload's recipient is refused.</summary>
    public enum Fault
    {
        None = 0,

        /// <summary>Not a member, or (strict) not a device on the member's signed list.</summary>
        Extra = 1,

        /// <summary>History mode: a generation that is not the member's current usable one.</summary>
        Stale = 2,
    }

    public static Fault Check(DistributionRoster roster, IReadOnlyDictionary<Guid, RosterMember> members, KeyRecipient recipient)
    {
        if (!members.TryGetValue(recipient.UserId, out var member))
        {
            return Fault.Extra;
        }

        if (roster.State.Mode == E2eMode.Strict)
        {
            return member.ListedDevices.Contains(recipient.DeviceId) ? Fault.None : Fault.Extra;
        }

        return member.HistoryKeyGeneration == recipient.HistoryKeyGeneration ? Fault.None : Fault.Stale;
    }

    /// <summary>The recipients a complete distribution from <paramref name="senderDeviceId"/> covers now.</summary>
    public static IEnumerable<KeyRecipient> Required(DistributionRoster roster, Guid senderDeviceId)
    {
        foreach (var member in roster.Members)
        {
            if (roster.State.Mode == E2eMode.History)
            {
                if (member.HistoryKeyGeneration is { } generation)
                {
                    yield return new KeyRecipient(member.UserId, Guid.Empty, generation);
                }

                continue;
            }

            foreach (var device in member.ListedDevices)
            {
                if (device != senderDeviceId)
                {
                    yield return new KeyRecipient(member.UserId, device, 0);
                }
            }
        }
    }
}
