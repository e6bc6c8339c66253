-- Directory schema: who may use @channel and @here in a team's conversations (MariaDB; the same change as the
-- SQLite migration of this version).
--
-- A group mention notifies every member of the conversation, so a large team may keep it to its owners and
-- admins (members_can_mention_channel = FALSE). By default every member may use it, as before this version.
-- Re-runnable (IF NOT EXISTS): MySQL commits DDL, so a crash before the history row repeats the script.
ALTER TABLE teams ADD COLUMN IF NOT EXISTS
    members_can_mention_channel BOOLEAN NOT NULL DEFAULT TRUE CHECK (members_can_mention_channel IN (0, 1));
