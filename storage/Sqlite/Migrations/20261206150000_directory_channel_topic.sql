-- Directory schema: a channel's topic.
--
-- A line of text people read at the head of a channel (at most 250 characters; the gateway checks them). Empty,
-- the default, when the channel has none.
ALTER TABLE conversations ADD COLUMN topic TEXT NOT NULL DEFAULT '';
