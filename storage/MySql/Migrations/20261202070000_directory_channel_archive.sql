-- Directory schema, version 5: archived channels.
--
-- An archived channel keeps its members and history, readable; nothing more can be sent to it. NULL while
-- the channel is in use.
ALTER TABLE conversations ADD COLUMN IF NOT EXISTS archived_at BIGINT NULL;
