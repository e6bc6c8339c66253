-- Messages schema, version 3: storage used, per owner, for quotas.
--
-- One row per owner: a user (the content they sent) or a team (the content sent in its channels). The
-- writer adds each committed batch's content bytes in the same transaction as the events, so the counts
-- are exact at every commit. (On SQLite this version also counted earlier events; a MySQL database has
-- none before it.)
CREATE TABLE IF NOT EXISTS storage_usage (
    owner_id BINARY(16) NOT NULL,
    bytes    BIGINT     NOT NULL CHECK (bytes >= 0),
    PRIMARY KEY (owner_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
