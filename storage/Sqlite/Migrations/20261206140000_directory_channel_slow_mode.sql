-- Directory schema: slow mode, per channel.
--
-- With slow_mode_seconds above 0, each member may send one message per that many seconds in the channel (the
-- channel's creator and the team's owners and admins are not held by it). 0, the default, is off, as before
-- this version. At most 21,600 (six hours).
ALTER TABLE conversations ADD COLUMN slow_mode_seconds INTEGER NOT NULL DEFAULT 0 CHECK (slow_mode_seconds BETWEEN 0 AND 21600);
