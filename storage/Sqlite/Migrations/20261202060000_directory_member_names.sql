-- Directory schema, version 4: mention candidates by name prefix, fast in a team of 100,000 members.
--
-- Version 1 found candidates by filtering every member of the team with LIKE: a scan of the whole team per
-- keystroke. member_names holds each member's names under their team, so a prefix is a range scan of the
-- primary key that stops at the limit. Names: the username (kind 0), the display name (kind 1) and the rest
-- of the display name after its first space (kind 2), so "smi" finds "Alice Smith". NOCASE folds ASCII
-- letters, as the username column does. Triggers keep the table in step with memberships and names.

CREATE TABLE member_names (
    team_id  BLOB    NOT NULL,
    name_key TEXT    NOT NULL COLLATE NOCASE,
    user_id  BLOB    NOT NULL,
    kind     INTEGER NOT NULL,
    PRIMARY KEY (team_id, name_key, user_id, kind)
) STRICT, WITHOUT ROWID;

INSERT OR IGNORE INTO member_names (team_id, name_key, user_id, kind)
SELECT m.team_id, u.username, u.id, 0 FROM team_members m JOIN users u ON u.id = m.user_id;
INSERT OR IGNORE INTO member_names (team_id, name_key, user_id, kind)
SELECT m.team_id, u.display_name, u.id, 1 FROM team_members m JOIN users u ON u.id = m.user_id;
INSERT OR IGNORE INTO member_names (team_id, name_key, user_id, kind)
SELECT m.team_id, substr(u.display_name, instr(u.display_name, ' ') + 1), u.id, 2
FROM team_members m JOIN users u ON u.id = m.user_id WHERE instr(u.display_name, ' ') > 0;

CREATE TRIGGER tr_team_members_names_insert AFTER INSERT ON team_members
BEGIN
    INSERT OR IGNORE INTO member_names (team_id, name_key, user_id, kind)
    SELECT NEW.team_id, username, id, 0 FROM users WHERE id = NEW.user_id;
    INSERT OR IGNORE INTO member_names (team_id, name_key, user_id, kind)
    SELECT NEW.team_id, display_name, id, 1 FROM users WHERE id = NEW.user_id;
    INSERT OR IGNORE INTO member_names (team_id, name_key, user_id, kind)
    SELECT NEW.team_id, substr(display_name, instr(display_name, ' ') + 1), id, 2 FROM users
    WHERE id = NEW.user_id AND instr(display_name, ' ') > 0;
END;

CREATE TRIGGER tr_team_members_names_delete AFTER DELETE ON team_members
BEGIN
    DELETE FROM member_names WHERE team_id = OLD.team_id AND user_id = OLD.user_id;
END;

CREATE TRIGGER tr_users_names_update AFTER UPDATE OF username, display_name ON users
BEGIN
    DELETE FROM member_names WHERE user_id = NEW.id AND team_id IN (SELECT team_id FROM team_members WHERE user_id = NEW.id);
    INSERT OR IGNORE INTO member_names (team_id, name_key, user_id, kind)
    SELECT team_id, NEW.username, NEW.id, 0 FROM team_members WHERE user_id = NEW.id;
    INSERT OR IGNORE INTO member_names (team_id, name_key, user_id, kind)
    SELECT team_id, NEW.display_name, NEW.id, 1 FROM team_members WHERE user_id = NEW.id;
    INSERT OR IGNORE INTO member_names (team_id, name_key, user_id, kind)
    SELECT team_id, substr(NEW.display_name, instr(NEW.display_name, ' ') + 1), NEW.id, 2 FROM team_members
    WHERE user_id = NEW.id AND instr(NEW.display_name, ' ') > 0;
END;
