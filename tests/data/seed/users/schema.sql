-- The per-user tables as the Python original wrote them (no indexes of ours).
CREATE TABLE messages(id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, sender TEXT NOT NULL,
                      content TEXT, content_type TEXT DEFAULT 'text', filename TEXT, ts REAL NOT NULL,
                      edited INTEGER DEFAULT 0, edited_ts REAL, read INTEGER DEFAULT 0,
                      deleted INTEGER DEFAULT 0, deleted_ts REAL, reply_to_id INTEGER,
                      reactions TEXT, reactions_ts REAL, mentions TEXT, metadata TEXT,
                      client_msg_id TEXT, expires_ts REAL);
CREATE TABLE dm_hidden(channel TEXT PRIMARY KEY, hidden_ts REAL NOT NULL);
