-- Messages schema, version 8: one index on event ids instead of two.
--
-- Version 2 made (conversation_id, event_id) the idempotency key and version 5 added an index on event_id
-- alone. Both hold the same pairs, and the first is ordered by conversation: a batch of messages from N
-- conversations wrote at least N of its leaf pages, like the table itself, so every committed batch wrote
-- about twice the pages it needed. One unique index on (event_id, conversation_id) answers both questions
-- (a resend's lookup names both columns; "which conversations hold this id" names the first), and since
-- message ids are UUIDv7 and the server's own event ids are too, its new entries land at its right edge.
--
-- SQLite cannot drop a table's UNIQUE constraint, so the table is copied once (the time this takes grows
-- with the history held), inside the migration's transaction.

CREATE TABLE events_v8 (
    conversation_id  BLOB    NOT NULL,
    seq              INTEGER NOT NULL CHECK (seq > 0),
    kind             INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 255),
    event_id         BLOB    NOT NULL,
    sender_user_id   BLOB    NOT NULL,
    sender_device_id BLOB    NOT NULL,
    stored_at        INTEGER NOT NULL,
    content_type     TEXT    NOT NULL,
    content          BLOB    NOT NULL,
    subject_id       BLOB    NULL,
    thread_root_id   BLOB    NULL,
    group_mentions   INTEGER NOT NULL DEFAULT 0,
    mentions         BLOB    NULL,
    edited_at        INTEGER NULL,
    deleted_at       INTEGER NULL,
    original_digest  BLOB    NULL,
    PRIMARY KEY (conversation_id, seq),
    UNIQUE (event_id, conversation_id)
) STRICT, WITHOUT ROWID;

INSERT INTO events_v8 (conversation_id, seq, kind, event_id, sender_user_id, sender_device_id, stored_at, content_type,
                       content, subject_id, thread_root_id, group_mentions, mentions, edited_at, deleted_at, original_digest)
SELECT conversation_id, seq, kind, event_id, sender_user_id, sender_device_id, stored_at, content_type,
       content, subject_id, thread_root_id, group_mentions, mentions, edited_at, deleted_at, original_digest
FROM events;

DROP TABLE events;
ALTER TABLE events_v8 RENAME TO events;

-- Version 4's partial indexes went with the old table.
CREATE INDEX ix_events_thread ON events (conversation_id, thread_root_id, seq) WHERE thread_root_id IS NOT NULL;
CREATE INDEX ix_events_subject ON events (conversation_id, subject_id) WHERE kind = 3;
