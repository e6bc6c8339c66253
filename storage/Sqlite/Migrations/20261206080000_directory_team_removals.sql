-- Directory schema: who was removed from a team, and when (docs/http-api.md, "Teams").
--
-- A member removed by an owner or admin cannot come back with an invite made before the removal, such as the
-- multi-use code they joined with; an invite made afterwards (being asked back) works. A later removal replaces
-- the row. Leaving on one's own writes nothing.
CREATE TABLE team_removals (
    team_id    BLOB    NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id    BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    removed_at INTEGER NOT NULL,
    PRIMARY KEY (team_id, user_id)
) STRICT, WITHOUT ROWID;
