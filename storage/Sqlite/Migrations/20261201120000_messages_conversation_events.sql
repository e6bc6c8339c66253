-- Messages schema, version 2: the table holds every conversation event (messages, membership changes,
-- and later edits, deletions, reactions, SKIP tombstones) in one gap-free seq space per conversation.
--
-- The idempotency key becomes (conversation_id, event_id): an event id names one event in its
-- conversation, which is what replies, reactions and edits will refer to. Version 1 keyed messages on
-- (conversation_id, sender_device_id, message_id), so two devices could store two messages under one id.
-- Such a later duplicate keeps its row and seq (the sequence stays gap-free) but is given a fresh random
-- id here, version nibble 4, since only the first one can keep the name.

CREATE TABLE events (
    conversation_id  BLOB    NOT NULL,
    seq              INTEGER NOT NULL CHECK (seq > 0),
    kind             INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 255),
    event_id         BLOB    NOT NULL,
    sender_user_id   BLOB    NOT NULL,
    sender_device_id BLOB    NOT NULL,
    stored_at        INTEGER NOT NULL,
    content_type     TEXT    NOT NULL,
    content          BLOB    NOT NULL,
    -- The user who joined or left, for membership kinds; NULL for kinds without a subject.
    subject_id       BLOB    NULL,
    PRIMARY KEY (conversation_id, seq),
    UNIQUE (conversation_id, event_id)
) STRICT, WITHOUT ROWID;

INSERT INTO events (conversation_id, seq, kind, event_id, sender_user_id, sender_device_id, stored_at, content_type, content, subject_id)
SELECT m.conversation_id, m.seq, 0,
       CASE WHEN EXISTS (SELECT 1 FROM messages earlier
                         WHERE earlier.conversation_id = m.conversation_id
                           AND earlier.message_id = m.message_id
                           AND earlier.seq < m.seq)
            THEN unhex(substr(hex(randomblob(6)), 1, 12) || '4' || substr(hex(randomblob(2)), 1, 3)
                       || '8' || substr(hex(randomblob(8)), 1, 15))
            ELSE m.message_id END,
       m.sender_user_id, m.sender_device_id, m.stored_at, m.content_type, m.content, NULL
FROM messages m;

DROP TABLE messages;
