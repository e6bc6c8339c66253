-- Messages schema, version 6: per-device delivery cursors.
--
-- Each device acknowledges, per conversation, the seq up to which it holds every event (RECEIVED). SYNC
-- hands the cursor back, so a device that restarts resumes where it stopped; notifications use it to know
-- what a device has not received.
CREATE TABLE IF NOT EXISTS device_cursors (
    device_id       BINARY(16) NOT NULL,
    conversation_id BINARY(16) NOT NULL,
    seq             BIGINT     NOT NULL,
    PRIMARY KEY (device_id, conversation_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
