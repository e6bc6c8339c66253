namespace ChatWire.Storage.Directory;

/// <summary>
/// The directory port: users, device sessions, teams, members, invites, conversations and their members.
/// Adapters: SQLite (embedded), MySQL (distributed). Every adapter passes DirectoryStoreContract.
/// Methods that create a uniquely-named thing throw <see cref="DuplicateKeyException"/> when the name is taken.
/// </summary>
public interface IDirectoryStore
{
    // Users
    Task CreateUserAsync(UserRecord user, CancellationToken cancellationToken = default);

    /// <summary>Case-insensitive lookup by username.</summary>
    Task<UserRecord?> FindUserByNameAsync(string username, CancellationToken cancellationToken = default);

    Task<UserRecord?> GetUserAsync(Guid userId, CancellationToken cancellationToken = default);

    /// <summary>Sets the account's password hash; a deleted account (a tombstone) keeps its empty one.</summary>
    Task UpdatePasswordHashAsync(Guid userId, string passwordHash, CancellationToken cancellationToken = default);

    // Device sessions
    Task CreateDeviceSessionAsync(DeviceSessionRecord session, CancellationToken cancellationToken = default);

    Task<DeviceSessionRecord?> FindSessionByTokenHashAsync(byte[] tokenHash, CancellationToken cancellationToken = default);

    Task<DeviceSessionRecord?> GetDeviceSessionAsync(Guid deviceId, CancellationToken cancellationToken = default);

    Task TouchDeviceSessionAsync(Guid deviceId, DateTimeOffset lastUsedAt, CancellationToken cancellationToken = default);

    /// <summary>The user's sessions that are not revoked, oldest first.</summary>
    Task<IReadOnlyList<DeviceSessionRecord>> ListDeviceSessionsAsync(Guid userId, CancellationToken cancellationToken = default);

    /// <summary>Revokes one of the user's sessions; false when it is not theirs or already revoked.</summary>
    Task<bool> RevokeDeviceSessionAsync(Guid userId, Guid deviceId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default);

    /// <summary>Revokes all the user's live sessions except <paramref name="exceptDeviceId"/>; returns the devices revoked.</summary>
    Task<IReadOnlyList<Guid>> RevokeAllDeviceSessionsAsync(Guid userId, Guid? exceptDeviceId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default);

    // Teams and members
    /// <summary>Creates the team with <paramref name="team"/>.CreatedBy as its owner, in one transaction.</summary>
    Task CreateTeamAsync(TeamRecord team, CancellationToken cancellationToken = default);

