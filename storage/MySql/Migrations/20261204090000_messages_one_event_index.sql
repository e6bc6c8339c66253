-- Messages schema, version 8: one index on event ids instead of two.
--
-- ux_events_event (conversation_id, event_id) was the idempotency key and ix_events_event_id (event_id) found a
-- message by its id alone. Both hold the same pairs, and the first is ordered by conversation: a batch of
-- messages from N conversations dirtied at least N of its pages. One unique key on (event_id, conversation_id)
-- answers both lookups, and since message ids and the server's event ids are UUIDv7, its new entries land at
-- its right edge. One ALTER, so the table is never without a unique key on the pair; IF [NOT] EXISTS
-- (MariaDB syntax) lets it run again after a failure part way.
ALTER TABLE events
    ADD UNIQUE KEY IF NOT EXISTS ux_events_event_id (event_id, conversation_id),
    DROP INDEX IF EXISTS ux_events_event,
    DROP INDEX IF EXISTS ix_events_event_id;
