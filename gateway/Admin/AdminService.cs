using ChatWire.Gateway.Accounts;
using ChatWire.Gateway.Api;
using ChatWire.Gateway.Conversations;
using ChatWire.Protocol;
using ChatWire.Storage.Directory;

namespace ChatWire.Gateway.Admin;

/// <summary>
/// What the operator does to accounts and teams (docs/deploy.md, "Administration"); the endpoints write the audit
/// line of each. Ending sessions also closes the devices' open connections (SESSION_REVOKED), on every node.
/// </summary>
internal sealed class AdminService(
    IDirectoryStore directory,
    IAccountAdminStore admin,
    ConversationService conversations,
    SessionRevocations revocations,
    PasswordHasher hasher,
    TimeProvider time)
{
    /// <summary>
    /// A user by id (its canonical text form, as every response writes it) or by username (a deleted one only by id),
    /// or NOT_FOUND. Anything else that is not a canonical id is looked up as a username, so finds nothing.
    /// </summary>
    public async Task<UserAdminRecord> ResolveUserAsync(string idOrName, CancellationToken ct)
    {
        var id = idOrName is { Length: 36 } && Guid.TryParseExact(idOrName, "D", out var parsed)
            ? parsed
            : (await directory.FindUserByNameAsync(idOrName.ToLowerInvariant(), ct))?.Id;
        return (id is { } userId ? await admin.GetUserAdminAsync(userId, ct) : null)
            ?? throw new RequestRefusedException(ErrorCode.NotFound, "No user with this id or username.");
    }

    public async Task DisableAsync(UserAdminRecord user, CancellationToken ct)
    {
        RequireLive(user);
        await admin.SetUserDisabledAsync(user.User.Id, time.GetUtcNow(), ct);
        await RevokeAllAsync(user.User.Id, ct);
    }

    public async Task EnableAsync(UserAdminRecord user, CancellationToken ct)
    {
        RequireLive(user);
        await admin.SetUserDisabledAsync(user.User.Id, null, ct);
    }

    /// <summary>
    /// Ends every session of the account. Also of a deleted account, which should have none (its deletion ended them
    /// twice): the one change an operator can still make to it.
    /// </summary>
    public Task<int> RevokeSessionsAsync(UserAdminRecord user, CancellationToken ct) => RevokeAllAsync(user.User.Id, ct);

    /// <summary>Sets a new password (the signup rules apply) and ends every session.</summary>
    public async Task<int> ResetPasswordAsync(UserAdminRecord user, string? password, string clientKey, CancellationToken ct)
    {
        RequireLive(user);
        var checkedPassword = Validation.Password("password", password, user.User.Username);
        await directory.UpdatePasswordHashAsync(user.User.Id, await hasher.HashAsync(checkedPassword, clientKey, ct), ct);
        return await RevokeAllAsync(user.User.Id, ct);
    }

    /// <summary>
    /// Deletes the account: refused while it is the last owner of a team others are in (transfer or delete that team
    /// first). Its sessions end, it leaves every team (a team it was alone in is deleted), and the account becomes a
    /// tombstone: its messages stay, from "Deleted account".
    /// </summary>
    public async Task<AdminUserDeletedResponse> DeleteUserAsync(UserAdminRecord user, CancellationToken ct)
    {
        RequireLive(user);
        var memberships = await directory.ListTeamsForUserAsync(user.User.Id, ct);
        var alone = new List<Guid>();
        foreach (var membership in memberships)
        {
            var (members, owners) = await directory.CountTeamMembersAsync(membership.Team.Id, ct);
            if (members == 1)
            {
                alone.Add(membership.Team.Id);
            }
            else if (membership.Role == TeamRole.Owner && owners == 1)
            {
                throw new RequestRefusedException(
                    ErrorCode.Forbidden,
                    $"The user is the last owner of team {membership.Team.Id} ('{membership.Team.Name}'), which has other members: make another member an owner, or delete the team, first.");
            }
        }

        await RevokeAllAsync(user.User.Id, ct);
        foreach (var membership in memberships)
        {
            if (alone.Contains(membership.Team.Id))
            {
                await conversations.DeleteTeamByOperatorAsync(membership.Team.Id, ct);
            }
            else
            {
                await conversations.RemoveFromTeamByOperatorAsync(membership.Team.Id, user.User.Id, keepAnOwner: true, ct);
            }
        }

        // Two identical deletes may both get this far; only the one that turns the account into a tombstone succeeds.
        if (!await admin.MarkUserDeletedAsync(user.User.Id, time.GetUtcNow(), ct))
        {
            throw Deleted();
        }

        // Again, now that the account is a tombstone: a login may have stored its session after the first revocation
        // and read the account (its last check) before the tombstone. A login storing one from now on reads the
        // tombstone and ends its own session.
        await RevokeAllAsync(user.User.Id, CancellationToken.None);

        return new AdminUserDeletedResponse(user.User.Id, memberships.Count - alone.Count, alone.Count);
    }

    public async Task<AdminTeamDeletedResponse> DeleteTeamAsync(Guid teamId, CancellationToken ct)
    {
        // An unknown team has no members to remove and nothing to delete: null, like one an identical request deleted.
        var members = await conversations.DeleteTeamByOperatorAsync(teamId, ct) ?? throw NoTeam();
        return new AdminTeamDeletedResponse(teamId, members);
    }

    private static void RequireLive(UserAdminRecord user)
    {
        if (user.DeletedAt is not null)
        {
            throw Deleted();
        }
    }

    private static RequestRefusedException Deleted() => new(ErrorCode.NotFound, "This account was deleted.");

    private static RequestRefusedException NoTeam() => new(ErrorCode.NotFound, "No team with this id.");

    private async Task<int> RevokeAllAsync(Guid userId, CancellationToken ct)
    {
        var revoked = await directory.RevokeAllDeviceSessionsAsync(userId, exceptDeviceId: null, time.GetUtcNow(), ct);
        foreach (var device in revoked)
        {
            await revocations.PublishAsync(userId, device);
        }

        return revoked.Count;
    }
}
