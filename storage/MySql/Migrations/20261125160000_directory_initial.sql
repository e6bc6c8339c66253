-- Directory schema, version 1 (MariaDB; the same change as the SQLite migration of this version).
--
-- Guids are BINARY(16), big-endian, so byte order sorts like the Guid (and version-7 ids append at the end
-- of the clustered index); times are BIGINT Unix milliseconds (UTC), as on SQLite.
--
-- Case: SQLite's NOCASE folds ASCII letters only. MariaDB has no collation that does exactly that (the _ci
-- ones also fold accents and other scripts), so the store folds ASCII letters itself and writes the result
-- to the *_key columns; text compares under utf8mb4_nopad_bin (code point order, trailing spaces
-- significant), like SQLite's memcmp of UTF-8. display_name_key is not indexed here: version 4 builds
-- member_names from it.
--
-- Lengths keep every index under InnoDB's 3,072-byte key limit (DYNAMIC rows) at 4 bytes a character: the
-- largest, (team_id, name_key, user_id, kind) in version 4, is 16 + 1,020 + 16 + 1 bytes.
--
-- Re-runnable (IF NOT EXISTS): MySQL commits DDL, so a crash before the history row repeats the script.

CREATE TABLE IF NOT EXISTS users (
    id               BINARY(16)    NOT NULL,
    username         VARCHAR(255)  NOT NULL,
    username_key     VARCHAR(255)  NOT NULL,
    display_name     VARCHAR(255)  NOT NULL,
    display_name_key VARCHAR(255)  NOT NULL,
    password_hash    VARCHAR(1024) NOT NULL,
    created_at       BIGINT        NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY ux_users_username_key (username_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS device_sessions (
    device_id    BINARY(16)    NOT NULL,
    user_id      BINARY(16)    NOT NULL,
    device_name  VARCHAR(255)  NOT NULL,
    token_hash   VARBINARY(64) NOT NULL,
    created_at   BIGINT        NOT NULL,
    last_used_at BIGINT        NOT NULL,
    revoked_at   BIGINT        NULL,
    PRIMARY KEY (device_id),
    UNIQUE KEY ux_device_sessions_token_hash (token_hash),
    KEY ix_device_sessions_user_id (user_id),
    CONSTRAINT fk_device_sessions_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS teams (
    id         BINARY(16)   NOT NULL,
    name       VARCHAR(255) NOT NULL,
    created_by BINARY(16)   NOT NULL,
    created_at BIGINT       NOT NULL,
    PRIMARY KEY (id),
    KEY ix_teams_created_by (created_by),
    CONSTRAINT fk_teams_created_by FOREIGN KEY (created_by) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;

-- Clustered by team so listing a team's members reads one range.
CREATE TABLE IF NOT EXISTS team_members (
    team_id   BINARY(16) NOT NULL,
    user_id   BINARY(16) NOT NULL,
    role      TINYINT    NOT NULL,
    muted     BOOLEAN    NOT NULL DEFAULT FALSE CHECK (muted IN (0, 1)),
    joined_at BIGINT     NOT NULL,
    PRIMARY KEY (team_id, user_id),
    KEY ix_team_members_user_id (user_id),
    CONSTRAINT fk_team_members_team FOREIGN KEY (team_id) REFERENCES teams (id) ON DELETE CASCADE,
    CONSTRAINT fk_team_members_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS invites (
    id         BINARY(16)    NOT NULL,
    team_id    BINARY(16)    NOT NULL,
    code_hash  VARBINARY(64) NOT NULL,
    created_by BINARY(16)    NOT NULL,
    created_at BIGINT        NOT NULL,
    expires_at BIGINT        NOT NULL,
    revoked_at BIGINT        NULL,
    PRIMARY KEY (id),
    UNIQUE KEY ux_invites_code_hash (code_hash),
    KEY ix_invites_team_id (team_id),
    KEY ix_invites_created_by (created_by),
    CONSTRAINT fk_invites_team FOREIGN KEY (team_id) REFERENCES teams (id) ON DELETE CASCADE,
    CONSTRAINT fk_invites_created_by FOREIGN KEY (created_by) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;

-- Channels have a team, a name and its folded name_key; DMs have none of them and a direct_key instead.
-- NULLs never collide in a UNIQUE index, so one index makes channel names unique per team without touching
-- DMs. direct_key is the members' ids in text, at most 8 x 32 hex digits and separators: 512 characters
-- leave room, and strict mode refuses a longer one rather than cutting it.
CREATE TABLE IF NOT EXISTS conversations (
    id         BINARY(16)   NOT NULL,
    kind       TINYINT      NOT NULL,
    team_id    BINARY(16)   NULL,
    name       VARCHAR(255) NULL,
    name_key   VARCHAR(255) NULL,
    direct_key VARCHAR(512) NULL,
    created_by BINARY(16)   NOT NULL,
    created_at BIGINT       NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY ux_conversations_direct_key (direct_key),
    UNIQUE KEY ux_conversations_team_id_name (team_id, name_key),
    KEY ix_conversations_created_by (created_by),
    CONSTRAINT fk_conversations_team FOREIGN KEY (team_id) REFERENCES teams (id) ON DELETE CASCADE,
    CONSTRAINT fk_conversations_created_by FOREIGN KEY (created_by) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS conversation_members (
    conversation_id BINARY(16) NOT NULL,
    user_id         BINARY(16) NOT NULL,
    joined_at       BIGINT     NOT NULL,
    PRIMARY KEY (conversation_id, user_id),
    KEY ix_conversation_members_user_id (user_id),
    CONSTRAINT fk_conversation_members_conversation FOREIGN KEY (conversation_id) REFERENCES conversations (id) ON DELETE CASCADE,
    CONSTRAINT fk_conversation_members_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;
