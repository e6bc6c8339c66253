-- Messages schema, version 2: every conversation event (messages, membership changes, and later edits,
-- deletions, reactions, SKIP tombstones) in one gap-free seq space per conversation.
--
-- The primary key clusters rows by (conversation_id, seq): one conversation's history is one index range,
-- so paging reads adjacent pages. (conversation_id, event_id) is the idempotency key: a resend reaching
-- any node finds the original through it.
CREATE TABLE IF NOT EXISTS events (
    conversation_id  BINARY(16)       NOT NULL,
    seq              BIGINT           NOT NULL CHECK (seq > 0),
    kind             TINYINT UNSIGNED NOT NULL,
    event_id         BINARY(16)       NOT NULL,
    sender_user_id   BINARY(16)       NOT NULL,
    sender_device_id BINARY(16)       NOT NULL,
    stored_at        BIGINT           NOT NULL,
    -- At most 128 bytes of printable ASCII (docs/protocol.md §3.1); compared in the application only.
    content_type     VARCHAR(255)     NOT NULL,
    -- At most max_content_length (252 KiB, docs/protocol.md §3.1): MEDIUMBLOB holds 16 MiB.
    content          MEDIUMBLOB       NOT NULL,
    -- The user who joined or left, for membership kinds; the message, for changes to one; else NULL.
    subject_id       BINARY(16)       NULL,
    PRIMARY KEY (conversation_id, seq),
    UNIQUE KEY ux_events_event (conversation_id, event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
