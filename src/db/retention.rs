//! The cleanup's SQL: counting and deleting what retention has expired, in every kind of
//! database. Deletions of messages, reactions and receipts go in chunks of `limit` rows so a
//! purge never holds a database for long. No HTTP types; callers choose the transaction.

use rusqlite::{params, Connection, OptionalExtension, Result};

/// Messages older than `cutoff` in a user's database.
pub fn count_old_messages(conn: &Connection, cutoff: f64) -> Result<usize> {
    conn.query_row(
        "SELECT COUNT(*) FROM messages WHERE ts < ?1",
        [cutoff],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as usize)
}

/// Deletes up to `limit` messages older than `cutoff` (their search entries follow by
/// trigger); returns how many went.
pub fn delete_old_messages(conn: &Connection, cutoff: f64, limit: usize) -> Result<usize> {
    conn.execute(
        "DELETE FROM messages WHERE rowid IN
           (SELECT rowid FROM messages WHERE ts < ?1 LIMIT ?2)",
        params![cutoff, limit as i64],
    )
}

/// Deletes up to `limit` reactions, receipts and pins each of messages older than `cutoff`
/// from presence.db; returns how many rows went.
pub fn delete_old_reactions_and_receipts(
    conn: &Connection,
    cutoff: f64,
    limit: usize,
) -> Result<usize> {
    let reactions = conn.execute(
        "DELETE FROM message_reactions WHERE rowid IN
           (SELECT rowid FROM message_reactions WHERE msg_ts < ?1 LIMIT ?2)",
        params![cutoff, limit as i64],
    )?;
    let receipts = conn.execute(
        "DELETE FROM read_receipts WHERE rowid IN
           (SELECT rowid FROM read_receipts WHERE msg_ts < ?1 LIMIT ?2)",
        params![cutoff, limit as i64],
    )?;
    let pins = conn.execute(
        "DELETE FROM pins WHERE rowid IN (SELECT rowid FROM pins WHERE msg_ts < ?1 LIMIT ?2)",
        params![cutoff, limit as i64],
    )?;
    Ok(reactions + receipts + pins)
}

/// Uploads never attached to a message and created before `before`.
pub fn unattached_uploads(conn: &Connection, before: f64) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT name FROM uploads WHERE attached_ts IS NULL AND created_ts < ?1")?;
    let rows = stmt.query_map([before], |r| r.get(0))?;
    rows.collect()
}

/// Forgets an upload if it is still unattached; true when it was.
pub fn delete_unattached_upload(conn: &Connection, name: &str) -> Result<bool> {
    conn.execute(
        "DELETE FROM uploads WHERE name = ?1 AND attached_ts IS NULL",
        [name],
    )
    .map(|n| n > 0)
}

/// Used or expired reset tokens, and sessions last seen before `session_cutoff`: counted, or
/// deleted when `delete`.
pub fn expired_tokens_and_sessions(
    conn: &Connection,
    now: f64,
    session_cutoff: f64,
    delete: bool,
) -> Result<(usize, usize)> {
    const TOKENS: &str = "FROM password_reset_tokens WHERE used = 1 OR expires_ts < ?1";
    const SESSIONS: &str = "FROM sessions WHERE last_seen_ts < ?1";
    if delete {
        let tokens = conn.execute(&format!("DELETE {TOKENS}"), [now])?;
        let sessions = conn.execute(&format!("DELETE {SESSIONS}"), [session_cutoff])?;
        return Ok((tokens, sessions));
    }
    let count = |sql: &str, at: f64| {
        conn.query_row(&format!("SELECT COUNT(*) {sql}"), [at], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n as usize)
    };
    Ok((count(TOKENS, now)?, count(SESSIONS, session_cutoff)?))
}

/// Bytes of a database in use: its pages less those on the free list (deleting rows frees
/// pages there; the file shrinks only with VACUUM).
pub fn used_bytes(conn: &Connection) -> Result<u64> {
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    let size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    Ok(((pages - free).max(0) * size) as u64)
}

/// How many message rows a database holds.
pub fn message_rows(conn: &Connection) -> Result<u64> {
    conn.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
}

/// The ts of the row after the `n` oldest (so `ts < it` selects about the `n` oldest).
pub fn ts_after_oldest(conn: &Connection, n: u64) -> Result<Option<f64>> {
    conn.query_row(
        "SELECT ts FROM messages ORDER BY ts LIMIT 1 OFFSET ?1",
        [n as i64],
        |r| r.get(0),
    )
    .optional()
}
