-- Directory schema: push notifications (docs/http-api.md, push; docs/operations.md, push notifications).
--
-- push_tokens: one registration per device (provider 1 apns, 2 fcm, 3 webhook; token is the device token,
-- registration token or URL). Deleted with the device's session.
-- push_preferences / push_conversation_levels: level 0 all, 1 mentions and DMs, 2 none; dnd_until in ms.
-- push_pending: the embedded queue, one row per (user, conversation) folding a burst (count); first_at bounds
-- how long folding may push due_at back.
-- push_sent: (device, message) pairs already sent, so a notification is never sent twice; pruned after a day.
CREATE TABLE push_tokens (
    device_id     BLOB    NOT NULL PRIMARY KEY,
    user_id       BLOB    NOT NULL,
    provider      INTEGER NOT NULL,
    token         TEXT    NOT NULL,
    registered_at INTEGER NOT NULL
) STRICT;

CREATE INDEX ix_push_tokens_user ON push_tokens (user_id);

CREATE TABLE push_preferences (
    user_id   BLOB    NOT NULL PRIMARY KEY,
    level     INTEGER NOT NULL,
    dnd_until INTEGER
) STRICT;

CREATE TABLE push_conversation_levels (
    user_id         BLOB    NOT NULL,
    conversation_id BLOB    NOT NULL,
    level           INTEGER NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE push_pending (
    user_id         BLOB    NOT NULL,
    conversation_id BLOB    NOT NULL,
    message_id      BLOB    NOT NULL,
    seq             INTEGER NOT NULL,
    sender_id       BLOB    NOT NULL,
    reason          INTEGER NOT NULL,
    count           INTEGER NOT NULL,
    due_at          INTEGER NOT NULL,
    first_at        INTEGER NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX ix_push_pending_due ON push_pending (due_at);

CREATE TABLE push_sent (
    device_id  BLOB    NOT NULL,
    message_id BLOB    NOT NULL,
    sent_at    INTEGER NOT NULL,
    PRIMARY KEY (device_id, message_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX ix_push_sent_at ON push_sent (sent_at);
