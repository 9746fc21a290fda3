-- #general, in every user's database (ids 1-5). Message 2 replies to message 1: its
-- reply_to_id is the parent's id in the *sender's* (bob's) database. Message 3 is text + one
-- file sharing a ts, never marked read: the Python original stored a sender's own copy with
-- read = 0, so it must not count as unread for alice. Message 4 was edited; message 5
-- soft-deleted.
INSERT INTO messages(id, channel, sender, content, content_type, filename, ts, read, reactions, reactions_ts)
  VALUES (1, 'general', 'alice', 'Welcome to MiniMost!', 'text', NULL, 1700000000.1, 1,
          '{"thumbsup": ["bob"], "heart": ["carol"]}', 1700000020.0);
INSERT INTO messages(id, channel, sender, content, content_type, ts, read, reply_to_id)
  VALUES (2, 'general', 'bob', 'Thanks! Glad to be here.', 'text', 1700000100.2, 1, 1);
INSERT INTO messages(id, channel, sender, content, content_type, filename, ts, read)
  VALUES (3, 'general', 'alice', 'Here is the quarterly report', 'text', NULL, 1700000200.3, 0);
INSERT INTO messages(id, channel, sender, content, content_type, filename, ts, read)
  VALUES (4, 'general', 'alice', '', 'text', '0123456789abcdef0123456789abcdef_report.pdf', 1700000200.3, 0);
INSERT INTO messages(id, channel, sender, content, content_type, ts, edited, edited_ts, read)
  VALUES (5, 'general', 'carol', 'deploy is done (edited)', 'text', 1700000300.4, 1, 1700000310.0, 0);
INSERT INTO messages(id, channel, sender, content, content_type, ts, read, deleted, deleted_ts)
  VALUES (6, 'general', 'carol', 'oops, wrong channel', 'text', 1700000320.5, 0, 1, 1700000321.0);
