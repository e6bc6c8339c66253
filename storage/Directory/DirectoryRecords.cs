namespace ChatWire.Storage.Directory;

/// <summary>A user account. <see cref="PasswordHash"/> is a PHC-format string; never a password.</summary>
public sealed record UserRecord(Guid Id, string Username, string DisplayName, string PasswordHash, DateTimeOffset CreatedAt);

/// <summary>
/// One device's session: a device id and the SHA-256 of its session token (the token itself is never stored).
/// </summary>
public sealed record DeviceSessionRecord(
    Guid DeviceId,
    Guid UserId,
    string DeviceName,
    byte[] TokenHash,
    DateTimeOffset CreatedAt,
    DateTimeOffset LastUsedAt,
    DateTimeOffset? RevokedAt);

/// <summary>Member roles in a team, in increasing power.</summary>
public enum TeamRole
{
    Member = 0,
    Admin = 1,
    Owner = 2,
}

/// <summary>What <see cref="IDirectoryStore.SetTeamRoleAsync"/> did.</summary>
public enum TeamRoleChange
{
    /// <summary>The member has the new role.</summary>
    Changed = 0,

    /// <summary>Nothing changed: the user is not a member of the team.</summary>
    NotAMember = 1,

    /// <summary>Nothing changed: the one who asked is not (or no longer) an owner of the team.</summary>
    NotAnOwner = 2,

    /// <summary>Nothing changed: the team would have members and no owner.</summary>
    LastOwner = 3,
}

/// <summary>A team.</summary>
/// <param name="Id">The team's id.</param>
/// <param name="Name">Its name, as people read it.</param>
/// <param name="CreatedBy">The user who created it (its first owner).</param>
/// <param name="CreatedAt">When.</param>
/// <param name="MembersCanInvite">Whether every member may create invites; otherwise only owners and admins.</param>
/// <param name="MembersCanMentionChannel">
/// Whether every member may use @channel and @here (group mentions, which notify every member of a conversation) in
/// the team's conversations; otherwise only owners and admins.
/// </param>
public sealed record TeamRecord(Guid Id, string Name, Guid CreatedBy, DateTimeOffset CreatedAt, bool MembersCanInvite = false, bool MembersCanMentionChannel = true);

/// <summary>A team as one member sees it: with that member's role and mute flag.</summary>
public sealed record TeamMembershipRecord(TeamRecord Team, TeamRole Role, bool Muted, DateTimeOffset JoinedAt);

/// <summary>A member as listed for mention candidates.</summary>
public sealed record TeamMemberRecord(Guid UserId, string Username, string DisplayName, TeamRole Role, bool Muted);

/// <summary>An invite; only the SHA-256 of its code is stored.</summary>
public sealed record InviteRecord(
    Guid Id,
    Guid TeamId,
    byte[] CodeHash,
    Guid CreatedBy,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    DateTimeOffset? RevokedAt);

public enum ConversationKind
{
    PublicChannel = 0,
    PrivateChannel = 1,
    DirectMessage = 2,
    GroupMessage = 3,
}

/// <summary>
/// A channel (team-scoped, named) or a DM (no team, no name; <see cref="DirectKey"/> is the sorted member
/// ids, unique, so opening the same DM twice returns the first).
/// </summary>
public sealed record ConversationRecord(
    Guid Id,
    ConversationKind Kind,
    Guid? TeamId,
    string? Name,
    string? DirectKey,
    Guid CreatedBy,
    DateTimeOffset CreatedAt)
{
    /// <summary>For an archived channel, when it was archived: readable, not writable. Null otherwise.</summary>
    public DateTimeOffset? ArchivedAt { get; init; }

    /// <summary>
    /// For a channel in slow mode, the seconds each member waits between two messages in it (the channel's creator
    /// and the team's owners and admins do not); 0 when off, at most <see cref="MaxSlowModeSeconds"/>.
    /// </summary>
    public int SlowModeSeconds { get; init; }

    /// <summary>The longest slow mode a channel may have: six hours.</summary>
    public const int MaxSlowModeSeconds = 21_600;

    /// <summary>A channel's topic, a line people read at its head; empty when it has none (and for DMs).</summary>
    public string Topic { get; init; } = string.Empty;

    /// <summary>The longest topic, in characters (Unicode scalar values).</summary>
    public const int MaxTopicLength = 250;
}
