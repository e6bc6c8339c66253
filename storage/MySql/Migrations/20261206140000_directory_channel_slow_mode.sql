-- Directory schema: slow mode, per channel (MariaDB; the same change as the SQLite migration of this version).
--
-- With slow_mode_seconds above 0, each member may send one message per that many seconds in the channel (the
-- channel's creator and the team's owners and admins are not held by it). 0, the default, is off, as before
-- this version. At most 21,600 (six hours).
-- Re-runnable (IF NOT EXISTS): MySQL commits DDL, so a crash before the history row repeats the script.
ALTER TABLE conversations ADD COLUMN IF NOT EXISTS
    slow_mode_seconds INT NOT NULL DEFAULT 0 CHECK (slow_mode_seconds BETWEEN 0 AND 21600);
