-- Directory schema, version 3: when each user was last seen.
--
-- Written when a user's last connected device goes away, so a watcher of an offline user sees "last seen
-- at". NULL for a user who was never connected since this version.
ALTER TABLE users ADD COLUMN IF NOT EXISTS last_seen_at BIGINT NULL;
