-- Directory schema: who may use @channel and @here in a team's conversations.
--
-- A group mention notifies every member of the conversation, so a large team may keep it to its owners and
-- admins (members_can_mention_channel = 0). By default every member may use it, as before this version.
ALTER TABLE teams ADD COLUMN members_can_mention_channel INTEGER NOT NULL DEFAULT 1 CHECK (members_can_mention_channel IN (0, 1));
