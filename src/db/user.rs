//! users/<name>.db: one user's copy of every message they can see.
//! SQL only; callers choose the transaction.

pub const MIGRATIONS: &[&str] = &[
    // 1: the Python original's tables, kept exactly, plus the indexes our queries need.
    "CREATE TABLE IF NOT EXISTS messages(id INTEGER PRIMARY KEY AUTOINCREMENT,
                                         channel TEXT NOT NULL, sender TEXT NOT NULL,
                                         content TEXT, content_type TEXT DEFAULT 'text',
                                         filename TEXT, ts REAL NOT NULL,
                                         edited INTEGER DEFAULT 0, edited_ts REAL,
                                         read INTEGER DEFAULT 0, deleted INTEGER DEFAULT 0,
                                         deleted_ts REAL, reply_to_id INTEGER,
                                         reactions TEXT, reactions_ts REAL, mentions TEXT,
                                         metadata TEXT, client_msg_id TEXT, expires_ts REAL);
     CREATE TABLE IF NOT EXISTS dm_hidden(channel TEXT PRIMARY KEY, hidden_ts REAL NOT NULL);
     CREATE INDEX IF NOT EXISTS messages_by_channel_ts ON messages(channel, ts);
     CREATE INDEX IF NOT EXISTS messages_by_filename ON messages(filename)
         WHERE filename IS NOT NULL;",
];

/// `users/<name>.db` for a validated name (never raw request text).
pub fn path(data_dir: &std::path::Path, user: &crate::names::Username) -> std::path::PathBuf {
    data_dir.join("users").join(format!("{}.db", user.as_str()))
}
