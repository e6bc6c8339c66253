-- Directory schema, version 2: team control.
--
-- Channel names are unique among a team's public channels only. Version 1 made them unique among all of a
-- team's channels, so creating a public channel answered "already exists" for the name of a private
-- channel the caller could not see: the name leaked. Private channels may share names with each other and
-- with public ones; each is known to its members by id.
--
-- A team may let every member create invites (members_can_invite); by default only owners and admins do.

DROP INDEX ux_conversations_team_id_name;

CREATE UNIQUE INDEX ux_conversations_team_public_name ON conversations (team_id, name) WHERE kind = 0;

CREATE INDEX ix_conversations_team_id ON conversations (team_id);

ALTER TABLE teams ADD COLUMN members_can_invite INTEGER NOT NULL DEFAULT 0 CHECK (members_can_invite IN (0, 1));

CREATE INDEX ix_invites_team_id_created_by ON invites (team_id, created_by);
