-- Messages schema, version 6: per-device delivery cursors.
--
-- Each device acknowledges, per conversation, the seq up to which it holds every event (RECEIVED). SYNC
-- hands the cursor back, so a device that restarts resumes where it stopped; notifications use it to know
-- what a device has not received.
CREATE TABLE device_cursors (
    device_id       BLOB    NOT NULL,
    conversation_id BLOB    NOT NULL,
    seq             INTEGER NOT NULL,
    PRIMARY KEY (device_id, conversation_id)
) STRICT, WITHOUT ROWID;
