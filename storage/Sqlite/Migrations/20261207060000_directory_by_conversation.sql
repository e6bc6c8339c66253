-- Directory schema: attachments and notification levels found by their conversation.
--
-- Deleting a team orphans its channels' attachments (state 2, for the sweep to delete with their blobs) and deletes
-- its channels' notification levels; both look rows up by conversation_id, which no key led with.
CREATE INDEX ix_attachments_conversation ON attachments (conversation_id);
CREATE INDEX ix_push_conversation_levels_conversation ON push_conversation_levels (conversation_id);
