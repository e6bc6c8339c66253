-- Messages schema, version 1. Lives in its own database file so message writes never wait on
-- directory writes. Guids are 16-byte big-endian BLOBs, times INTEGER Unix milliseconds (UTC).

-- WITHOUT ROWID clusters rows by (conversation_id, seq): paging a conversation reads adjacent pages
-- instead of one rowid lookup per message. Large bodies spill to overflow pages either way.
CREATE TABLE messages (
    conversation_id  BLOB    NOT NULL,
    seq              INTEGER NOT NULL CHECK (seq > 0),
    message_id       BLOB    NOT NULL,
    sender_user_id   BLOB    NOT NULL,
    sender_device_id BLOB    NOT NULL,
    stored_at        INTEGER NOT NULL,
    content_type     TEXT    NOT NULL,
    content          BLOB    NOT NULL,
    PRIMARY KEY (conversation_id, seq),
    -- The idempotency key (DESIGN §4): a resend finds the original through this index.
    UNIQUE (conversation_id, sender_device_id, message_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX ix_messages_message_id ON messages (message_id);

-- The last seq handed out per conversation. Bumped in the same transaction that inserts the message,
-- so a rolled-back write gives its seq back and the sequence stays gap-free.
CREATE TABLE conversation_heads (
    conversation_id BLOB    NOT NULL PRIMARY KEY,
    last_seq        INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
