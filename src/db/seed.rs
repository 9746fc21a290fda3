//! Seeding a new account's database with the public channels' history, in chunks, newest
//! first, from another member's database (attached as `source`). SQL only; the writer decides
//! when each chunk runs (see store/seeding.rs).
//!
//! At creation the new database reserves the ids below `reserve` for the copies: the rows it
//! receives live get ids above it, the copies keep their ids from the source, so ids grow with
//! time in both parts, and the search index (a prefix by id, see `search::index_pending`) counts
//! everything below `reserve` as its own business: each chunk indexes the rows it copies.

use rusqlite::{params, Connection, OptionalExtension, Result};

/// Ids left between the source's newest row and the first row received live: far more than a
/// server will ever write, so a copy from another source after a restart still fits below.
const RESERVED_IDS: i64 = 1 << 32;

/// One row per public channel being seeded: copies are made of rows with a ts up to
/// `newest_ts` (everything newer arrives live) and below `before_ts` (what is copied already);
/// `done` once the oldest row is in. The rows go when every channel is done.
pub const MIGRATION: &str = "CREATE TABLE IF NOT EXISTS history_seed(
        channel TEXT PRIMARY KEY, newest_ts REAL NOT NULL, before_ts REAL NOT NULL,
        reserve INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0);";

pub fn attach(conn: &Connection, source: &std::path::Path) -> Result<()> {
    conn.execute("ATTACH DATABASE ?1 AS source", [source.to_string_lossy()])?;
    Ok(())
}

pub fn detach(conn: &Connection) -> Result<()> {
    conn.execute_batch("DETACH DATABASE source")
}

/// Plans the seed of a new (empty) database from the attached source: one row per public
/// channel with history, the ids reserved and the search index's mark set past them. Returns
/// whether there is anything to copy.
pub fn plan(conn: &Connection, channels: &[String]) -> Result<bool> {
    let source_max: i64 = conn.query_row(
        "SELECT COALESCE(MAX(id), 0) FROM source.messages",
        [],
        |r| r.get(0),
    )?;
    let reserve = source_max + RESERVED_IDS;
    let mut any = false;
    for channel in channels {
        let newest: Option<f64> = conn.query_row(
            "SELECT MAX(ts) FROM source.messages WHERE channel = ?1",
            [channel],
            |r| r.get(0),
        )?;
        if let Some(newest) = newest {
            conn.execute(
                "INSERT OR REPLACE INTO history_seed(channel, newest_ts, before_ts, reserve)
                 VALUES (?1, ?2, ?3, ?4)",
                params![channel, newest, f64::MAX, reserve],
            )?;
            any = true;
        }
    }
    if any {
        conn.execute(
            "INSERT OR REPLACE INTO sqlite_sequence(name, seq) VALUES ('messages', ?1)",
            [reserve],
        )?;
        conn.execute(
            "UPDATE fts_state SET indexed_upto = MAX(indexed_upto, ?1)",
            [reserve],
        )?;
    }
    Ok(any)
}

/// Copies the next chunk (about `limit` rows, never splitting one message's rows) of the first
/// unfinished channel from the attached source, newest first, and indexes it for search, in
/// one transaction. Returns whether anything is left to copy.
pub fn copy_chunk(conn: &Connection, limit: u64) -> Result<bool> {
    let Some((channel, newest, before, reserve)) = conn
        .query_row(
            "SELECT channel, newest_ts, before_ts, reserve FROM history_seed WHERE done = 0
             ORDER BY channel LIMIT 1",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, f64>(1)?,
                    r.get::<_, f64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            },
        )
        .optional()?
    else {
        conn.execute("DELETE FROM history_seed", [])?;
        return Ok(false);
    };
    // One upper bound (exclusive) for every query: with two, SQLite would walk the index from
    // the newest row down past everything copied so far, at every chunk.
    let upper = before.min(f64::from_bits(newest.to_bits() + 1));
    // The oldest ts of this chunk: every row from it up to `upper` is copied.
    let from: Option<f64> = conn
        .query_row(
            "SELECT ts FROM source.messages WHERE channel = ?1 AND ts < ?2
             ORDER BY ts DESC LIMIT 1 OFFSET ?3",
            params![channel, upper, limit.saturating_sub(1) as i64],
            |r| r.get(0),
        )
        .optional()?;
    let from_ts = from.unwrap_or(f64::MIN);
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let copied = (|| {
        conn.execute(
            "INSERT INTO main.messages(id, channel, sender, content, content_type, filename, ts,
                 edited, edited_ts, read, deleted, deleted_ts, reply_to_id, reactions,
                 reactions_ts, mentions, metadata, client_msg_id, expires_ts)
             SELECT id, channel, sender, content, content_type, filename, ts, edited, edited_ts,
                 1, deleted, deleted_ts, reply_to_id, reactions, reactions_ts, mentions,
                 metadata, client_msg_id, expires_ts
             FROM source.messages
             WHERE channel = ?1 AND ts < ?2 AND ts >= ?3 AND id <= ?4",
            params![channel, upper, from_ts, reserve],
        )?;
        // The index holds exactly the rows up to its mark: copies above it (an index being
        // rebuilt from the oldest row up) are left to its rounds. One bound on the id, as a
        // second one would lead SQLite to scan by id rather than by (channel, ts).
        let mark: i64 = conn.query_row("SELECT indexed_upto FROM fts_state", [], |r| r.get(0))?;
        conn.execute(
            "INSERT INTO messages_fts(rowid, content)
             SELECT id, content FROM main.messages
             WHERE channel = ?1 AND ts < ?2 AND ts >= ?3 AND id <= ?4
               AND content IS NOT NULL AND content != ''",
            params![channel, upper, from_ts, reserve.min(mark)],
        )?;
        super::search::merge_index(conn)?;
        if from.is_some() {
            conn.execute(
                "UPDATE history_seed SET before_ts = ?2 WHERE channel = ?1",
                params![channel, from_ts],
            )?;
        } else {
            conn.execute(
                "UPDATE history_seed SET done = 1 WHERE channel = ?1",
                [&channel],
            )?;
        }
        let left: bool = conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM history_seed WHERE done = 0)",
            [],
            |r| r.get(0),
        )?;
        if !left {
            conn.execute("DELETE FROM history_seed", [])?;
        }
        Ok(left)
    })();
    match copied {
        Ok(left) => conn.execute_batch("COMMIT").map(|()| left),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Starts an unfinished seed over (its source is gone): removes every copy made so far (their
/// index entries go by trigger; what arrived live stays) and rewinds every channel, so another
/// source can fill them. The ids of two sources' copies could collide; one source's cannot.
pub fn restart(conn: &Connection) -> Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let done = (|| {
        conn.execute(
            "DELETE FROM messages WHERE rowid IN (
                 SELECT m.id FROM messages m JOIN history_seed s ON m.channel = s.channel
                 WHERE m.id <= s.reserve)",
            [],
        )?;
        conn.execute(
            "UPDATE history_seed SET before_ts = ?1, done = 0",
            [f64::MAX],
        )?;
        Ok(())
    })();
    match done {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}
