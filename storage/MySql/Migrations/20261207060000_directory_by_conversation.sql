-- Directory schema: attachments and notification levels found by their conversation (MariaDB; the same change as
-- the SQLite migration of this version).
--
-- Deleting a team orphans its channels' attachments (state 2, for the sweep to delete with their blobs) and deletes
-- its channels' notification levels; both look rows up by conversation_id, which no key led with.
-- Re-runnable (IF NOT EXISTS): MySQL commits DDL, so a crash before the history row repeats the script.
CREATE INDEX IF NOT EXISTS ix_attachments_conversation ON attachments (conversation_id);
CREATE INDEX IF NOT EXISTS ix_push_conversation_levels_conversation ON push_conversation_levels (conversation_id);
