//! presence.db: presence, typing, receipts, reactions, private channels and calls.
//! SQL only; callers choose the transaction.

use rusqlite::{params, Connection, OptionalExtension, Result};

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
    // 2: the fan-out journal (see writer/fan_out.rs) and lookups by member.
    "CREATE TABLE IF NOT EXISTS fanout_journal(id INTEGER PRIMARY KEY AUTOINCREMENT,
                                               payload TEXT NOT NULL);
     CREATE INDEX IF NOT EXISTS private_channel_members_by_user
         ON private_channel_members(username);",
    // 3: who uploaded each file, so only they can attach it, once.
    "CREATE TABLE IF NOT EXISTS uploads(name TEXT PRIMARY KEY, uploader TEXT NOT NULL,
                                        original TEXT NOT NULL, size INTEGER NOT NULL,
                                        created_ts REAL NOT NULL, attached_ts REAL);
     CREATE INDEX IF NOT EXISTS uploads_by_uploader ON uploads(uploader);",
    // 4: pinned messages, shared by everyone who reads the conversation; `sender` is the
    // message's, so a hard-deleted account's pins go with its messages.
    "CREATE TABLE IF NOT EXISTS pins(channel TEXT NOT NULL, msg_ts REAL NOT NULL,
                                     sender TEXT NOT NULL, pinned_by TEXT NOT NULL,
                                     pinned_ts REAL NOT NULL, PRIMARY KEY(channel, msg_ts));
     CREATE INDEX IF NOT EXISTS pins_by_sender ON pins(sender);",
    // 5: accounts whose history is still being copied, and from whose database.
    "CREATE TABLE IF NOT EXISTS history_seeds(username TEXT PRIMARY KEY, source TEXT NOT NULL);",
];

/// Records that `username`'s history is being copied from `source`'s database.
pub fn set_seed_source(conn: &Connection, username: &str, source: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO history_seeds(username, source) VALUES (?1, ?2)
         ON CONFLICT(username) DO UPDATE SET source = ?2",
        [username, source],
    )?;
    Ok(())
}

/// Every account whose history is still being copied, with its source.
pub fn seeds(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached("SELECT username, source FROM history_seeds")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

pub fn seed_done(conn: &Connection, username: &str) -> Result<()> {
    conn.execute("DELETE FROM history_seeds WHERE username = ?1", [username])?;
    Ok(())
}

/// A pinned message: its ts, who pinned it and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Pin {
    pub msg_ts: f64,
    pub pinned_by: String,
    pub pinned_ts: f64,
}

/// Pins a message; false if it already was.
pub fn pin(
    conn: &Connection,
    channel: &str,
    msg_ts: f64,
    sender: &str,
    pinned_by: &str,
    now: f64,
) -> Result<bool> {
    let n = conn.execute(
        "INSERT OR IGNORE INTO pins(channel, msg_ts, sender, pinned_by, pinned_ts)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![channel, msg_ts, sender, pinned_by, now],
    )?;
    Ok(n > 0)
}

/// Unpins a message; false if it was not pinned.
pub fn unpin(conn: &Connection, channel: &str, msg_ts: f64) -> Result<bool> {
    let n = conn.execute(
        "DELETE FROM pins WHERE channel = ?1 AND msg_ts = ?2",
        params![channel, msg_ts],
    )?;
    Ok(n > 0)
}

/// The pins of a channel, the most recently pinned first.
pub fn pins_of(conn: &Connection, channel: &str) -> Result<Vec<Pin>> {
    let mut stmt = conn.prepare_cached(
        "SELECT msg_ts, pinned_by, pinned_ts FROM pins WHERE channel = ?1
         ORDER BY pinned_ts DESC, msg_ts DESC",
    )?;
    let rows = stmt.query_map([channel], |r| {
        Ok(Pin {
            msg_ts: r.get(0)?,
            pinned_by: r.get(1)?,
            pinned_ts: r.get(2)?,
        })
    })?;
    rows.collect()
}

