namespace ChatWire.Storage.Directory;

/// <summary>A user as the operator sees it (docs/operations.md, "Administration").</summary>
/// <param name="User">The account (a deleted one carries its tombstone name and "Deleted account").</param>
/// <param name="DisabledAt">When it was disabled; null while it may log in.</param>
/// <param name="DeletedAt">When it was deleted; null for a live account.</param>
/// <param name="ActiveSessions">Sessions not revoked.</param>
public sealed record UserAdminRecord(UserRecord User, DateTimeOffset? DisabledAt, DateTimeOffset? DeletedAt, int ActiveSessions);

/// <summary>A team as the operator sees it.</summary>
/// <param name="Team">The team.</param>
/// <param name="Members">How many members it has.</param>
public sealed record TeamAdminRecord(TeamRecord Team, int Members);

/// <summary>
/// What the operator's management API needs beyond the directory port: every account and team, and an account's
/// state. Adapters: SQLite and MySQL (the directory stores), both passing AccountAdminStoreContract.
/// </summary>
public interface IAccountAdminStore
{
    /// <summary>The display name a deleted account shows wherever its messages are.</summary>
    public const string DeletedDisplayName = "Deleted account";

    /// <summary>Accounts by username, after <paramref name="afterUsername"/> (exclusive), at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<UserAdminRecord>> ListUsersAsync(string? afterUsername, int limit, CancellationToken cancellationToken = default);

    Task<UserAdminRecord?> GetUserAdminAsync(Guid userId, CancellationToken cancellationToken = default);

    /// <summary>Disables the account (<paramref name="disabledAt"/>) or enables it (null); false for an unknown or deleted one.</summary>
    Task<bool> SetUserDisabledAsync(Guid userId, DateTimeOffset? disabledAt, CancellationToken cancellationToken = default);

    /// <summary>
    /// Marks the account deleted, in one transaction: its username becomes the tombstone <c>deleted-</c> and the id's
    /// 32 hex digits (the name is free again, and no signup can take the tombstone: it is longer than a username
    /// may be), its display name <see cref="DeletedDisplayName"/>, its password hash empty; it is disabled; its
    /// end-to-end key material goes (account key, device list, former devices) and its history keys stop being
    /// usable, so nobody seals to it any more. The row stays: its messages keep their sender. Sessions, team and
    /// conversation memberships are ended by the caller first. False for an unknown or already deleted account.
    /// </summary>
    Task<bool> MarkUserDeletedAsync(Guid userId, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>Teams by id, after <paramref name="afterTeamId"/> (exclusive), at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<TeamAdminRecord>> ListTeamsAsync(Guid? afterTeamId, int limit, CancellationToken cancellationToken = default);

    /// <summary>The tombstone username of a deleted account.</summary>
    public static string TombstoneName(Guid userId) => "deleted-" + userId.ToString("N");
}
