-- Directory schema: a push token as long as the API accepts (MariaDB only: SQLite's TEXT has no length).
--
-- The API takes an FCM registration token of up to 4,096 characters (PushEndpoints.MaxFcmTokenLength) and a webhook
-- URL of up to 2,048; the column held 2,048, so a longer FCM token passed validation and then failed to store. Not
-- indexed, so the wider column costs nothing for the short tokens real devices have.
-- Re-runnable: MODIFY to the same definition is a no-op.
ALTER TABLE push_tokens MODIFY token VARCHAR(4096) NOT NULL;