/// How many pins a channel has.
pub fn pin_count(conn: &Connection, channel: &str) -> Result<u64> {
    conn.prepare_cached("SELECT COUNT(*) FROM pins WHERE channel = ?1")?
        .query_row([channel], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
}

/// How many pins each channel has.
pub fn pin_counts(conn: &Connection) -> Result<std::collections::HashMap<String, u64>> {
    let mut stmt = conn.prepare_cached("SELECT channel, COUNT(*) FROM pins GROUP BY channel")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
    rows.collect()
}

/// Removes the pins of messages `sender` sent (hard account deletion); returns their channels.
pub fn delete_pins_of_sender(conn: &Connection, sender: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT DISTINCT channel FROM pins WHERE sender = ?1")?;
    let channels = stmt
        .query_map([sender], |r| r.get(0))?
        .collect::<Result<Vec<String>>>()?;
    conn.execute("DELETE FROM pins WHERE sender = ?1", [sender])?;
    Ok(channels)
}

/// Records a user's presence state. Going offline only updates an existing row, so a socket
/// closing after its account was deleted leaves nothing behind.
pub fn set_state(conn: &Connection, user: &str, state: &str, now: i64) -> Result<()> {
    if state == "offline" {
        conn.execute(
            "UPDATE presence SET state = ?2, last_seen = ?3 WHERE user = ?1",
            params![user, state, now],
        )?;
        return Ok(());
    }
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

pub struct PrivateChannel {
    pub id: i64,
    pub name: String,
    pub created_by: String,
}

pub fn private_channel(conn: &Connection, id: i64) -> Result<Option<PrivateChannel>> {
    conn.prepare_cached("SELECT id, name, created_by FROM private_channels WHERE id = ?1")?
        .query_row([id], |r| {
            Ok(PrivateChannel {
                id: r.get(0)?,
                name: r.get(1)?,
                created_by: r.get(2)?,
            })
        })
        .optional()
}

/// The private channels `user` is a member of, by name.
pub fn private_channels_of(conn: &Connection, user: &str) -> Result<Vec<PrivateChannel>> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.id, c.name, c.created_by FROM private_channels c
         JOIN private_channel_members m ON m.channel_id = c.id
         WHERE m.username = ?1 ORDER BY c.name COLLATE NOCASE, c.id",
    )?;
    let rows = stmt.query_map([user], |r| {
        Ok(PrivateChannel {
            id: r.get(0)?,
            name: r.get(1)?,
            created_by: r.get(2)?,
        })
    })?;
    rows.collect()
}

pub fn private_members(conn: &Connection, id: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT username FROM private_channel_members WHERE channel_id = ?1 ORDER BY username",
    )?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    rows.collect()
}

pub fn is_member(conn: &Connection, id: i64, user: &str) -> Result<bool> {
    conn.prepare_cached(
        "SELECT 1 FROM private_channel_members WHERE channel_id = ?1 AND username = ?2",
    )?
    .exists(params![id, user])
}

pub fn create_private_channel(
    conn: &Connection,
    name: &str,
    creator: &str,
    now: f64,
) -> Result<i64> {
    conn.execute(
        "INSERT INTO private_channels(name, created_by, created_ts) VALUES (?1, ?2, ?3)",
        params![name, creator, now],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn rename_private_channel(conn: &Connection, id: i64, name: &str) -> Result<()> {
    conn.execute(
        "UPDATE private_channels SET name = ?2 WHERE id = ?1",
        params![id, name],
    )?;
    Ok(())
}

/// Adds a member; false if they already were one.
pub fn add_member(conn: &Connection, id: i64, user: &str, now: f64) -> Result<bool> {
    let n = conn.execute(
        "INSERT OR IGNORE INTO private_channel_members(channel_id, username, joined_ts, history_start_ts)
         VALUES (?1, ?2, ?3, ?3)",
        params![id, user, now],
    )?;
    Ok(n > 0)
}

pub fn remove_member(conn: &Connection, id: i64, user: &str) -> Result<bool> {
    let n = conn.execute(
        "DELETE FROM private_channel_members WHERE channel_id = ?1 AND username = ?2",
        params![id, user],
    )?;
    Ok(n > 0)
}

/// (msg_ts, emoji, reactor) for messages of `channel` with ts in [from, to].
pub fn reactions_between(
    conn: &Connection,
    channel: &str,
    from: f64,
    to: f64,
) -> Result<Vec<(f64, String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT msg_ts, emoji, reactor FROM message_reactions
         WHERE channel = ?1 AND msg_ts BETWEEN ?2 AND ?3 ORDER BY rowid",
    )?;
    let rows = stmt.query_map(params![channel, from, to], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    rows.collect()
}

/// The reactions to several messages, by (channel, ts), in one query:
/// (channel, ts, emoji, reactor) in the order they were added.
pub fn reactions_of(
    conn: &Connection,
    keys: &[(String, f64)],
) -> Result<Vec<(String, f64, String, String)>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let (values, params) = super::message_keys(keys);
    let mut stmt = conn.prepare(&format!(
        "SELECT channel, msg_ts, emoji, reactor FROM message_reactions
         WHERE (channel, msg_ts) IN (VALUES {values}) ORDER BY rowid"
    ))?;
    let rows = stmt.query_map(params.as_slice(), |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })?;
    rows.collect()
}

