using ChatWire.Gateway.Accounts;

namespace ChatWire.Gateway.Conversations;

// The operator's membership changes (the management API, docs/deploy.md "Administration"): the same removals as a
// team owner's, without the role checks, announced with the operator as the actor: user and device id all zeros.
internal sealed partial class ConversationService
{
    /// <summary>The actor of a change the server's operator made: user and device id all zeros.</summary>
    public static readonly SessionIdentity Operator = new(Guid.Empty, Guid.Empty, DateTimeOffset.MaxValue);

    /// <summary>
    /// Removes <paramref name="userId"/> from the team (MEMBER_LEFT in each of its channels); nothing when not a member.
    /// With <paramref name="keepAnOwner"/>, the team's last owner is not removed while others stay (FORBIDDEN).
    /// </summary>
    public async Task RemoveFromTeamByOperatorAsync(Guid teamId, Guid userId, bool keepAnOwner, CancellationToken ct)
    {
        using (await userLocks.LockAsync(userId, ct))
        {
            if (await directory.GetTeamMembershipAsync(teamId, userId, ct) is { } membership)
            {
                await RemoveFromTeamAsync(teamId, userId, membership.Role, Operator, keepAnOwner, ct);
            }
        }

    }

    /// <summary>Deletes the team: every member leaves it and its channels, a page of members at a time, then the team goes.</summary>
    /// <returns>How many members it had, or null when the team was already gone (an identical request racing this one deleted it).</returns>
    public async Task<int?> DeleteTeamByOperatorAsync(Guid teamId, CancellationToken ct)
    {
        var removed = 0;
        while (await directory.ListTeamMembersAsync(teamId, null, MaxMembersToDelete, ct) is { Count: > 0 } members)
        {
            foreach (var member in members)
            {
                await RemoveFromTeamByOperatorAsync(teamId, member.UserId, keepAnOwner: false, ct);
                removed++;
            }
        }

        return await directory.DeleteTeamAsync(teamId, ct) ? removed : null;
    }
}
