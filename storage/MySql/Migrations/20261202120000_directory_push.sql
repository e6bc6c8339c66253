-- Directory schema: push notifications (MariaDB; the same change as the SQLite migration of this version).
--
-- push_tokens: one registration per device (provider 1 apns, 2 fcm, 3 webhook; token is the device token,
-- registration token or URL). Deleted with the device's session.
-- push_preferences / push_conversation_levels: level 0 all, 1 mentions and DMs, 2 none; dnd_until in ms.
-- push_pending: the store-backed queue, one row per (user, conversation) folding a burst (count); first_at
-- bounds how long folding may push due_at back.
-- push_sent: (device, message) pairs already sent, so a notification is never sent twice; pruned after a day.
-- Re-runnable (IF NOT EXISTS): MySQL commits DDL, so a crash before the history row repeats the script.
CREATE TABLE IF NOT EXISTS push_tokens (
    device_id     BINARY(16)    NOT NULL,
    user_id       BINARY(16)    NOT NULL,
    provider      TINYINT       NOT NULL,
    token         VARCHAR(2048) NOT NULL,
    registered_at BIGINT        NOT NULL,
    PRIMARY KEY (device_id),
    KEY ix_push_tokens_user (user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS push_preferences (
    user_id   BINARY(16) NOT NULL,
    level     TINYINT    NOT NULL,
    dnd_until BIGINT     NULL,
    PRIMARY KEY (user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS push_conversation_levels (
    user_id         BINARY(16) NOT NULL,
    conversation_id BINARY(16) NOT NULL,
    level           TINYINT    NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS push_pending (
    user_id         BINARY(16) NOT NULL,
    conversation_id BINARY(16) NOT NULL,
    message_id      BINARY(16) NOT NULL,
    seq             BIGINT     NOT NULL,
    sender_id       BINARY(16) NOT NULL,
    reason          TINYINT    NOT NULL,
    count           INT        NOT NULL,
    due_at          BIGINT     NOT NULL,
    first_at        BIGINT     NOT NULL,
    PRIMARY KEY (user_id, conversation_id),
    KEY ix_push_pending_due (due_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS push_sent (
    device_id  BINARY(16) NOT NULL,
    message_id BINARY(16) NOT NULL,
    sent_at    BIGINT     NOT NULL,
    PRIMARY KEY (device_id, message_id),
    KEY ix_push_sent_at (sent_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;
