-- Directory schema: attachment metadata (MariaDB; the same change as the SQLite migration of this version).
--
-- The bytes live in the blob store under a key made from the id; here only what the server checks: size and
-- the SHA-256 of the (encrypted) bytes, and whose quota they count against. state: 0 pending, 1 ready.
-- Re-runnable (IF NOT EXISTS): MySQL commits DDL, so a crash before the history row repeats the script.
CREATE TABLE IF NOT EXISTS attachments (
    id              BINARY(16) NOT NULL,
    conversation_id BINARY(16) NOT NULL,
    owner_user_id   BINARY(16) NOT NULL,
    size            BIGINT     NOT NULL,
    sha256          BINARY(32) NOT NULL,
    state           TINYINT    NOT NULL,
    created_at      BIGINT     NOT NULL,
    PRIMARY KEY (id),
    KEY ix_attachments_owner (owner_user_id),
    KEY ix_attachments_pending (state, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;
