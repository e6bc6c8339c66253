-- Messages schema, version 4: threads, mentions, edits, deletions, reactions and read positions.
--
-- A message row now keeps its metadata (thread root, mention flags) and its state (edited, deleted): an
-- edit replaces the row's content and sets edited_at; a deletion empties it and sets deleted_at, leaving
-- the seq as a tombstone. The change itself is also an event of its own (kinds 3 to 6) in the same seq
-- space, so devices that were away learn of it from history.

ALTER TABLE events ADD COLUMN thread_root_id BLOB NULL;
ALTER TABLE events ADD COLUMN group_mentions INTEGER NOT NULL DEFAULT 0;
-- The mentioned user ids, 16 bytes each, as the message carried them; NULL when none.
ALTER TABLE events ADD COLUMN mentions BLOB NULL;
ALTER TABLE events ADD COLUMN edited_at INTEGER NULL;
ALTER TABLE events ADD COLUMN deleted_at INTEGER NULL;

-- Paging one thread: its replies in seq order.
CREATE INDEX ix_events_thread ON events (conversation_id, thread_root_id, seq) WHERE thread_root_id IS NOT NULL;

-- The edits of a message, to erase when it is deleted.
CREATE INDEX ix_events_subject ON events (conversation_id, subject_id) WHERE kind = 3;

-- Who each message mentions, one row per mentioned user; the nil user (16 zero bytes) stands for
-- @channel and @here. A reply also notifies the thread's participants through rows here. Counting a
-- user's mentions after their read position is a range scan on the key.
CREATE TABLE mentions (
    conversation_id BLOB    NOT NULL,
    user_id         BLOB    NOT NULL,
    seq             INTEGER NOT NULL,
    sender_user_id  BLOB    NOT NULL,
    PRIMARY KEY (conversation_id, user_id, seq)
) STRICT, WITHOUT ROWID;

-- A thread root's summary, kept as replies are stored.
CREATE TABLE threads (
    conversation_id BLOB    NOT NULL,
    root_id         BLOB    NOT NULL,
    reply_count     INTEGER NOT NULL,
    last_reply_at   INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, root_id)
) STRICT, WITHOUT ROWID;

-- Who takes part in a thread: its root's author and everyone who replied; joined_seq is the seq of the
-- root or of their first reply, so the order they joined in.
CREATE TABLE thread_participants (
    conversation_id BLOB    NOT NULL,
    root_id         BLOB    NOT NULL,
    user_id         BLOB    NOT NULL,
    joined_seq      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, root_id, user_id)
) STRICT, WITHOUT ROWID;

-- One row per (message, emoji, user): adding twice is a no-op, and counts are a GROUP BY.
CREATE TABLE reactions (
    conversation_id BLOB    NOT NULL,
    message_id      BLOB    NOT NULL,
    emoji           TEXT    NOT NULL,
    user_id         BLOB    NOT NULL,
    added_at        INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, message_id, emoji, user_id)
) STRICT, WITHOUT ROWID;

-- A user's read position per conversation, shared by all of that user's devices.
CREATE TABLE read_positions (
    user_id         BLOB    NOT NULL,
    conversation_id BLOB    NOT NULL,
    read_seq        INTEGER NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
) STRICT, WITHOUT ROWID;
