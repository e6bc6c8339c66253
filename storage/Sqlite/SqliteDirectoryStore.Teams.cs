using ChatWire.Storage.Directory;
using Microsoft.Data.Sqlite;

namespace ChatWire.Storage.Sqlite;

public sealed partial class SqliteDirectoryStore
{
    // ReadTeam reads these ordinals; ReadMembership the team's, then the member's.
    private const string TeamColumns = "t.id, t.name, t.created_by, t.created_at, t.members_can_invite, t.members_can_mention_channel";
    private const string MembershipColumns = TeamColumns + ", m.role, m.muted, m.joined_at";
    private const string InviteColumns = "id, team_id, code_hash, created_by, created_at, expires_at, revoked_at";

    // LIKE's escape character; chosen because no other meaning attaches to it in SQL text literals.

    public async Task CreateTeamAsync(TeamRecord team, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(team);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        using var transaction = connection.BeginTransaction(deferred: false);

        await using (var insertTeam = connection.CreateCommand())
        {
            insertTeam.Transaction = transaction;
            insertTeam.CommandText = """
                INSERT INTO teams (id, name, created_by, created_at, members_can_invite, members_can_mention_channel)
                VALUES ($id, $name, $created_by, $created_at, $members_can_invite, $members_can_mention_channel);
                """;
            insertTeam.Parameters.AddGuid("$id", team.Id);
            insertTeam.Parameters.AddInteger("$members_can_invite", team.MembersCanInvite ? 1 : 0);
            insertTeam.Parameters.AddInteger("$members_can_mention_channel", team.MembersCanMentionChannel ? 1 : 0);
            insertTeam.Parameters.AddText("$name", team.Name);
            insertTeam.Parameters.AddGuid("$created_by", team.CreatedBy);
            insertTeam.Parameters.AddTime("$created_at", team.CreatedAt);
            await ExecuteInsertAsync(insertTeam, "The team id is taken.", cancellationToken);
        }

        await using (var insertOwner = connection.CreateCommand())
        {
            insertOwner.Transaction = transaction;
            insertOwner.CommandText = """
                INSERT INTO team_members (team_id, user_id, role, muted, joined_at)
                VALUES ($team_id, $user_id, $role, 0, $joined_at);
                """;
            insertOwner.Parameters.AddGuid("$team_id", team.Id);
            insertOwner.Parameters.AddGuid("$user_id", team.CreatedBy);
            insertOwner.Parameters.AddInteger("$role", (long)TeamRole.Owner);
            insertOwner.Parameters.AddTime("$joined_at", team.CreatedAt);
            await insertOwner.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<TeamRecord?> GetTeamAsync(Guid teamId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {TeamColumns} FROM teams t WHERE t.id = $id;";
        command.Parameters.AddGuid("$id", teamId);
        return await ReadSingleAsync(command, ReadTeam, cancellationToken);
    }

    public async Task<IReadOnlyList<TeamMembershipRecord>> ListTeamsForUserAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT {MembershipColumns}
            FROM team_members m JOIN teams t ON t.id = m.team_id
            WHERE m.user_id = $user_id
            ORDER BY t.name COLLATE NOCASE, t.id;
            """;
        command.Parameters.AddGuid("$user_id", userId);
        return await ReadListAsync(command, ReadMembership, cancellationToken);
    }

    public async Task<TeamMembershipRecord?> GetTeamMembershipAsync(Guid teamId, Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT {MembershipColumns}
            FROM team_members m JOIN teams t ON t.id = m.team_id
            WHERE m.team_id = $team_id AND m.user_id = $user_id;
            """;
        command.Parameters.AddGuid("$team_id", teamId);
        command.Parameters.AddGuid("$user_id", userId);
        return await ReadSingleAsync(command, ReadMembership, cancellationToken);
    }

    public async Task<bool> AddTeamMemberAsync(Guid teamId, Guid userId, TeamRole role, DateTimeOffset joinedAt, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO team_members (team_id, user_id, role, muted, joined_at)
            VALUES ($team_id, $user_id, $role, 0, $joined_at)
            ON CONFLICT (team_id, user_id) DO NOTHING;
            """;
        command.Parameters.AddGuid("$team_id", teamId);
        command.Parameters.AddGuid("$user_id", userId);
        command.Parameters.AddInteger("$role", (long)role);
        command.Parameters.AddTime("$joined_at", joinedAt);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<bool> RemoveTeamMemberAsync(Guid teamId, Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        using var transaction = connection.BeginTransaction(deferred: false);

        await using (var leaveChannels = connection.CreateCommand())
        {
            // The channels the member leaves get a new epoch, in the same transaction.
            leaveChannels.Transaction = transaction;
            leaveChannels.CommandText = """
                UPDATE conversations SET key_epoch = key_epoch + 1, key_roster_version = key_roster_version + 1
                WHERE team_id = $team_id
                  AND id IN (SELECT conversation_id FROM conversation_members WHERE user_id = $user_id);
                DELETE FROM conversation_members
                WHERE user_id = $user_id
                  AND conversation_id IN (SELECT id FROM conversations WHERE team_id = $team_id);
                """;
            leaveChannels.Parameters.AddGuid("$user_id", userId);
            leaveChannels.Parameters.AddGuid("$team_id", teamId);
            await leaveChannels.ExecuteNonQueryAsync(cancellationToken);
        }

        int removed;
        await using (var leaveTeam = connection.CreateCommand())
        {
            leaveTeam.Transaction = transaction;
            leaveTeam.CommandText = "DELETE FROM team_members WHERE team_id = $team_id AND user_id = $user_id;";
            leaveTeam.Parameters.AddGuid("$team_id", teamId);
            leaveTeam.Parameters.AddGuid("$user_id", userId);
            removed = await leaveTeam.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return removed == 1;
    }

    public async Task<bool> SetTeamMutedAsync(Guid teamId, Guid userId, bool muted, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE team_members SET muted = $muted WHERE team_id = $team_id AND user_id = $user_id;";
        command.Parameters.AddInteger("$muted", muted ? 1 : 0);
        command.Parameters.AddGuid("$team_id", teamId);
        command.Parameters.AddGuid("$user_id", userId);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<bool> UpdateTeamAsync(Guid teamId, string? name, bool? membersCanInvite, bool? membersCanMentionChannel = null, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            UPDATE teams SET name = coalesce($name, name), members_can_invite = coalesce($members_can_invite, members_can_invite),
                members_can_mention_channel = coalesce($members_can_mention_channel, members_can_mention_channel)
            WHERE id = $id;
            """;
        command.Parameters.AddText("$name", name);
        command.Parameters.AddNullableInteger("$members_can_invite", membersCanInvite is { } open ? (open ? 1 : 0) : null);
        command.Parameters.AddNullableInteger("$members_can_mention_channel", membersCanMentionChannel is { } all ? (all ? 1 : 0) : null);
        command.Parameters.AddGuid("$id", teamId);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<TeamRoleChange> SetTeamRoleAsync(Guid teamId, Guid userId, TeamRole role, Guid? requiredOwner, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);

        // An immediate transaction holds the database's write lock from its first statement: the checks and the
        // change below see no other writer's work in between. Leaving without a commit rolls back.
        using var transaction = connection.BeginTransaction(deferred: false);
        if (requiredOwner is { } owner)
        {
            await using var check = connection.CreateCommand();
            check.Transaction = transaction;
            check.CommandText = "SELECT count(*) FROM team_members WHERE team_id = $team_id AND user_id = $user_id AND role = $owner;";
            check.Parameters.AddGuid("$team_id", teamId);
            check.Parameters.AddGuid("$user_id", owner);
            check.Parameters.AddInteger("$owner", (long)TeamRole.Owner);
            if (await ReadCountAsync(check, cancellationToken) == 0)
            {
                return TeamRoleChange.NotAnOwner;
            }
        }

        await using (var update = connection.CreateCommand())
        {
            update.Transaction = transaction;
            update.CommandText = "UPDATE team_members SET role = $role WHERE team_id = $team_id AND user_id = $user_id;";
            update.Parameters.AddInteger("$role", (long)role);
            update.Parameters.AddGuid("$team_id", teamId);
            update.Parameters.AddGuid("$user_id", userId);
            if (await update.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                return TeamRoleChange.NotAMember;
            }
        }

        await using (var owners = connection.CreateCommand())
        {
            owners.Transaction = transaction;
            owners.CommandText = "SELECT count(*) FROM team_members WHERE team_id = $team_id AND role = $owner;";
            owners.Parameters.AddGuid("$team_id", teamId);
            owners.Parameters.AddInteger("$owner", (long)TeamRole.Owner);
            if (await ReadCountAsync(owners, cancellationToken) == 0)
            {
                return TeamRoleChange.LastOwner;
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return TeamRoleChange.Changed;
    }

    public async Task RecordTeamRemovalAsync(Guid teamId, Guid userId, DateTimeOffset removedAt, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO team_removals (team_id, user_id, removed_at) VALUES ($team_id, $user_id, $removed_at)
            ON CONFLICT (team_id, user_id) DO UPDATE SET removed_at = excluded.removed_at;
            """;
        command.Parameters.AddGuid("$team_id", teamId);
        command.Parameters.AddGuid("$user_id", userId);
        command.Parameters.AddTime("$removed_at", removedAt);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<DateTimeOffset?> GetTeamRemovalAsync(Guid teamId, Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT removed_at FROM team_removals WHERE team_id = $team_id AND user_id = $user_id;";
        command.Parameters.AddGuid("$team_id", teamId);
        command.Parameters.AddGuid("$user_id", userId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? reader.ReadTime(0) : null;
    }

    public async Task<(int Members, int Owners)> CountTeamMembersAsync(Guid teamId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT count(*), coalesce(sum(role = $owner), 0) FROM team_members WHERE team_id = $team_id;
            """;
        command.Parameters.AddInteger("$owner", (long)TeamRole.Owner);
        command.Parameters.AddGuid("$team_id", teamId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt32(0), reader.GetInt32(1));
    }

    public async Task<Guid?> FindTeamHeirAsync(Guid teamId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT user_id FROM team_members WHERE team_id = $team_id ORDER BY role DESC, joined_at, user_id LIMIT 1;";
        command.Parameters.AddGuid("$team_id", teamId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? reader.ReadGuid(0) : null;
    }

    public async Task<int> CountTeamsOwnedAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM team_members WHERE user_id = $user_id AND role = $owner;";
        command.Parameters.AddGuid("$user_id", userId);
        command.Parameters.AddInteger("$owner", (long)TeamRole.Owner);
        return await ReadCountAsync(command, cancellationToken);
    }

    public async Task<IReadOnlyList<TeamMemberRecord>> ListTeamMembersAsync(Guid teamId, string? prefix, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();

        // A range scan of member_names' key from the prefix, stopped after enough names (a member has at most
        // three), whatever the team's size; NOCASE folds ASCII case, as the username column does. Without a
        // prefix, usernames in order.
        command.CommandText = string.IsNullOrEmpty(prefix)
            ? """
              SELECT u.id, u.username, u.display_name, m.role, m.muted
              FROM (SELECT user_id FROM member_names WHERE team_id = $team_id AND kind = 0 ORDER BY name_key LIMIT $limit) n
              JOIN team_members m ON m.team_id = $team_id AND m.user_id = n.user_id
              JOIN users u ON u.id = n.user_id
              ORDER BY u.username, u.id;
              """
            : """
              SELECT u.id, u.username, u.display_name, m.role, m.muted
              FROM (SELECT DISTINCT user_id FROM (
                      SELECT user_id FROM member_names
                      WHERE team_id = $team_id AND name_key >= $low AND name_key < $high
                      ORDER BY name_key LIMIT $scan)) n
              JOIN team_members m ON m.team_id = $team_id AND m.user_id = n.user_id
              JOIN users u ON u.id = n.user_id
              ORDER BY u.username, u.id
              LIMIT $limit;
              """;
        command.Parameters.AddGuid("$team_id", teamId);
        command.Parameters.AddInteger("$limit", limit);
        if (!string.IsNullOrEmpty(prefix))
        {
            command.Parameters.AddText("$low", prefix);
            command.Parameters.AddText("$high", prefix + char.ConvertFromUtf32(0x10FFFF));
            command.Parameters.AddInteger("$scan", (long)limit * 3);
        }

        return await ReadListAsync(command, ReadMember, cancellationToken);
    }

    private static TeamMemberRecord ReadMember(SqliteDataReader reader) => new(
        reader.ReadGuid(0),
        reader.GetString(1),
        reader.GetString(2),
        (TeamRole)reader.GetInt32(3),
        reader.GetInt64(4) != 0);

    public async Task<bool> DeleteTeamAsync(Guid teamId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();

        // Spelled out rather than left to ON DELETE CASCADE, so it does not depend on the connection's
        // foreign_keys setting: channel memberships, the channels' key distributions, channels, invites, team
        // memberships, the team. The channels' key state goes with their rows. Their attachments become orphaned
        // (the sweep deletes their blobs, then them) and their members' notification levels go.
        command.CommandText = """
            BEGIN IMMEDIATE;
            UPDATE attachments SET state = 2 WHERE conversation_id IN (SELECT id FROM conversations WHERE team_id = $team_id);
            DELETE FROM push_conversation_levels WHERE conversation_id IN (SELECT id FROM conversations WHERE team_id = $team_id);
            DELETE FROM key_bundle_entries WHERE conversation_id IN (SELECT id FROM conversations WHERE team_id = $team_id);
            DELETE FROM key_distributions WHERE conversation_id IN (SELECT id FROM conversations WHERE team_id = $team_id);
            DELETE FROM conversation_members WHERE conversation_id IN (SELECT id FROM conversations WHERE team_id = $team_id);
            DELETE FROM conversations WHERE team_id = $team_id;
            DELETE FROM invites WHERE team_id = $team_id;
            DELETE FROM team_members WHERE team_id = $team_id;
            DELETE FROM teams WHERE id = $team_id;
            SELECT changes();
            COMMIT;
            """;
        command.Parameters.AddGuid("$team_id", teamId);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture) == 1;
    }

    public async Task<IReadOnlyList<TeamMemberRecord>> ListTeamMembersByIdAsync(Guid teamId, Guid? afterUserId, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();

        // A range scan of team_members' key (team_id, user_id).
        command.CommandText = """
            SELECT u.id, u.username, u.display_name, m.role, m.muted
            FROM team_members m JOIN users u ON u.id = m.user_id
            WHERE m.team_id = $team_id AND ($after IS NULL OR m.user_id > $after)
            ORDER BY m.user_id
            LIMIT $limit;
            """;
        command.Parameters.AddGuid("$team_id", teamId);
        command.Parameters.AddNullableGuid("$after", afterUserId);
        command.Parameters.AddInteger("$limit", limit);
        return await ReadListAsync(command, ReadMember, cancellationToken);
    }

    public async Task<bool> ShareTeamAsync(Guid userA, Guid userB, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT EXISTS (
                SELECT 1 FROM team_members a JOIN team_members b ON b.team_id = a.team_id
                WHERE a.user_id = $user_a AND b.user_id = $user_b);
            """;
        command.Parameters.AddGuid("$user_a", userA);
        command.Parameters.AddGuid("$user_b", userB);
        return await ReadBooleanAsync(command, cancellationToken);
    }

    public async Task<IReadOnlySet<Guid>> FilterTeammatesAsync(Guid userId, IReadOnlyCollection<Guid> others, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(others);
        var found = new HashSet<Guid>();
        if (others.Count == 0)
        {
            return found;
        }

        await using var connection = await OpenConnectionAsync(cancellationToken);
        foreach (var chunk in others.Distinct().Chunk(500))
        {
            await using var command = connection.CreateCommand();
            var list = command.BindIds(chunk);
            command.Parameters.AddGuid("$user", userId);
            command.CommandText = $"""
                SELECT DISTINCT b.user_id FROM team_members a JOIN team_members b ON b.team_id = a.team_id
                WHERE a.user_id = $user AND b.user_id IN ({list});
                """;
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                found.Add(reader.ReadGuid(0));
            }
        }

        return found;
    }

    public async Task SetLastSeenAsync(Guid userId, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "UPDATE users SET last_seen_at = max(coalesce(last_seen_at, 0), $at) WHERE id = $id;";
        command.Parameters.AddTime("$at", at);
        command.Parameters.AddGuid("$id", userId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyDictionary<Guid, DateTimeOffset>> GetLastSeenAsync(IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userIds);
        var seen = new Dictionary<Guid, DateTimeOffset>();
        if (userIds.Count == 0)
        {
            return seen;
        }

        await using var connection = await OpenConnectionAsync(cancellationToken);
        foreach (var chunk in userIds.Distinct().Chunk(500))
        {
            await using var command = connection.CreateCommand();
            command.CommandText = $"SELECT id, last_seen_at FROM users WHERE last_seen_at IS NOT NULL AND id IN ({command.BindIds(chunk)});";
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                seen[reader.ReadGuid(0)] = reader.ReadTime(1);
            }
        }

        return seen;
    }

    // Invites

    public async Task CreateInviteAsync(InviteRecord invite, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(invite);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            INSERT INTO invites ({InviteColumns})
            VALUES ($id, $team_id, $code_hash, $created_by, $created_at, $expires_at, $revoked_at);
            """;
        command.Parameters.AddGuid("$id", invite.Id);
        command.Parameters.AddGuid("$team_id", invite.TeamId);
        command.Parameters.AddBlob("$code_hash", invite.CodeHash);
        command.Parameters.AddGuid("$created_by", invite.CreatedBy);
        command.Parameters.AddTime("$created_at", invite.CreatedAt);
        command.Parameters.AddTime("$expires_at", invite.ExpiresAt);
        command.Parameters.AddNullableTime("$revoked_at", invite.RevokedAt);
        await ExecuteInsertAsync(command, "The invite id or the code hash is taken.", cancellationToken);
    }

    public async Task<InviteRecord?> FindInviteByCodeHashAsync(byte[] codeHash, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(codeHash);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {InviteColumns} FROM invites WHERE code_hash = $code_hash;";
        command.Parameters.AddBlob("$code_hash", codeHash);
        return await ReadSingleAsync(command, ReadInvite, cancellationToken);
    }

    public async Task<IReadOnlyList<InviteRecord>> ListInvitesAsync(Guid teamId, Guid? afterId, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();

        // The team's rows through ix_invites_team_id, then a sort that keeps only the page (LIMIT): memory stays a
        // page's, and the rows a team keeps are bounded by DeleteDeadInvitesAsync and the cap on live ones.
        command.CommandText = $"""
            SELECT {InviteColumns} FROM invites
            WHERE team_id = $team_id AND ($after IS NULL OR id > $after)
            ORDER BY id
            LIMIT $limit;
            """;
        command.Parameters.AddGuid("$team_id", teamId);
        command.Parameters.AddNullableGuid("$after", afterId);
        command.Parameters.AddInteger("$limit", limit);
        return await ReadListAsync(command, ReadInvite, cancellationToken);
    }

    public async Task<int> DeleteDeadInvitesAsync(Guid teamId, DateTimeOffset before, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM invites WHERE team_id = $team_id AND (revoked_at < $before OR expires_at < $before);";
        command.Parameters.AddGuid("$team_id", teamId);
        command.Parameters.AddTime("$before", before);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<bool> RevokeInviteAsync(Guid teamId, Guid inviteId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            UPDATE invites SET revoked_at = $revoked_at
            WHERE id = $id AND team_id = $team_id AND revoked_at IS NULL;
            """;
        command.Parameters.AddTime("$revoked_at", revokedAt);
        command.Parameters.AddGuid("$id", inviteId);
        command.Parameters.AddGuid("$team_id", teamId);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<int> RevokeInvitesCreatedByAsync(Guid teamId, Guid createdBy, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            UPDATE invites SET revoked_at = $revoked_at
            WHERE team_id = $team_id AND created_by = $created_by AND revoked_at IS NULL;
            """;
        command.Parameters.AddTime("$revoked_at", revokedAt);
        command.Parameters.AddGuid("$team_id", teamId);
        command.Parameters.AddGuid("$created_by", createdBy);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<int> CountActiveInvitesAsync(Guid teamId, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM invites WHERE team_id = $team_id AND revoked_at IS NULL AND expires_at > $now;";
        command.Parameters.AddGuid("$team_id", teamId);
        command.Parameters.AddTime("$now", now);
        return await ReadCountAsync(command, cancellationToken);
    }

    private static TeamRecord ReadTeam(SqliteDataReader reader) => new(
        reader.ReadGuid(0),
        reader.GetString(1),
        reader.ReadGuid(2),
        reader.ReadTime(3),
        reader.GetInt64(4) != 0,
        reader.GetInt64(5) != 0);

    private static TeamMembershipRecord ReadMembership(SqliteDataReader reader) => new(
        ReadTeam(reader),
        (TeamRole)reader.GetInt32(6),
        reader.GetInt64(7) != 0,
        reader.ReadTime(8));

    private static InviteRecord ReadInvite(SqliteDataReader reader) => new(
        reader.ReadGuid(0),
        reader.ReadGuid(1),
        reader.GetFieldValue<byte[]>(2),
        reader.ReadGuid(3),
        reader.ReadTime(4),
        reader.ReadTime(5),
        reader.ReadNullableTime(6));
}
