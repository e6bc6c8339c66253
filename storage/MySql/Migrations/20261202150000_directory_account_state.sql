-- Directory schema: an account's state for the operator (MariaDB; the same change as the SQLite migration of this
-- version). disabled_at: the account may not log in. deleted_at: deleted; the row stays, renamed to its tombstone.
-- Re-runnable (IF NOT EXISTS): MySQL commits DDL, so a crash before the history row repeats the script.
ALTER TABLE users ADD COLUMN IF NOT EXISTS disabled_at BIGINT NULL;
ALTER TABLE users ADD COLUMN IF NOT EXISTS deleted_at BIGINT NULL;
