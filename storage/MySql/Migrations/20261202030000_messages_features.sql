-- Messages schema, version 4: threads, mentions, edits, deletions, reactions and read positions.
--
-- A message row now keeps its metadata (thread root, mention flags) and its state (edited, deleted): an
-- edit replaces the row's content and sets edited_at; a deletion empties it and sets deleted_at, leaving
-- the seq as a tombstone. The change itself is also an event of its own (kinds 3 to 6) in the same seq
-- space, so devices that were away learn of it from history.
--
-- ADD COLUMN IF NOT EXISTS and CREATE INDEX IF NOT EXISTS are MariaDB syntax (10.0.2 and 10.1.4): they
-- keep the script re-runnable.
ALTER TABLE events
    ADD COLUMN IF NOT EXISTS thread_root_id BINARY(16)       NULL,
    ADD COLUMN IF NOT EXISTS group_mentions TINYINT UNSIGNED NOT NULL DEFAULT 0,
    -- The mentioned user ids, 16 bytes each, as the message carried them; NULL when none.
    ADD COLUMN IF NOT EXISTS mentions       BLOB             NULL,
    ADD COLUMN IF NOT EXISTS edited_at      BIGINT           NULL,
    ADD COLUMN IF NOT EXISTS deleted_at     BIGINT           NULL;

-- Paging one thread: its replies in seq order. (SQLite's index is partial, WHERE thread_root_id IS NOT
-- NULL; MySQL has no partial indexes, and the NULL entries of other events only sit before the replies.)
CREATE INDEX IF NOT EXISTS ix_events_thread ON events (conversation_id, thread_root_id, seq);

-- The edits of a message, to erase when it is deleted (SQLite: partial, WHERE kind = 3).
CREATE INDEX IF NOT EXISTS ix_events_subject ON events (conversation_id, subject_id);

-- Who each message mentions, one row per mentioned user; the nil user (16 zero bytes) stands for
-- @channel and @here. A reply also notifies the thread's participants through rows here. Counting a
-- user's mentions after their read position is a range scan on the key.
CREATE TABLE IF NOT EXISTS mentions (
    conversation_id BINARY(16) NOT NULL,
    user_id         BINARY(16) NOT NULL,
    seq             BIGINT     NOT NULL,
    sender_user_id  BINARY(16) NOT NULL,
    PRIMARY KEY (conversation_id, user_id, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A thread root's summary, kept as replies are stored.
CREATE TABLE IF NOT EXISTS threads (
    conversation_id BINARY(16) NOT NULL,
    root_id         BINARY(16) NOT NULL,
    reply_count     INT        NOT NULL,
    last_reply_at   BIGINT     NOT NULL,
    PRIMARY KEY (conversation_id, root_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Who takes part in a thread: its root's author and everyone who replied; joined_seq is the seq of the
-- root or of their first reply, so the order they joined in.
CREATE TABLE IF NOT EXISTS thread_participants (
    conversation_id BINARY(16) NOT NULL,
    root_id         BINARY(16) NOT NULL,
    user_id         BINARY(16) NOT NULL,
    joined_seq      BIGINT     NOT NULL,
    PRIMARY KEY (conversation_id, root_id, user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per (message, emoji, user): adding twice is a no-op, and counts are a GROUP BY. The emoji is
-- its UTF-8 bytes (at most 64, docs/protocol.md §3.1), so it compares byte for byte whatever the
-- server's collations would make of two emoji.
CREATE TABLE IF NOT EXISTS reactions (
    conversation_id BINARY(16)    NOT NULL,
    message_id      BINARY(16)    NOT NULL,
    emoji           VARBINARY(255) NOT NULL,
    user_id         BINARY(16)    NOT NULL,
    added_at        BIGINT        NOT NULL,
    PRIMARY KEY (conversation_id, message_id, emoji, user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A user's read position per conversation, shared by all of that user's devices.
CREATE TABLE IF NOT EXISTS read_positions (
    user_id         BINARY(16) NOT NULL,
    conversation_id BINARY(16) NOT NULL,
    read_seq        BIGINT     NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