    Task<TeamRecord?> GetTeamAsync(Guid teamId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<TeamMembershipRecord>> ListTeamsForUserAsync(Guid userId, CancellationToken cancellationToken = default);

    Task<TeamMembershipRecord?> GetTeamMembershipAsync(Guid teamId, Guid userId, CancellationToken cancellationToken = default);

    /// <summary>Adds a member; false when already a member.</summary>
    Task<bool> AddTeamMemberAsync(Guid teamId, Guid userId, TeamRole role, DateTimeOffset joinedAt, CancellationToken cancellationToken = default);

    /// <summary>Removes a member from the team and from its channels; false when not a member.</summary>
    Task<bool> RemoveTeamMemberAsync(Guid teamId, Guid userId, CancellationToken cancellationToken = default);

    Task<bool> SetTeamMutedAsync(Guid teamId, Guid userId, bool muted, CancellationToken cancellationToken = default);

    /// <summary>Renames the team and/or changes its settings (a null leaves that one as it is); false when there is no such team.</summary>
    Task<bool> UpdateTeamAsync(Guid teamId, string? name, bool? membersCanInvite, bool? membersCanMentionChannel = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Changes a member's role, as one atomic step with two checks: <paramref name="requiredOwner"/> (when given) is
    /// an owner of the team, and the team is not left with members but no owner. Either failing changes nothing. Two
    /// owners who step down (or demote each other) at the same moment, on one node or two, leave one of them an owner.
    /// </summary>
    Task<TeamRoleChange> SetTeamRoleAsync(Guid teamId, Guid userId, TeamRole role, Guid? requiredOwner, CancellationToken cancellationToken = default);

    /// <summary>
    /// Notes that an owner or admin removed the user from the team at <paramref name="removedAt"/> (replacing an
    /// earlier note): an invite made before then no longer lets them in. Gone with the team or the user.
    /// </summary>
    Task RecordTeamRemovalAsync(Guid teamId, Guid userId, DateTimeOffset removedAt, CancellationToken cancellationToken = default);

    /// <summary>When the user was last removed from the team by someone else; null when never.</summary>
    Task<DateTimeOffset?> GetTeamRemovalAsync(Guid teamId, Guid userId, CancellationToken cancellationToken = default);

    /// <summary>How many members the team has, and how many of them are owners.</summary>
    Task<(int Members, int Owners)> CountTeamMembersAsync(Guid teamId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Who should own a team left without an owner: its highest role first (an admin before a member), and among
    /// those the one who joined first (then the smaller user id); null for a team without members. From the primary,
    /// like <see cref="CountTeamMembersAsync"/>. Reads every member of the team: for the rare repair only.
    /// </summary>
    Task<Guid?> FindTeamHeirAsync(Guid teamId, CancellationToken cancellationToken = default);

    /// <summary>How many teams the user owns (for the cap on teams one user creates).</summary>
    Task<int> CountTeamsOwnedAsync(Guid userId, CancellationToken cancellationToken = default);

    /// <summary>Members whose username or display name starts with <paramref name="prefix"/> (case-insensitive), by username.</summary>
    Task<IReadOnlyList<TeamMemberRecord>> ListTeamMembersAsync(Guid teamId, string? prefix, int limit, CancellationToken cancellationToken = default);

    /// <summary>A page of a team's members in user id order, after <paramref name="afterUserId"/> (from the first when null).</summary>
    Task<IReadOnlyList<TeamMemberRecord>> ListTeamMembersByIdAsync(Guid teamId, Guid? afterUserId, int limit, CancellationToken cancellationToken = default);

    /// <summary>Whether the two users share at least one team.</summary>
    Task<bool> ShareTeamAsync(Guid userA, Guid userB, CancellationToken cancellationToken = default);

    /// <summary>Those of <paramref name="others"/> who share at least one team with <paramref name="userId"/>.</summary>
    Task<IReadOnlySet<Guid>> FilterTeammatesAsync(Guid userId, IReadOnlyCollection<Guid> others, CancellationToken cancellationToken = default);

    /// <summary>Records when the user was last seen (their last device went away).</summary>
    Task SetLastSeenAsync(Guid userId, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>When each of these users was last seen; users never seen are left out.</summary>
    Task<IReadOnlyDictionary<Guid, DateTimeOffset>> GetLastSeenAsync(IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken = default);

    // Invites
    Task CreateInviteAsync(InviteRecord invite, CancellationToken cancellationToken = default);

    Task<InviteRecord?> FindInviteByCodeHashAsync(byte[] codeHash, CancellationToken cancellationToken = default);

    /// <summary>
    /// The team's invites, live and dead (revoked or expired), in id order: up to <paramref name="limit"/> of those
    /// after <paramref name="afterId"/> (from the first when null).
    /// </summary>
    Task<IReadOnlyList<InviteRecord>> ListInvitesAsync(Guid teamId, Guid? afterId, int limit, CancellationToken cancellationToken = default);

    /// <summary>Deletes the team's invites revoked or expired before <paramref name="before"/>; how many.</summary>
    Task<int> DeleteDeadInvitesAsync(Guid teamId, DateTimeOffset before, CancellationToken cancellationToken = default);

    Task<bool> RevokeInviteAsync(Guid teamId, Guid inviteId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default);

    /// <summary>Revokes every unrevoked invite <paramref name="createdBy"/> made to the team; how many.</summary>
    Task<int> RevokeInvitesCreatedByAsync(Guid teamId, Guid createdBy, DateTimeOffset revokedAt, CancellationToken cancellationToken = default);

    /// <summary>Invites of the team neither revoked nor expired at <paramref name="now"/>.</summary>
    Task<int> CountActiveInvitesAsync(Guid teamId, DateTimeOffset now, CancellationToken cancellationToken = default);

    // Conversations
    /// <summary>How many channels (public and private) the team has.</summary>
    Task<int> CountChannelsAsync(Guid teamId, CancellationToken cancellationToken = default);

    /// <summary>Creates the conversation and adds <paramref name="memberIds"/>; public channel names are unique per team.</summary>
    Task CreateConversationAsync(ConversationRecord conversation, IReadOnlyCollection<Guid> memberIds, CancellationToken cancellationToken = default);

    Task<ConversationRecord?> GetConversationAsync(Guid conversationId, CancellationToken cancellationToken = default);

    Task<ConversationRecord?> FindDirectConversationAsync(string directKey, CancellationToken cancellationToken = default);

    /// <summary>The team's public channels plus the private ones <paramref name="userId"/> belongs to, by name.</summary>
    Task<IReadOnlyList<ConversationRecord>> ListChannelsAsync(Guid teamId, Guid userId, CancellationToken cancellationToken = default);

    /// <summary>Every conversation the user is a member of (channels and DMs).</summary>
    Task<IReadOnlyList<ConversationRecord>> ListConversationsForUserAsync(Guid userId, CancellationToken cancellationToken = default);

    Task<bool> IsConversationMemberAsync(Guid conversationId, Guid userId, CancellationToken cancellationToken = default);

    /// <summary>Adds a member; false when already a member.</summary>
    Task<bool> AddConversationMemberAsync(Guid conversationId, Guid userId, DateTimeOffset joinedAt, CancellationToken cancellationToken = default);

    /// <summary>
    /// Renames a channel (when <paramref name="name"/> is given), archives or unarchives it (when
    /// <paramref name="archivedAt"/> is given: a time archives, <see cref="DateTimeOffset.MinValue"/> unarchives)
    /// sets its slow mode (when <paramref name="slowModeSeconds"/> is given: 0 to 21,600 seconds, 0 off) and its topic
    /// (when <paramref name="topic"/> is given: empty clears it); false when there is no such channel.
    /// </summary>
    /// <exception cref="DuplicateKeyException">Another public channel of the team has the name.</exception>
    Task<bool> UpdateChannelAsync(Guid conversationId, string? name, DateTimeOffset? archivedAt, int? slowModeSeconds = null, string? topic = null, CancellationToken cancellationToken = default);

    /// <summary>Deletes a team with its channels, memberships and invites; false when there is no such team.</summary>
    Task<bool> DeleteTeamAsync(Guid teamId, CancellationToken cancellationToken = default);

    /// <summary>Removes the user from the conversation; false when they were not in it.</summary>
    Task<bool> RemoveConversationMemberAsync(Guid conversationId, Guid userId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<Guid>> ListConversationMembersAsync(Guid conversationId, CancellationToken cancellationToken = default);
}

/// <summary>A unique key (username, public channel name in a team, direct key) is already taken.</summary>
public sealed class DuplicateKeyException : Exception
{
    public DuplicateKeyException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }

    public DuplicateKeyException()
    {
    }

    public DuplicateKeyException(string message)
        : base(message)
    {
    }
}
