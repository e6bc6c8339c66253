-- Messages schema, version 3: storage used, per owner, for quotas.
--
-- One row per owner: a user (the content they sent) or a team (the content sent in its channels). The
-- writer adds each committed batch's content bytes in the same transaction as the events, so the counts
-- are exact at every commit. Events stored before this version are counted for their senders here; team
-- counts start at zero, since this database does not know which team a conversation belongs to.

CREATE TABLE storage_usage (
    owner_id BLOB    NOT NULL PRIMARY KEY,
    bytes    INTEGER NOT NULL CHECK (bytes >= 0)
) STRICT, WITHOUT ROWID;

INSERT INTO storage_usage (owner_id, bytes)
SELECT sender_user_id, sum(length(content)) FROM events GROUP BY sender_user_id;
