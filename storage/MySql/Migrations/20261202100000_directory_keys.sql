-- Directory schema, version 6 (MariaDB; the same change as the SQLite migration of this version): the key
-- directory of end-to-end encryption (docs/e2e.md, "The key directory").
--
-- Public keys, signed device lists, prekeys and sealed blobs the server cannot open. A conversation's key
-- state (epoch, roster version, mode) lives on its row, so the membership statements update it in the same
-- transaction; a conversation never changed holds epoch 1, roster version 1, history mode (0).
-- history_keys_usable_from: history key generations below it are not usable any more (a device was revoked
-- or the account reset; the rows stay so a new generation must still be above every one the user had).
--
-- Re-runnable (IF NOT EXISTS): MySQL commits DDL, so a crash before the history row repeats the script.

ALTER TABLE conversations
    ADD COLUMN IF NOT EXISTS key_epoch          BIGINT NOT NULL DEFAULT 1,
    ADD COLUMN IF NOT EXISTS key_roster_version BIGINT NOT NULL DEFAULT 1,
    ADD COLUMN IF NOT EXISTS key_mode           INT    NOT NULL DEFAULT 0;

ALTER TABLE users ADD COLUMN IF NOT EXISTS history_keys_usable_from INT NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS account_keys (
    user_id     BINARY(16)    NOT NULL,
    signing_key VARBINARY(64) NOT NULL,
    version     INT           NOT NULL,
    updated_at  BIGINT        NOT NULL,
    PRIMARY KEY (user_id),
    CONSTRAINT fk_account_keys_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS history_keys (
    user_id    BINARY(16)     NOT NULL,
    generation INT            NOT NULL,
    public_key VARBINARY(64)  NOT NULL,
    signature  VARBINARY(128) NOT NULL,
    created_at BIGINT         NOT NULL,
    PRIMARY KEY (user_id, generation),
    CONSTRAINT fk_history_keys_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;

-- One row per device that registered keys; deleted when the device is revoked. The link code is matched per
-- user (upper case, no dash).
CREATE TABLE IF NOT EXISTS device_keys (
    device_id           BINARY(16)     NOT NULL,
    user_id             BINARY(16)     NOT NULL,
    signing_key         VARBINARY(64)  NOT NULL,
    dh_key              VARBINARY(64)  NOT NULL,
    created_at_ms       BIGINT         NOT NULL,
    self_signature      VARBINARY(128) NOT NULL,
    link_code           VARCHAR(32)    NOT NULL,
    certificate_version INT            NOT NULL,
    account_signature   VARBINARY(128) NULL,
    PRIMARY KEY (device_id),
    KEY ix_device_keys_user_id_link_code (user_id, link_code),
    CONSTRAINT fk_device_keys_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS device_lists (
    user_id    BINARY(16)     NOT NULL,
    version    BIGINT         NOT NULL,
    signature  VARBINARY(128) NOT NULL,
    updated_at BIGINT         NOT NULL,
    PRIMARY KEY (user_id),
    CONSTRAINT fk_device_lists_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;

-- ordinal keeps the entries in the order they were signed.
CREATE TABLE IF NOT EXISTS device_list_entries (
    user_id          BINARY(16)    NOT NULL,
    ordinal          INT           NOT NULL,
    device_id        BINARY(16)    NOT NULL,
    certificate_hash VARBINARY(64) NOT NULL,
    PRIMARY KEY (user_id, ordinal),
    CONSTRAINT fk_device_list_entries_list FOREIGN KEY (user_id) REFERENCES device_lists (user_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS signed_prekeys (
    device_id  BINARY(16)     NOT NULL,
    prekey_id  INT            NOT NULL,
    public_key VARBINARY(64)  NOT NULL,
    signature  VARBINARY(128) NOT NULL,
    created_at BIGINT         NOT NULL,
    PRIMARY KEY (device_id),
    CONSTRAINT fk_signed_prekeys_device FOREIGN KEY (device_id) REFERENCES device_keys (device_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS one_time_prekeys (
    device_id  BINARY(16)    NOT NULL,
    prekey_id  INT           NOT NULL,
    public_key VARBINARY(64) NOT NULL,
    PRIMARY KEY (device_id, prekey_id),
    CONSTRAINT fk_one_time_prekeys_device FOREIGN KEY (device_id) REFERENCES device_keys (device_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS link_payloads (
    device_id      BINARY(16) NOT NULL,
    from_device_id BINARY(16) NOT NULL,
    payload        MEDIUMBLOB NOT NULL,
    created_at     BIGINT     NOT NULL,
    PRIMARY KEY (device_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS recovery_backups (
    user_id    BINARY(16) NOT NULL,
    backup     MEDIUMBLOB NOT NULL,
    updated_at BIGINT     NOT NULL,
    PRIMARY KEY (user_id),
    CONSTRAINT fk_recovery_backups_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;

-- A sender chain's distribution in a conversation; complete_for_roster_version 0: never found complete.
CREATE TABLE IF NOT EXISTS key_distributions (
    conversation_id             BINARY(16) NOT NULL,
    chain_id                    BINARY(16) NOT NULL,
    sender_user_id              BINARY(16) NOT NULL,
    sender_device_id            BINARY(16) NOT NULL,
    epoch                       BIGINT     NOT NULL,
    mode                        INT        NOT NULL,
    complete_for_roster_version BIGINT     NOT NULL DEFAULT 0,
    created_at                  BIGINT     NOT NULL,
    PRIMARY KEY (conversation_id, chain_id),
    CONSTRAINT fk_key_distributions_conversation FOREIGN KEY (conversation_id) REFERENCES conversations (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;

-- One sealed seed. recipient_device_id NULL: sealed to the user's history key (history mode); else to that
-- device (strict mode, history_key_generation 0). position orders a recipient's downloads; a replaced entry
-- gets a new position so that it is downloaded again.
CREATE TABLE IF NOT EXISTS key_bundle_entries (
    position               BIGINT     NOT NULL AUTO_INCREMENT,
    conversation_id        BINARY(16) NOT NULL,
    chain_id               BINARY(16) NOT NULL,
    recipient_user_id      BINARY(16) NOT NULL,
    recipient_device_id    BINARY(16) NULL,
    history_key_generation INT        NOT NULL,
    sealed                 BLOB       NOT NULL,
    uploaded_at            BIGINT     NOT NULL,
    PRIMARY KEY (position),
    KEY ix_key_bundle_entries_chain (conversation_id, chain_id, recipient_user_id),
    KEY ix_key_bundle_entries_recipient (conversation_id, recipient_user_id, position),
    CONSTRAINT fk_key_bundle_entries_distribution FOREIGN KEY (conversation_id, chain_id)
        REFERENCES key_distributions (conversation_id, chain_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;
