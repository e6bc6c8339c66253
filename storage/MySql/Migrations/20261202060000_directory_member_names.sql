-- Directory schema, version 4: mention candidates by name prefix, fast in a team of 100,000 members.
--
-- member_names holds each member's names under their team, so a prefix is a range scan of the primary key
-- that stops at the limit. Names, folded as users.username_key is: the username (kind 0), the display name
-- (kind 1) and the rest of the display name after its first space (kind 2), so "smi" finds "Alice Smith".
--
-- SQLite keeps this table in step with triggers. Here MySqlDirectoryStore does it in the same transaction
-- as the membership change (adding, removing a member, deleting a team): with binary logging on, creating
-- a trigger needs SUPER or log_bin_trust_function_creators, which an application account should not need.
-- Nothing in the directory port renames a user, so memberships are the only changes to follow.
--
-- ix_member_names_user_id: removing one member deletes their rows by (user_id, team_id) and locks only
-- them, not the team's whole range of the primary key.

CREATE TABLE IF NOT EXISTS member_names (
    team_id  BINARY(16)   NOT NULL,
    name_key VARCHAR(255) NOT NULL,
    user_id  BINARY(16)   NOT NULL,
    kind     TINYINT      NOT NULL,
    PRIMARY KEY (team_id, name_key, user_id, kind),
    KEY ix_member_names_user_id (user_id, team_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin ROW_FORMAT=DYNAMIC;

-- IGNORE: a repeated run finds the rows of the first.
INSERT IGNORE INTO member_names (team_id, name_key, user_id, kind)
SELECT m.team_id, u.username_key, u.id, 0 FROM team_members m JOIN users u ON u.id = m.user_id;
INSERT IGNORE INTO member_names (team_id, name_key, user_id, kind)
SELECT m.team_id, u.display_name_key, u.id, 1 FROM team_members m JOIN users u ON u.id = m.user_id;
INSERT IGNORE INTO member_names (team_id, name_key, user_id, kind)
SELECT m.team_id, SUBSTRING(u.display_name_key, LOCATE(' ', u.display_name_key) + 1), u.id, 2
FROM team_members m JOIN users u ON u.id = m.user_id WHERE LOCATE(' ', u.display_name_key) > 0;
