using ChatWire.Storage.Directory;
using MySqlConnector;

namespace ChatWire.Storage.MySql;

public sealed partial class MySqlDirectoryStore
{
    // ReadTeam reads these ordinals; ReadMembership the team's, then the member's.
    private const string TeamColumns = "t.id, t.name, t.created_by, t.created_at, t.members_can_invite, t.members_can_mention_channel";
    private const string MembershipColumns = TeamColumns + ", m.role, m.muted, m.joined_at";
    private const string MemberColumns = "u.id, u.username, u.display_name, m.role, m.muted";

    // The member's names under the team (see the member_names migration): written with the membership, in
    // its transaction, from the folded names stored with the user.
    private const string InsertMemberNamesSql = """
        INSERT INTO member_names (team_id, name_key, user_id, kind)
        SELECT @team_id, username_key, id, 0 FROM users WHERE id = @user_id
        UNION ALL
        SELECT @team_id, display_name_key, id, 1 FROM users WHERE id = @user_id
        UNION ALL
        SELECT @team_id, SUBSTRING(display_name_key, LOCATE(' ', display_name_key) + 1), id, 2 FROM users
        WHERE id = @user_id AND LOCATE(' ', display_name_key) > 0;
        """;

    public Task CreateTeamAsync(TeamRecord team, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(team);
        return WriteAsync(async (connection, ct) =>
        {
            await using var transaction = await connection.BeginTransactionAsync(ct);
            await using (var insertTeam = new MySqlCommand(
                """
                INSERT INTO teams (id, name, created_by, created_at, members_can_invite, members_can_mention_channel)
                VALUES (@id, @name, @created_by, @created_at, @members_can_invite, @members_can_mention_channel);
                """,
                connection,
                transaction))
            {
                insertTeam.Parameters.AddGuid("@id", team.Id);
                insertTeam.Parameters.AddText("@name", team.Name);
                insertTeam.Parameters.AddGuid("@created_by", team.CreatedBy);
                insertTeam.Parameters.AddTime("@created_at", team.CreatedAt);
                insertTeam.Parameters.AddInteger("@members_can_invite", team.MembersCanInvite ? 1 : 0);
                insertTeam.Parameters.AddInteger("@members_can_mention_channel", team.MembersCanMentionChannel ? 1 : 0);
                await ExecuteInsertAsync(insertTeam, "The team id is taken.", ct);
            }

            await InsertTeamMemberAsync(connection, transaction, team.Id, team.CreatedBy, TeamRole.Owner, team.CreatedAt, ct);
            await transaction.CommitAsync(ct);
            return true;
        }, cancellationToken);
    }

