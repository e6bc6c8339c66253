-- Messages schema, version 1, on MySQL (MariaDB). Guids are BINARY(16) big-endian, times BIGINT Unix
-- milliseconds (UTC), as on SQLite. Every script is re-runnable (IF NOT EXISTS): the migrator cannot
-- record a version in the same transaction as its DDL (MySqlMigrator).
--
-- SQLite's version 1 also created a `messages` table that version 2 replaced with `events`; no MySQL
-- database ever held it, so here version 1 is only the heads and version 2 creates `events` directly.

-- The last seq handed out per conversation. The writer locks the heads of a batch's conversations
-- (exclusive row locks, in key order) and bumps them in the transaction that inserts the events, so every
-- node allocating in one conversation takes its turn, and a rolled-back batch gives its seqs back.
CREATE TABLE IF NOT EXISTS conversation_heads (
    conversation_id BINARY(16) NOT NULL,
    last_seq        BIGINT     NOT NULL CHECK (last_seq >= 0),
    PRIMARY KEY (conversation_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
