-- Directory schema: who was removed from a team, and when (MariaDB; the same change as the SQLite migration of
-- this version).
--
-- A member removed by an owner or admin cannot come back with an invite made before the removal, such as the
-- multi-use code they joined with; an invite made afterwards (being asked back) works. A later removal replaces
-- the row. Leaving on one's own writes nothing.
-- Re-runnable (IF NOT EXISTS): MySQL commits DDL, so a crash before the history row repeats the script.
CREATE TABLE IF NOT EXISTS team_removals (
    team_id    BINARY(16) NOT NULL,
    user_id    BINARY(16) NOT NULL,
    removed_at BIGINT     NOT NULL,
    PRIMARY KEY (team_id, user_id),
    KEY ix_team_removals_user_id (user_id),
    CONSTRAINT fk_team_removals_team FOREIGN KEY (team_id) REFERENCES teams (id) ON DELETE CASCADE,
    CONSTRAINT fk_team_removals_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;