    public Task<TeamRecord?> GetTeamAsync(Guid teamId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand($"SELECT {TeamColumns} FROM teams t WHERE t.id = @id;", connection);
            command.Parameters.AddGuid("@id", teamId);
            return await ReadSingleAsync(command, ReadTeam, ct);
        }, cancellationToken);

    public Task<IReadOnlyList<TeamMembershipRecord>> ListTeamsForUserAsync(Guid userId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                $"""
                SELECT {MembershipColumns}
                FROM team_members m JOIN teams t ON t.id = m.team_id
                WHERE m.user_id = @user_id;
                """,
                connection);
            command.Parameters.AddGuid("@user_id", userId);
            var teams = await ReadListAsync(command, ReadMembership, ct);

            // By name with ASCII case folded, then id, as SQLite orders them (team names have no folded column;
            // one user's teams are few).
            return (IReadOnlyList<TeamMembershipRecord>)
                [.. teams.OrderBy(t => MySqlValues.FoldCase(t.Team.Name), StringComparer.Ordinal).ThenBy(t => t.Team.Id)];
        }, cancellationToken);

    public Task<TeamMembershipRecord?> GetTeamMembershipAsync(Guid teamId, Guid userId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                $"""
                SELECT {MembershipColumns}
                FROM team_members m JOIN teams t ON t.id = m.team_id
                WHERE m.team_id = @team_id AND m.user_id = @user_id;
                """,
                connection);
            command.Parameters.AddGuid("@team_id", teamId);
            command.Parameters.AddGuid("@user_id", userId);
            return await ReadSingleAsync(command, ReadMembership, ct);
        }, cancellationToken);

    public Task<bool> AddTeamMemberAsync(Guid teamId, Guid userId, TeamRole role, DateTimeOffset joinedAt, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            await using var transaction = await connection.BeginTransactionAsync(ct);
            try
            {
                await InsertTeamMemberAsync(connection, transaction, teamId, userId, role, joinedAt, ct);
            }
            catch (MySqlException exception) when (MySqlCommands.IsDuplicateKey(exception))
            {
                // Already a member (INSERT IGNORE would also swallow a missing team or user).
                return false;
            }

            await transaction.CommitAsync(ct);
            return true;
        }, cancellationToken);

    public Task<bool> RemoveTeamMemberAsync(Guid teamId, Guid userId, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            await using var transaction = await connection.BeginTransactionAsync(ct);
            // The channels the member leaves get a new epoch, in the same transaction.
            await using (var leaveChannels = new MySqlCommand(
                """
                UPDATE conversations c JOIN conversation_members cm ON cm.conversation_id = c.id
                SET c.key_epoch = c.key_epoch + 1, c.key_roster_version = c.key_roster_version + 1
                WHERE cm.user_id = @user_id AND c.team_id = @team_id;
                DELETE cm FROM conversation_members cm JOIN conversations c ON c.id = cm.conversation_id
                WHERE cm.user_id = @user_id AND c.team_id = @team_id;
                """,
                connection,
                transaction))
            {
                leaveChannels.Parameters.AddGuid("@user_id", userId);
                leaveChannels.Parameters.AddGuid("@team_id", teamId);
                await leaveChannels.ExecuteNonQueryAsync(ct);
            }

            int removed;
            await using (var leaveTeam = new MySqlCommand("DELETE FROM team_members WHERE team_id = @team_id AND user_id = @user_id;", connection, transaction))
            {
                leaveTeam.Parameters.AddGuid("@team_id", teamId);
                leaveTeam.Parameters.AddGuid("@user_id", userId);
                removed = await leaveTeam.ExecuteNonQueryAsync(ct);
            }

            await using (var forgetNames = new MySqlCommand("DELETE FROM member_names WHERE user_id = @user_id AND team_id = @team_id;", connection, transaction))
            {
                forgetNames.Parameters.AddGuid("@user_id", userId);
                forgetNames.Parameters.AddGuid("@team_id", teamId);
                await forgetNames.ExecuteNonQueryAsync(ct);
            }

            await transaction.CommitAsync(ct);
            return removed == 1;
        }, cancellationToken);

    public Task<bool> SetTeamMutedAsync(Guid teamId, Guid userId, bool muted, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand("UPDATE team_members SET muted = @muted WHERE team_id = @team_id AND user_id = @user_id;", connection);
            command.Parameters.AddInteger("@muted", muted ? 1 : 0);
            command.Parameters.AddGuid("@team_id", teamId);
            command.Parameters.AddGuid("@user_id", userId);
            return await command.ExecuteNonQueryAsync(ct) == 1;
        }, cancellationToken);

    public Task<bool> UpdateTeamAsync(Guid teamId, string? name, bool? membersCanInvite, bool? membersCanMentionChannel = null, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                """
                UPDATE teams SET name = COALESCE(@name, name), members_can_invite = COALESCE(@members_can_invite, members_can_invite),
                    members_can_mention_channel = COALESCE(@members_can_mention_channel, members_can_mention_channel)
                WHERE id = @id;
                """,
                connection);
            command.Parameters.AddText("@name", name);
            command.Parameters.AddNullableInteger("@members_can_invite", membersCanInvite is { } open ? (open ? 1 : 0) : null);
            command.Parameters.AddNullableInteger("@members_can_mention_channel", membersCanMentionChannel is { } all ? (all ? 1 : 0) : null);
            command.Parameters.AddGuid("@id", teamId);
            return await command.ExecuteNonQueryAsync(ct) == 1;
        }, cancellationToken);

    public Task<TeamRoleChange> SetTeamRoleAsync(Guid teamId, Guid userId, TeamRole role, Guid? requiredOwner, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            await using var transaction = await connection.BeginTransactionAsync(ct);

            // The team's row, locked first, orders every role change of the team across nodes; the reads after it are
            // locking reads, which see the latest committed rows (not the transaction's snapshot). Disposing the
            // transaction without a commit rolls back.
            await using (var lockTeam = new MySqlCommand("SELECT id FROM teams WHERE id = @team_id FOR UPDATE;", connection, transaction))
            {
                lockTeam.Parameters.AddGuid("@team_id", teamId);
                await lockTeam.ExecuteScalarAsync(ct);
            }

            if (requiredOwner is { } owner)
            {
                await using var check = new MySqlCommand(
                    "SELECT COUNT(*) FROM team_members WHERE team_id = @team_id AND user_id = @user_id AND role = @owner FOR UPDATE;", connection, transaction);
                check.Parameters.AddGuid("@team_id", teamId);
                check.Parameters.AddGuid("@user_id", owner);
                check.Parameters.AddInteger("@owner", (long)TeamRole.Owner);
                if (Convert.ToInt64(await check.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture) == 0)
                {
                    return TeamRoleChange.NotAnOwner;
                }
            }

            await using (var update = new MySqlCommand("UPDATE team_members SET role = @role WHERE team_id = @team_id AND user_id = @user_id;", connection, transaction))
            {
                update.Parameters.AddInteger("@role", (long)role);
                update.Parameters.AddGuid("@team_id", teamId);
                update.Parameters.AddGuid("@user_id", userId);

                // Rows matched, not rows changed (UseAffectedRows = false): a member who already has the role counts.
                if (await update.ExecuteNonQueryAsync(ct) == 0)
                {
                    return TeamRoleChange.NotAMember;
                }
            }

            await using (var owners = new MySqlCommand("SELECT COUNT(*) FROM team_members WHERE team_id = @team_id AND role = @owner FOR UPDATE;", connection, transaction))
            {
                owners.Parameters.AddGuid("@team_id", teamId);
                owners.Parameters.AddInteger("@owner", (long)TeamRole.Owner);
                if (Convert.ToInt64(await owners.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture) == 0)
                {
                    return TeamRoleChange.LastOwner;
                }
            }

            await transaction.CommitAsync(ct);
            return TeamRoleChange.Changed;
        }, cancellationToken);

    public Task<(int Members, int Owners)> CountTeamMembersAsync(Guid teamId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                "SELECT COUNT(*), COALESCE(SUM(role = @owner), 0) FROM team_members WHERE team_id = @team_id;",
                connection);
            command.Parameters.AddInteger("@owner", (long)TeamRole.Owner);
            command.Parameters.AddGuid("@team_id", teamId);
            await using var reader = await command.ExecuteReaderAsync(ct);
            await reader.ReadAsync(ct);
            return (
                Convert.ToInt32(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture),
                Convert.ToInt32(reader.GetValue(1), System.Globalization.CultureInfo.InvariantCulture));
        }, cancellationToken);

    public Task<Guid?> FindTeamHeirAsync(Guid teamId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                "SELECT user_id FROM team_members WHERE team_id = @team_id ORDER BY role DESC, joined_at, user_id LIMIT 1;",
                connection);
            command.Parameters.AddGuid("@team_id", teamId);
            await using var reader = await command.ExecuteReaderAsync(ct);
            return await reader.ReadAsync(ct) ? reader.ReadGuid(0) : (Guid?)null;
        }, cancellationToken);

    public Task RecordTeamRemovalAsync(Guid teamId, Guid userId, DateTimeOffset removedAt, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                """
                INSERT INTO team_removals (team_id, user_id, removed_at) VALUES (@team_id, @user_id, @removed_at)
                ON DUPLICATE KEY UPDATE removed_at = VALUES(removed_at);
                """,
                connection);
            command.Parameters.AddGuid("@team_id", teamId);
            command.Parameters.AddGuid("@user_id", userId);
            command.Parameters.AddTime("@removed_at", removedAt);
            return await command.ExecuteNonQueryAsync(ct);
        }, cancellationToken);

    // From the primary: a removal just made on another node must already bar the old invite.
    public Task<DateTimeOffset?> GetTeamRemovalAsync(Guid teamId, Guid userId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand("SELECT removed_at FROM team_removals WHERE team_id = @team_id AND user_id = @user_id;", connection);
            command.Parameters.AddGuid("@team_id", teamId);
            command.Parameters.AddGuid("@user_id", userId);
            await using var reader = await command.ExecuteReaderAsync(ct);
            return await reader.ReadAsync(ct) ? reader.ReadTime(0) : (DateTimeOffset?)null;
        }, cancellationToken);

    public Task<int> CountTeamsOwnedAsync(Guid userId, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand("SELECT COUNT(*) FROM team_members WHERE user_id = @user_id AND role = @owner;", connection);
            command.Parameters.AddGuid("@user_id", userId);
            command.Parameters.AddInteger("@owner", (long)TeamRole.Owner);
            return await ReadCountAsync(command, ct);
        }, cancellationToken);

    public Task<IReadOnlyList<TeamMemberRecord>> ListTeamMembersAsync(Guid teamId, string? prefix, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        if (string.IsNullOrEmpty(prefix))
        {
            // Every member, by username: deleting a team reads this to remove them all, so the primary.
            return ReadPrimaryAsync(async (connection, ct) =>
            {
                await using var command = new MySqlCommand(
                    $"""
                    SELECT {MemberColumns}
                    FROM (SELECT user_id FROM member_names WHERE team_id = @team_id AND kind = 0 ORDER BY name_key LIMIT @limit) n
                    JOIN team_members m ON m.team_id = @team_id AND m.user_id = n.user_id
                    JOIN users u ON u.id = n.user_id
                    ORDER BY u.username_key, u.id;
                    """,
                    connection);
                command.Parameters.AddGuid("@team_id", teamId);
                command.Parameters.AddInteger("@limit", limit);
                return await ReadListAsync(command, ReadMember, ct);
            }, cancellationToken);
        }

        // Mention candidates as someone types: the replica. A range scan of member_names' key from the folded
        // prefix, stopped after enough names (a member has at most three), whatever the team's size. The
        // range, not LIKE, so '%', '_' and '\' in a prefix are plain characters.
        var low = MySqlValues.FoldCase(prefix);
        return ReadReplicaAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                $"""
                SELECT {MemberColumns}
                FROM (SELECT DISTINCT s.user_id FROM (
                        SELECT user_id FROM member_names
                        WHERE team_id = @team_id AND name_key >= @low AND name_key < @high
                        ORDER BY name_key LIMIT @scan) s) n
                JOIN team_members m ON m.team_id = @team_id AND m.user_id = n.user_id
                JOIN users u ON u.id = n.user_id
                ORDER BY u.username_key, u.id
                LIMIT @limit;
                """,
                connection);
            command.Parameters.AddGuid("@team_id", teamId);
            command.Parameters.AddText("@low", low);
            command.Parameters.AddText("@high", low + MySqlValues.HighestCharacter);
            command.Parameters.AddInteger("@scan", (long)limit * 3);
            command.Parameters.AddInteger("@limit", limit);
            return await ReadListAsync(command, ReadMember, ct);
        }, cancellationToken);
    }

    public Task<bool> DeleteTeamAsync(Guid teamId, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            // Spelled out rather than left to ON DELETE CASCADE, as on SQLite, and member_names has no foreign
            // key: channel memberships, the channels' key distributions, channels, invites, member names, team
            // memberships, the team. The channels' key state goes with their rows. Their attachments become
            // orphaned (the sweep deletes their blobs, then them) and their members' notification levels go.
            await using var transaction = await connection.BeginTransactionAsync(ct);
            await using (var deleteContents = new MySqlCommand(
                """
                UPDATE attachments a JOIN conversations c ON c.id = a.conversation_id SET a.state = 2 WHERE c.team_id = @team_id;
                DELETE l FROM push_conversation_levels l JOIN conversations c ON c.id = l.conversation_id WHERE c.team_id = @team_id;
                DELETE e FROM key_bundle_entries e JOIN conversations c ON c.id = e.conversation_id WHERE c.team_id = @team_id;
                DELETE d FROM key_distributions d JOIN conversations c ON c.id = d.conversation_id WHERE c.team_id = @team_id;
                DELETE cm FROM conversation_members cm JOIN conversations c ON c.id = cm.conversation_id WHERE c.team_id = @team_id;
                DELETE FROM conversations WHERE team_id = @team_id;
                DELETE FROM invites WHERE team_id = @team_id;
                DELETE FROM member_names WHERE team_id = @team_id;
                DELETE FROM team_members WHERE team_id = @team_id;
                """,
                connection,
                transaction))
            {
                deleteContents.Parameters.AddGuid("@team_id", teamId);
                await deleteContents.ExecuteNonQueryAsync(ct);
            }

            int deleted;
            await using (var deleteTeam = new MySqlCommand("DELETE FROM teams WHERE id = @team_id;", connection, transaction))
            {
                deleteTeam.Parameters.AddGuid("@team_id", teamId);
                deleted = await deleteTeam.ExecuteNonQueryAsync(ct);
            }

            await transaction.CommitAsync(ct);
            return deleted == 1;
        }, cancellationToken);

    public Task<IReadOnlyList<TeamMemberRecord>> ListTeamMembersByIdAsync(Guid teamId, Guid? afterUserId, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);

        // The presence roster: the replica. A range scan of team_members' key (team_id, user_id).
        return ReadReplicaAsync(async (connection, ct) =>
        {
            var after = afterUserId is null ? string.Empty : "AND m.user_id > @after";
            await using var command = new MySqlCommand(
                $"""
                SELECT {MemberColumns}
                FROM team_members m JOIN users u ON u.id = m.user_id
                WHERE m.team_id = @team_id {after}
                ORDER BY m.user_id
                LIMIT @limit;
                """,
                connection);
            command.Parameters.AddGuid("@team_id", teamId);
            command.Parameters.AddNullableGuid("@after", afterUserId);
            command.Parameters.AddInteger("@limit", limit);
            return await ReadListAsync(command, ReadMember, ct);
        }, cancellationToken);
    }

    public Task<bool> ShareTeamAsync(Guid userA, Guid userB, CancellationToken cancellationToken = default) =>
        ReadPrimaryAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand(
                """
                SELECT EXISTS (
                    SELECT 1 FROM team_members a JOIN team_members b ON b.team_id = a.team_id
                    WHERE a.user_id = @user_a AND b.user_id = @user_b);
                """,
                connection);
            command.Parameters.AddGuid("@user_a", userA);
            command.Parameters.AddGuid("@user_b", userB);
            return await ReadBooleanAsync(command, ct);
        }, cancellationToken);

    public async Task<IReadOnlySet<Guid>> FilterTeammatesAsync(Guid userId, IReadOnlyCollection<Guid> others, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(others);
        if (others.Count == 0)
        {
            return new HashSet<Guid>();
        }

        return await ReadPrimaryAsync(async (connection, ct) =>
        {
            var found = new HashSet<Guid>();
            foreach (var chunk in others.Distinct().Chunk(500))
            {
                await using var command = new MySqlCommand { Connection = connection };
                var list = command.BindIds(chunk);
                command.Parameters.AddGuid("@user", userId);
                command.CommandText = $"""
                    SELECT DISTINCT b.user_id FROM team_members a JOIN team_members b ON b.team_id = a.team_id
                    WHERE a.user_id = @user AND b.user_id IN ({list});
                    """;
                await using var reader = await command.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    found.Add(reader.ReadGuid(0));
                }
            }

            return (IReadOnlySet<Guid>)found;
        }, cancellationToken);
    }

    public Task SetLastSeenAsync(Guid userId, DateTimeOffset at, CancellationToken cancellationToken = default) =>
        WriteAsync(async (connection, ct) =>
        {
            await using var command = new MySqlCommand("UPDATE users SET last_seen_at = GREATEST(COALESCE(last_seen_at, 0), @at) WHERE id = @id;", connection);
            command.Parameters.AddTime("@at", at);
            command.Parameters.AddGuid("@id", userId);
            return await command.ExecuteNonQueryAsync(ct);
        }, cancellationToken);

    public async Task<IReadOnlyDictionary<Guid, DateTimeOffset>> GetLastSeenAsync(IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userIds);
        if (userIds.Count == 0)
        {
            return new Dictionary<Guid, DateTimeOffset>();
        }

        // "Last seen at" shown to watchers: the replica.
        return await ReadReplicaAsync(async (connection, ct) =>
        {
            // A new dictionary per attempt: a replica read that fails half-way is read again from the primary.
            var seen = new Dictionary<Guid, DateTimeOffset>();
            foreach (var chunk in userIds.Distinct().Chunk(500))
            {
                await using var command = new MySqlCommand { Connection = connection };
                command.CommandText = $"SELECT id, last_seen_at FROM users WHERE last_seen_at IS NOT NULL AND id IN ({command.BindIds(chunk)});";
                await using var reader = await command.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    seen[reader.ReadGuid(0)] = reader.ReadTime(1);
                }
            }

            return (IReadOnlyDictionary<Guid, DateTimeOffset>)seen;
        }, cancellationToken);
    }

    private static async Task InsertTeamMemberAsync(
        MySqlConnection connection, MySqlTransaction transaction, Guid teamId, Guid userId, TeamRole role, DateTimeOffset joinedAt, CancellationToken cancellationToken)
    {
        await using (var insertMember = new MySqlCommand(
            """
            INSERT INTO team_members (team_id, user_id, role, muted, joined_at)
            VALUES (@team_id, @user_id, @role, FALSE, @joined_at);
            """,
            connection,
            transaction))
        {
            insertMember.Parameters.AddGuid("@team_id", teamId);
            insertMember.Parameters.AddGuid("@user_id", userId);
            insertMember.Parameters.AddInteger("@role", (long)role);
            insertMember.Parameters.AddTime("@joined_at", joinedAt);
            await insertMember.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var insertNames = new MySqlCommand(InsertMemberNamesSql, connection, transaction);
        insertNames.Parameters.AddGuid("@team_id", teamId);
        insertNames.Parameters.AddGuid("@user_id", userId);
        await insertNames.ExecuteNonQueryAsync(cancellationToken);
    }

    private static TeamRecord ReadTeam(MySqlDataReader reader) => new(
        reader.ReadGuid(0),
        reader.GetString(1),
        reader.ReadGuid(2),
        reader.ReadTime(3),
        reader.GetBoolean(4),
        reader.GetBoolean(5));

    private static TeamMembershipRecord ReadMembership(MySqlDataReader reader) => new(
        ReadTeam(reader),
        (TeamRole)reader.GetInt32(6),
        reader.GetBoolean(7),
        reader.ReadTime(8));

    private static TeamMemberRecord ReadMember(MySqlDataReader reader) => new(
        reader.ReadGuid(0),
        reader.GetString(1),
        reader.GetString(2),
        (TeamRole)reader.GetInt32(3),
        reader.GetBoolean(4));
}
