-- Messages schema, version 5: find a message by its id alone.
--
-- A message id is unique in its conversation, and clients name a message by its id (the CLI's
-- `react MESSAGE EMOJI`); this index answers "which conversations hold this id" without a scan.
CREATE INDEX IF NOT EXISTS ix_events_event_id ON events (event_id);
