-- Directory schema: the keys of revoked devices (docs/e2e.md, "Revoked devices and their history").
--
-- A revoked device's row moves here from device_keys when it had been approved (an account signature): what it
-- sent before the revocation stays readable on devices linked later, which check its certificate against the
-- account key and accept it only for epochs before the current one. Nothing is ever sealed to a former device.
CREATE TABLE former_device_keys (
    device_id           BLOB    NOT NULL PRIMARY KEY,
    user_id             BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    signing_key         BLOB    NOT NULL,
    dh_key              BLOB    NOT NULL,
    created_at_ms       INTEGER NOT NULL,
    self_signature      BLOB    NOT NULL,
    link_code           TEXT    NOT NULL,
    certificate_version INTEGER NOT NULL,
    account_signature   BLOB    NOT NULL,
    revoked_at          INTEGER NOT NULL
) STRICT;

CREATE INDEX ix_former_device_keys_user_id ON former_device_keys (user_id, revoked_at);
