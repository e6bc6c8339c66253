-- Directory schema, version 6: the key directory of end-to-end encryption (docs/e2e.md, "The key directory").
--
-- Public keys, signed device lists, prekeys and sealed blobs the server cannot open. Key state that must move
-- with membership (a conversation's epoch, roster version and mode) lives on the conversations row, so the
-- membership statements update it in the same transaction; a conversation never changed holds epoch 1, roster
-- version 1, history mode (0).
--
-- history_keys_usable_from: history key generations below it are not usable any more (a device was revoked or
-- the account reset; the rows stay so a new generation must still be above every one the user had).

ALTER TABLE conversations ADD COLUMN key_epoch INTEGER NOT NULL DEFAULT 1;
ALTER TABLE conversations ADD COLUMN key_roster_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE conversations ADD COLUMN key_mode INTEGER NOT NULL DEFAULT 0;

ALTER TABLE users ADD COLUMN history_keys_usable_from INTEGER NOT NULL DEFAULT 0;

CREATE TABLE account_keys (
    user_id     BLOB    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    signing_key BLOB    NOT NULL,
    version     INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE history_keys (
    user_id    BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    generation INTEGER NOT NULL,
    public_key BLOB    NOT NULL,
    signature  BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, generation)
) STRICT, WITHOUT ROWID;

-- One row per device that registered keys; deleted when the device is revoked. The link code is matched per
-- user (upper case, no dash).
CREATE TABLE device_keys (
    device_id           BLOB    NOT NULL PRIMARY KEY,
    user_id             BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    signing_key         BLOB    NOT NULL,
    dh_key              BLOB    NOT NULL,
    created_at_ms       INTEGER NOT NULL,
    self_signature      BLOB    NOT NULL,
    link_code           TEXT    NOT NULL,
    certificate_version INTEGER NOT NULL,
    account_signature   BLOB    NULL
) STRICT;

CREATE INDEX ix_device_keys_user_id_link_code ON device_keys (user_id, link_code);

CREATE TABLE device_lists (
    user_id    BLOB    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    version    INTEGER NOT NULL,
    signature  BLOB    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- ordinal keeps the entries in the order they were signed.
CREATE TABLE device_list_entries (
    user_id          BLOB    NOT NULL REFERENCES device_lists (user_id) ON DELETE CASCADE,
    ordinal          INTEGER NOT NULL,
    device_id        BLOB    NOT NULL,
    certificate_hash BLOB    NOT NULL,
    PRIMARY KEY (user_id, ordinal)
) STRICT, WITHOUT ROWID;

CREATE TABLE signed_prekeys (
    device_id  BLOB    NOT NULL PRIMARY KEY REFERENCES device_keys (device_id) ON DELETE CASCADE,
    prekey_id  INTEGER NOT NULL,
    public_key BLOB    NOT NULL,
    signature  BLOB    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE one_time_prekeys (
    device_id  BLOB    NOT NULL REFERENCES device_keys (device_id) ON DELETE CASCADE,
    prekey_id  INTEGER NOT NULL,
    public_key BLOB    NOT NULL,
    PRIMARY KEY (device_id, prekey_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE link_payloads (
    device_id      BLOB    NOT NULL PRIMARY KEY,
    from_device_id BLOB    NOT NULL,
    payload        BLOB    NOT NULL,
    created_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE recovery_backups (
    user_id    BLOB    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    backup     BLOB    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- A sender chain's distribution in a conversation; complete_for_roster_version 0: never found complete.
CREATE TABLE key_distributions (
    conversation_id            BLOB    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    chain_id                   BLOB    NOT NULL,
    sender_user_id             BLOB    NOT NULL,
    sender_device_id           BLOB    NOT NULL,
    epoch                      INTEGER NOT NULL,
    mode                       INTEGER NOT NULL,
    complete_for_roster_version INTEGER NOT NULL DEFAULT 0,
    created_at                 INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, chain_id)
) STRICT, WITHOUT ROWID;

-- One sealed seed. recipient_device_id NULL: sealed to the user's history key (history mode); else to that
-- device (strict mode, history_key_generation 0). position orders a recipient's downloads; a replaced entry
-- gets a new position so that it is downloaded again.
CREATE TABLE key_bundle_entries (
    position               INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    conversation_id        BLOB    NOT NULL,
    chain_id               BLOB    NOT NULL,
    recipient_user_id      BLOB    NOT NULL,
    recipient_device_id    BLOB    NULL,
    history_key_generation INTEGER NOT NULL,
    sealed                 BLOB    NOT NULL,
    uploaded_at            INTEGER NOT NULL,
    FOREIGN KEY (conversation_id, chain_id) REFERENCES key_distributions (conversation_id, chain_id) ON DELETE CASCADE
) STRICT;

CREATE INDEX ix_key_bundle_entries_chain ON key_bundle_entries (conversation_id, chain_id, recipient_user_id);
CREATE INDEX ix_key_bundle_entries_recipient ON key_bundle_entries (conversation_id, recipient_user_id, position);
