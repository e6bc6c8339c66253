-- Directory schema: the keys of revoked devices (MariaDB; the same change as the SQLite migration of this version).
--
-- A revoked device's row moves here from device_keys when it had been approved (an account signature): what it
-- sent before the revocation stays readable on devices linked later, which check its certificate against the
-- account key and accept it only for epochs before the current one. Nothing is ever sealed to a former device.
-- Re-runnable (IF NOT EXISTS): MySQL commits DDL, so a crash before the history row repeats the script.
CREATE TABLE IF NOT EXISTS former_device_keys (
    device_id           BINARY(16)     NOT NULL,
    user_id             BINARY(16)     NOT NULL,
    signing_key         VARBINARY(64)  NOT NULL,
    dh_key              VARBINARY(64)  NOT NULL,
    created_at_ms       BIGINT         NOT NULL,
    self_signature      VARBINARY(128) NOT NULL,
    link_code           VARCHAR(32)    NOT NULL,
    certificate_version INT            NOT NULL,
    account_signature   VARBINARY(128) NOT NULL,
    revoked_at          BIGINT         NOT NULL,
    PRIMARY KEY (device_id),
    KEY ix_former_device_keys_user_id (user_id, revoked_at),
    CONSTRAINT fk_former_device_keys_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;
