-- Directory schema: attachment metadata (docs/e2e.md, attachments).
--
-- The bytes live in the blob store under a key made from the id; here only what the server checks: size and
-- the SHA-256 of the (encrypted) bytes, and whose quota they count against. state: 0 pending, 1 ready.
CREATE TABLE attachments (
    id              BLOB    NOT NULL PRIMARY KEY,
    conversation_id BLOB    NOT NULL,
    owner_user_id   BLOB    NOT NULL,
    size            INTEGER NOT NULL,
    sha256          BLOB    NOT NULL,
    state           INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
) STRICT;

-- The quota sum per owner, and the sweep of old pending uploads.
CREATE INDEX ix_attachments_owner ON attachments (owner_user_id);
CREATE INDEX ix_attachments_pending ON attachments (state, created_at);
