-- Directory schema, version 1.
-- Guids are 16-byte big-endian BLOBs, times INTEGER Unix milliseconds (UTC).
-- NOCASE folds ASCII letters only: usernames and channel names compare case-insensitively in ASCII.

CREATE TABLE users (
    id            BLOB    NOT NULL PRIMARY KEY,
    username      TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    display_name  TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE device_sessions (
    device_id    BLOB    NOT NULL PRIMARY KEY,
    user_id      BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_name  TEXT    NOT NULL,
    token_hash   BLOB    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    revoked_at   INTEGER NULL
) STRICT;

CREATE INDEX ix_device_sessions_user_id ON device_sessions (user_id);

CREATE TABLE teams (
    id         BLOB    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    created_by BLOB    NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL
) STRICT;

-- Clustered by team so listing a team's members reads one range.
CREATE TABLE team_members (
    team_id   BLOB    NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id   BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role      INTEGER NOT NULL,
    muted     INTEGER NOT NULL DEFAULT 0 CHECK (muted IN (0, 1)),
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (team_id, user_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX ix_team_members_user_id ON team_members (user_id);

CREATE TABLE invites (
    id         BLOB    NOT NULL PRIMARY KEY,
    team_id    BLOB    NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    code_hash  BLOB    NOT NULL UNIQUE,
    created_by BLOB    NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NULL
) STRICT;

CREATE INDEX ix_invites_team_id ON invites (team_id);

-- Channels have a team and a name; DMs have neither and a direct_key instead. NULLs never collide in a
-- UNIQUE index, so one index makes channel names unique per team without touching DMs.
CREATE TABLE conversations (
    id         BLOB    NOT NULL PRIMARY KEY,
    kind       INTEGER NOT NULL,
    team_id    BLOB    NULL REFERENCES teams (id) ON DELETE CASCADE,
    name       TEXT    NULL COLLATE NOCASE,
    direct_key TEXT    NULL UNIQUE,
    created_by BLOB    NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX ux_conversations_team_id_name ON conversations (team_id, name);

CREATE TABLE conversation_members (
    conversation_id BLOB    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at       INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX ix_conversation_members_user_id ON conversation_members (user_id);
