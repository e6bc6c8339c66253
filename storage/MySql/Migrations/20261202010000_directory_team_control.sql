-- Directory schema, version 2: team control (see the SQLite migration of this version for why).
--
-- Channel names are unique among a team's public channels only. MariaDB has no partial index, so a stored
-- generated column holds the folded name of public channels and NULL for the others, and the unique index
-- covers it: NULLs never collide.
--
-- The new (team_id) index comes before the old unique index goes: InnoDB refuses to drop the only index
-- that serves the team_id foreign key.
--
-- A team may let every member create invites (members_can_invite); by default only owners and admins do.

CREATE INDEX IF NOT EXISTS ix_conversations_team_id ON conversations (team_id);

ALTER TABLE conversations ADD COLUMN IF NOT EXISTS
    public_name_key VARCHAR(255) AS (CASE WHEN kind = 0 THEN name_key END) PERSISTENT;

CREATE UNIQUE INDEX IF NOT EXISTS ux_conversations_team_public_name ON conversations (team_id, public_name_key);

DROP INDEX IF EXISTS ux_conversations_team_id_name ON conversations;

ALTER TABLE teams ADD COLUMN IF NOT EXISTS
    members_can_invite BOOLEAN NOT NULL DEFAULT FALSE CHECK (members_can_invite IN (0, 1));

CREATE INDEX IF NOT EXISTS ix_invites_team_id_created_by ON invites (team_id, created_by);
