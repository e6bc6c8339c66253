-- Directory schema: an account's state for the operator (docs/operations.md, "Administration").
--
-- disabled_at: the account may not log in (its sessions were revoked when it was disabled). deleted_at: the account
-- was deleted; the row stays, renamed to its tombstone, so its messages keep their sender.
ALTER TABLE users ADD COLUMN disabled_at INTEGER NULL;
ALTER TABLE users ADD COLUMN deleted_at INTEGER NULL;
