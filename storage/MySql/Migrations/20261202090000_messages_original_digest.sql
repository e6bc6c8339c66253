-- Messages schema, version 7: what a message was when it was sent.
--
-- A resend is recognised by comparing its content type and body with the message's (docs/protocol.md §4.8,
-- idempotency). An edit replaces the stored content and a deletion erases it, so the comparison uses the
-- SHA-256 of the original content type and body, kept here for every message from this version on (NULL
-- for other kinds: those compare with the stored content).
ALTER TABLE events ADD COLUMN IF NOT EXISTS original_digest BINARY(32) NULL;
