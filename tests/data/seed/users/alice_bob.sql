-- The DM and the private channel alice and bob share (ids 7-10). Alice's own message 7 was
-- never marked read, as the Python original left a sender's own copy.
INSERT INTO messages(id, channel, sender, content, content_type, ts, read)
  VALUES (7, 'dm:alice:bob', 'alice', 'lunch at noon?', 'text', 1700000400.5, 0);
INSERT INTO messages(id, channel, sender, content, content_type, ts, read)
  VALUES (8, 'dm:alice:bob', 'bob', 'sure', 'text', 1700000410.6, 0);
INSERT INTO messages(id, channel, sender, content, content_type, ts, read)
  VALUES (9, 'private:1', 'system', 'alice created the channel ops', 'system', 1700000500.7, 1);
INSERT INTO messages(id, channel, sender, content, content_type, ts, read)
  VALUES (10, 'private:1', 'bob', 'deploy at 5 today', 'text', 1700000510.8, 0);
