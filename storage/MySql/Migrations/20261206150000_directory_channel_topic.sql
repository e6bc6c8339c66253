-- Directory schema: a channel's topic (MariaDB; the same change as the SQLite migration of this version).
--
-- A line of text people read at the head of a channel (at most 250 characters; the gateway checks them). Empty,
-- the default, when the channel has none.
-- Re-runnable (IF NOT EXISTS): MySQL commits DDL, so a crash before the history row repeats the script.
ALTER TABLE conversations ADD COLUMN IF NOT EXISTS topic VARCHAR(250) NOT NULL DEFAULT '';