/// Adds the reaction, or removes it if present; true when it was added.
pub fn toggle_reaction(
    conn: &Connection,
    channel: &str,
    ts: f64,
    emoji: &str,
    reactor: &str,
) -> Result<bool> {
    let removed = conn.execute(
        "DELETE FROM message_reactions WHERE channel = ?1 AND msg_ts = ?2 AND emoji = ?3 AND reactor = ?4",
        params![channel, ts, emoji, reactor],
    )?;
    if removed > 0 {
        return Ok(false);
    }
    conn.execute(
        "INSERT INTO message_reactions(channel, msg_ts, emoji, reactor) VALUES (?1, ?2, ?3, ?4)",
        params![channel, ts, emoji, reactor],
    )?;
    Ok(true)
}

pub fn add_receipts(
    conn: &Connection,
    channel: &str,
    timestamps: &[f64],
    reader: &str,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO read_receipts(channel, msg_ts, reader) VALUES (?1, ?2, ?3)",
    )?;
    for ts in timestamps {
        stmt.execute(params![channel, ts, reader])?;
    }
    Ok(())
}

/// (msg_ts, reader) of every receipt in `channel` for messages with a ts in `since..before`,
/// ordered by message.
pub fn receipts(
    conn: &Connection,
    channel: &str,
    since: f64,
    before: f64,
) -> Result<Vec<(f64, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT msg_ts, reader FROM read_receipts
         WHERE channel = ?1 AND msg_ts >= ?2 AND msg_ts < ?3 ORDER BY msg_ts, rowid",
    )?;
    let rows = stmt.query_map(params![channel, since, before], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    rows.collect()
}

pub fn set_typing(conn: &Connection, user: &str, channel: &str, now: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO typing(user, channel, ts) VALUES (?1, ?2, ?3)
         ON CONFLICT(user, channel) DO UPDATE SET ts = ?3",
    )?
    .execute(params![user, channel, now])?;
    Ok(())
}

pub fn journal_add(conn: &Connection, payload: &str) -> Result<i64> {
    conn.prepare_cached("INSERT INTO fanout_journal(payload) VALUES (?1)")?
        .execute([payload])?;
    Ok(conn.last_insert_rowid())
}

pub fn journal_remove(conn: &Connection, id: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM fanout_journal WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

pub fn journal_entries(conn: &Connection) -> Result<Vec<(i64, String)>> {
    let mut stmt = conn.prepare("SELECT id, payload FROM fanout_journal ORDER BY id")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

pub struct Upload {
    pub uploader: String,
    pub original: String,
    pub attached_ts: Option<f64>,
}

pub fn insert_upload(
    conn: &Connection,
    name: &str,
    uploader: &str,
    original: &str,
    size: u64,
    now: f64,
) -> Result<()> {
    conn.execute(
        "INSERT INTO uploads(name, uploader, original, size, created_ts) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![name, uploader, original, size as i64, now],
    )?;
    Ok(())
}

pub fn upload(conn: &Connection, name: &str) -> Result<Option<Upload>> {
    conn.prepare_cached("SELECT uploader, original, attached_ts FROM uploads WHERE name = ?1")?
        .query_row([name], |r| {
            Ok(Upload {
                uploader: r.get(0)?,
                original: r.get(1)?,
                attached_ts: r.get(2)?,
            })
        })
        .optional()
}

pub fn mark_attached(conn: &Connection, name: &str, now: f64) -> Result<()> {
    conn.prepare_cached("UPDATE uploads SET attached_ts = ?2 WHERE name = ?1")?
        .execute(params![name, now])?;
    Ok(())
}

/// Removes everything presence.db holds about a user (account deletion).
pub fn forget_user(conn: &Connection, user: &str) -> Result<()> {
    conn.execute("DELETE FROM presence WHERE user = ?1", [user])?;
    conn.execute("DELETE FROM typing WHERE user = ?1", [user])?;
    conn.execute("DELETE FROM read_receipts WHERE reader = ?1", [user])?;
    conn.execute("DELETE FROM message_reactions WHERE reactor = ?1", [user])?;
    conn.execute(
        "DELETE FROM private_channel_members WHERE username = ?1",
        [user],
    )?;
    conn.execute("DELETE FROM call_participants WHERE username = ?1", [user])?;
    Ok(())
}

/// The uploads of `user` (names), attached or not.
pub fn uploads_of(conn: &Connection, user: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM uploads WHERE uploader = ?1")?;
    let rows = stmt.query_map([user], |r| r.get(0))?;
    rows.collect()
}

pub fn delete_uploads_of(conn: &Connection, user: &str) -> Result<()> {
    conn.execute("DELETE FROM uploads WHERE uploader = ?1", [user])?;
    Ok(())
}
