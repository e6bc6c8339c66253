-- Messages schema, version 7: what a message was when it was sent.
--
-- A resend is recognised by comparing its content type and body with the message's (docs/protocol.md §4.8,
-- idempotency). An edit replaces the stored content and a deletion erases it, so the comparison uses the
-- SHA-256 of the original content type and body, kept here for every message from this version on (NULL
-- for earlier ones and other kinds: those compare with the stored content, as before).
ALTER TABLE events ADD COLUMN original_digest BLOB NULL;
