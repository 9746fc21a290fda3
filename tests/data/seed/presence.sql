-- presence.db as the Python original wrote it, including its old call-relay tables, which a
-- new server leaves alone.
CREATE TABLE presence(user TEXT PRIMARY KEY, last_seen INTEGER NOT NULL, state TEXT NOT NULL);
CREATE TABLE typing(user TEXT NOT NULL, channel TEXT NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY(user, channel));
CREATE TABLE read_receipts(channel TEXT NOT NULL, msg_ts REAL NOT NULL, reader TEXT NOT NULL,
                           PRIMARY KEY(channel, msg_ts, reader));
CREATE TABLE message_reactions(channel TEXT NOT NULL, msg_ts REAL NOT NULL, emoji TEXT NOT NULL,
                               reactor TEXT NOT NULL, PRIMARY KEY(channel, msg_ts, emoji, reactor));
CREATE TABLE private_channels(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,
                              created_by TEXT NOT NULL, created_ts REAL NOT NULL);
CREATE TABLE private_channel_members(channel_id INTEGER NOT NULL, username TEXT NOT NULL, joined_ts REAL NOT NULL,
                                     history_start_ts REAL, PRIMARY KEY(channel_id, username));
CREATE TABLE calls(call_id TEXT PRIMARY KEY, channel TEXT NOT NULL, initiator TEXT NOT NULL,
                   state TEXT NOT NULL DEFAULT 'ringing', started_ts REAL NOT NULL, answered_ts REAL,
                   ended_ts REAL, screenshare_user TEXT);
CREATE TABLE call_participants(call_id TEXT NOT NULL, username TEXT NOT NULL,
                               role TEXT NOT NULL DEFAULT 'participant', state TEXT NOT NULL DEFAULT 'pending',
                               joined_ts REAL, left_ts REAL, PRIMARY KEY(call_id, username));
CREATE TABLE call_signals(id INTEGER PRIMARY KEY AUTOINCREMENT, call_id TEXT, sender TEXT, recipient TEXT,
                          kind TEXT, payload TEXT, ts REAL);
CREATE TABLE call_media(id INTEGER PRIMARY KEY AUTOINCREMENT, call_id TEXT, sender TEXT, chunk BLOB, ts REAL);
INSERT INTO presence VALUES ('alice', 1700000700, 'active');
INSERT INTO presence VALUES ('bob', 1700000650, 'idle');
INSERT INTO typing VALUES ('bob', 'general', 1700000650);
INSERT INTO read_receipts VALUES ('general', 1700000000.1, 'bob');
INSERT INTO read_receipts VALUES ('general', 1700000000.1, 'carol');
INSERT INTO read_receipts VALUES ('dm:alice:bob', 1700000400.5, 'bob');
INSERT INTO message_reactions VALUES ('general', 1700000000.1, 'thumbsup', 'bob');
INSERT INTO message_reactions VALUES ('general', 1700000000.1, 'heart', 'carol');
INSERT INTO private_channels VALUES (1, 'ops', 'alice', 1700000500.0);
INSERT INTO private_channel_members VALUES (1, 'alice', 1700000500.0, 1700000500.0);
INSERT INTO private_channel_members VALUES (1, 'bob', 1700000500.0, 1700000500.0);
INSERT INTO calls VALUES ('call-1', 'dm:alice:bob', 'alice', 'active', 1700000690.0, 1700000695.0, NULL, NULL);
INSERT INTO call_participants VALUES ('call-1', 'alice', 'initiator', 'accepted', 1700000690.0, NULL);
INSERT INTO call_participants VALUES ('call-1', 'bob', 'participant', 'accepted', 1700000695.0, NULL);
INSERT INTO call_signals(call_id, sender, recipient, kind, payload, ts) VALUES ('call-1', 'alice', 'bob', 'offer', '{}', 1700000691.0);
