//! presence.db: presence, typing, receipts, reactions, private channels and calls.
//! SQL only; callers choose the transaction.

use rusqlite::{params, Connection, Result};

pub const MIGRATIONS: &[&str] = &[
    // 1: the Python original's tables, kept exactly.
    "CREATE TABLE IF NOT EXISTS presence(user TEXT PRIMARY KEY, last_seen INTEGER NOT NULL,
                                         state TEXT NOT NULL);
     CREATE TABLE IF NOT EXISTS typing(user TEXT NOT NULL, channel TEXT NOT NULL,
                                       ts INTEGER NOT NULL, PRIMARY KEY(user, channel));
     CREATE TABLE IF NOT EXISTS read_receipts(channel TEXT NOT NULL, msg_ts REAL NOT NULL,
                                              reader TEXT NOT NULL,
                                              PRIMARY KEY(channel, msg_ts, reader));
     CREATE TABLE IF NOT EXISTS message_reactions(channel TEXT NOT NULL, msg_ts REAL NOT NULL,
                                                  emoji TEXT NOT NULL, reactor TEXT NOT NULL,
                                                  PRIMARY KEY(channel, msg_ts, emoji, reactor));
     CREATE TABLE IF NOT EXISTS private_channels(id INTEGER PRIMARY KEY AUTOINCREMENT,
                                                 name TEXT NOT NULL, created_by TEXT NOT NULL,
                                                 created_ts REAL NOT NULL);
     CREATE TABLE IF NOT EXISTS private_channel_members(channel_id INTEGER NOT NULL,
                                                        username TEXT NOT NULL,
                                                        joined_ts REAL NOT NULL,
                                                        history_start_ts REAL,
                                                        PRIMARY KEY(channel_id, username));
     CREATE TABLE IF NOT EXISTS calls(call_id TEXT PRIMARY KEY, channel TEXT NOT NULL,
                                      initiator TEXT NOT NULL,
                                      state TEXT NOT NULL DEFAULT 'ringing',
                                      started_ts REAL NOT NULL, answered_ts REAL,
                                      ended_ts REAL, screenshare_user TEXT);
     CREATE TABLE IF NOT EXISTS call_participants(call_id TEXT NOT NULL, username TEXT NOT NULL,
                                                  role TEXT NOT NULL DEFAULT 'participant',
                                                  state TEXT NOT NULL DEFAULT 'pending',
                                                  joined_ts REAL, left_ts REAL,
                                                  PRIMARY KEY(call_id, username));",
];

/// Records a user's presence state.
pub fn set_state(conn: &Connection, user: &str, state: &str, now: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO presence(user, last_seen, state) VALUES (?1, ?3, ?2)
         ON CONFLICT(user) DO UPDATE SET state = ?2, last_seen = ?3",
        params![user, state, now],
    )?;
    Ok(())
}

/// Startup: nobody is connected yet, and no call survives a restart.
pub fn reset_after_restart(conn: &Connection, now: f64) -> Result<()> {
    conn.execute(
        "UPDATE presence SET state = 'offline' WHERE state != 'offline'",
        [],
    )?;
    conn.execute(
        "UPDATE calls SET state = 'ended', ended_ts = ?1 WHERE state IN ('ringing', 'active')",
        [now],
    )?;
    conn.execute("DELETE FROM typing", [])?;
    Ok(())
}
