//! users/<name>.db: one user's copy of every message they can see.
//! SQL only; callers choose the transaction.

use rusqlite::{params, Connection, OptionalExtension, Result, Row};
use std::collections::{HashMap, HashSet};

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
         WHERE filename IS NOT NULL;
     CREATE INDEX IF NOT EXISTS messages_unread ON messages(channel)
         WHERE read = 0 AND deleted = 0;",
    // 2: full-text search over message text. Rows are indexed by the writer in the
    // background (`search::index_pending`), not on the fan-out's hot path, oldest first: an
    // upgraded database's existing rows too (this step once indexed them all at once, in front
    // of everything); rows already indexed (id up to `fts_state.indexed_upto`) are kept in
    // sync by triggers, so edits, deletes, cleanup and the manual's sqlite3 commands keep the
    // index right.
    "CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(
         content, content='messages', content_rowid='id',
         tokenize='unicode61 remove_diacritics 2');
     CREATE TABLE IF NOT EXISTS fts_state(id INTEGER PRIMARY KEY CHECK (id = 1),
                                          indexed_upto INTEGER NOT NULL);
     INSERT OR IGNORE INTO fts_state VALUES (1, 0);
     CREATE TRIGGER IF NOT EXISTS messages_fts_delete AFTER DELETE ON messages
         WHEN old.id <= (SELECT indexed_upto FROM fts_state) BEGIN
         INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
     END;
     CREATE TRIGGER IF NOT EXISTS messages_fts_update AFTER UPDATE OF content ON messages
         WHEN old.id <= (SELECT indexed_upto FROM fts_state) BEGIN
         INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
         INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
     END;",
    // 3: the messages that mention someone, newest first, for the list of one's mentions.
    "CREATE INDEX IF NOT EXISTS messages_mentioning ON messages(ts) WHERE mentions IS NOT NULL;",
    // 4: the owner's notification choices: a level per conversation (none stored = 'all') and
    // do-not-disturb.
    "CREATE TABLE IF NOT EXISTS notification_levels(
         channel TEXT PRIMARY KEY,
         level TEXT NOT NULL CHECK (level IN ('mentions', 'muted')));
     CREATE TABLE IF NOT EXISTS preferences(key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // 5: the search index follows new rows as they are written: a row is indexed on insert
    // when no older row waits to be indexed (rows from before this version are caught up in
    // bounded chunks, oldest first, by `index_pending`), so the index stays a prefix by id.
    "CREATE TRIGGER IF NOT EXISTS messages_fts_insert AFTER INSERT ON messages
         WHEN new.id > (SELECT indexed_upto FROM fts_state)
          AND NOT EXISTS (SELECT 1 FROM messages
                          WHERE id > (SELECT indexed_upto FROM fts_state) AND id < new.id) BEGIN
         INSERT INTO messages_fts(rowid, content)
             SELECT new.id, new.content WHERE new.content IS NOT NULL AND new.content != '';
         UPDATE fts_state SET indexed_upto = new.id;
     END;",
    // 6: a new account's history, copied in chunks (see db/seed.rs).
    super::seed::MIGRATION,
    // 7: rows without text are never in the index (every inserter skips them), so changing or
    // deleting one must not ask the index to forget it: FTS5 calls that corruption.
    "DROP TRIGGER IF EXISTS messages_fts_delete;
     DROP TRIGGER IF EXISTS messages_fts_update;
     CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
         WHEN old.id <= (SELECT indexed_upto FROM fts_state) BEGIN
         INSERT INTO messages_fts(messages_fts, rowid, content)
             SELECT 'delete', old.id, old.content WHERE old.content IS NOT NULL AND old.content != '';
     END;
     CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages
         WHEN old.id <= (SELECT indexed_upto FROM fts_state) BEGIN
         INSERT INTO messages_fts(messages_fts, rowid, content)
             SELECT 'delete', old.id, old.content WHERE old.content IS NOT NULL AND old.content != '';
         INSERT INTO messages_fts(rowid, content)
             SELECT new.id, new.content WHERE new.content IS NOT NULL AND new.content != '';
     END;",
    // 8: new rows are indexed in rounds by the writer (store/background.rs), not one at a time
    // as they are inserted: an FTS5 transaction per message halved the fan-out's throughput.
    "DROP TRIGGER IF EXISTS messages_fts_insert;",
    // 9: a smaller index that merges in bounded steps. `columnsize=0` drops the per-row token
    // counts (10 bytes a row), which only ranking uses, and search orders by time. FTS5's own
    // merging (`automerge`) ran inside whichever commit filled a level, for tens of
    // milliseconds on a large index, in front of a message; every write to the index is now
    // followed by a bounded `search::merge_index` instead, which merges 16 segments at a time
    // (FTS5's default is 4): each row is rewritten half as often as the index grows, so the
    // writer spends half the time merging (a history copy of 1 M rows, 2.1 → 1.0 s of index
    // work). `crisismerge` 64 keeps FTS5 from merging a level inside a commit before then.
    // The old index is dropped and rebuilt in the background, oldest first (searches
    // meanwhile say how much they could not look at).
    "DROP TABLE IF EXISTS messages_fts;
     CREATE VIRTUAL TABLE messages_fts USING fts5(
         content, content='messages', content_rowid='id',
         tokenize='unicode61 remove_diacritics 2', columnsize=0);
     INSERT INTO messages_fts(messages_fts, rank) VALUES ('automerge', 0);
     INSERT INTO messages_fts(messages_fts, rank) VALUES ('usermerge', 16);
     INSERT INTO messages_fts(messages_fts, rank) VALUES ('crisismerge', 64);
     UPDATE fts_state SET indexed_upto = 0;",
];

/// `users/<name>.db` for a validated name (never raw request text).
pub fn path(data_dir: &std::path::Path, user: &crate::base::names::Username) -> std::path::PathBuf {
    data_dir.join("users").join(format!("{}.db", user.as_str()))
}

/// One stored row: a message's text, or one of its files.
#[derive(Debug, Clone)]
pub struct StoredRow {
    pub channel: String,
    pub sender: String,
    pub content: Option<String>,
    pub content_type: Option<String>,
    pub filename: Option<String>,
    pub ts: f64,
    pub edited_ts: Option<f64>,
    pub deleted: bool,
    pub reply_to_id: Option<i64>,
    pub metadata: Option<String>,
    pub mentions: Option<String>,
}

const COLUMNS: &str = "channel, sender, content, content_type, filename, ts, edited_ts, deleted, \
                       reply_to_id, metadata, mentions";

fn stored_row(row: &Row) -> Result<StoredRow> {
    Ok(StoredRow {
        channel: row.get(0)?,
        sender: row.get(1)?,
        content: row.get(2)?,
        content_type: row.get(3)?,
        filename: row.get(4)?,
        ts: row.get(5)?,
        edited_ts: row.get(6)?,
        deleted: row.get::<_, Option<i64>>(7)?.unwrap_or(0) != 0,
        reply_to_id: row.get(8)?,
        metadata: row.get(9)?,
        mentions: row.get(10)?,
    })
}

/// A row to insert (one per text and per file of a message).
#[derive(Debug, Clone)]
pub struct NewRow<'a> {
    pub channel: &'a str,
    pub sender: &'a str,
    pub content: &'a str,
    pub content_type: &'a str,
    pub filename: Option<&'a str>,
    pub ts: f64,
    pub read: bool,
    pub reply_to_id: Option<i64>,
    pub mentions: Option<&'a str>,
    pub metadata: Option<&'a str>,
}

/// Inserts a row. When `replaying` an interrupted fan-out, only if this copy does not have it
/// yet (same channel, ts and file), so a replay is harmless. Returns whether a row was inserted.
pub fn insert_row(conn: &Connection, row: &NewRow, replaying: bool) -> Result<bool> {
    let mut stmt = conn.prepare_cached(if replaying {
        "INSERT INTO messages(channel, sender, content, content_type, filename, ts, read,
                              reply_to_id, mentions, metadata)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10
         WHERE NOT EXISTS (SELECT 1 FROM messages WHERE channel = ?1 AND ts = ?6
                           AND filename IS ?5)"
    } else {
        // The hot path: a plain insert needs neither the lookup nor a statement journal.
        "INSERT INTO messages(channel, sender, content, content_type, filename, ts, read,
                              reply_to_id, mentions, metadata)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    })?;
    let n = stmt.execute(params![
        row.channel,
        row.sender,
        row.content,
        row.content_type,
        row.filename,
        row.ts,
        row.read,
        row.reply_to_id,
        row.mentions,
        row.metadata
    ])?;
    Ok(n > 0)
}

/// The `limit` newest messages before `before` (all rows of each), oldest first.
pub fn page(
    conn: &Connection,
    channel: &str,
    before: Option<f64>,
    limit: u32,
) -> Result<Vec<StoredRow>> {
    let Some(oldest) = page_start(conn, channel, before, limit)? else {
        return Ok(Vec::new());
    };
    let before = before.unwrap_or(f64::INFINITY);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM messages WHERE channel = ?1 AND ts >= ?2 AND ts < ?3
         ORDER BY ts, filename IS NOT NULL, id"
    ))?;
    let rows = stmt.query_map(params![channel, oldest, before], stored_row)?;
    rows.collect()
}

/// The ts of the oldest of the `limit` newest messages before `before` (the first message
/// `page` returns); `None` when there is none.
pub fn page_start(
    conn: &Connection,
    channel: &str,
    before: Option<f64>,
    limit: u32,
) -> Result<Option<f64>> {
    conn.prepare_cached(
        "SELECT MIN(ts) FROM (SELECT DISTINCT ts FROM messages WHERE channel = ?1 AND ts < ?2
                               ORDER BY ts DESC LIMIT ?3)",
    )?
    .query_row(
        params![channel, before.unwrap_or(f64::INFINITY), limit],
        |r| r.get(0),
    )
}

/// Every row created, edited, deleted or reacted to after `since`, oldest first.
pub fn changed_since(
    conn: &Connection,
    channel: &str,
    since: f64,
    limit: u32,
) -> Result<Vec<StoredRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM messages WHERE channel = ?1 AND ts IN (
             SELECT DISTINCT ts FROM messages WHERE channel = ?1
               AND (ts > ?2 OR edited_ts > ?2 OR deleted_ts > ?2 OR reactions_ts > ?2)
             ORDER BY ts LIMIT ?3)
         ORDER BY ts, filename IS NOT NULL, id"
    ))?;
    let rows = stmt.query_map(params![channel, since, limit], stored_row)?;
    rows.collect()
}

/// All rows of the message (channel, ts).
pub fn message_rows(conn: &Connection, channel: &str, ts: f64) -> Result<Vec<StoredRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM messages WHERE channel = ?1 AND ts = ?2
         ORDER BY filename IS NOT NULL, id"
    ))?;
    let rows = stmt.query_map(params![channel, ts], stored_row)?;
    rows.collect()
}

/// The rows of several messages, by (channel, ts), in one query; in no particular order.
pub fn rows_of_messages(conn: &Connection, keys: &[(String, f64)]) -> Result<Vec<StoredRow>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let (values, params) = super::message_keys(keys);
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM messages WHERE (channel, ts) IN (VALUES {values})
         ORDER BY channel, ts, filename IS NOT NULL, id"
    ))?;
    let rows = stmt.query_map(params.as_slice(), stored_row)?;
    rows.collect()
}

/// (channel, ts) of the row with this id.
pub fn locate(conn: &Connection, id: i64) -> Result<Option<(String, f64)>> {
    conn.prepare_cached("SELECT channel, ts FROM messages WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

/// The id of the message's first row (its text row, else its first file row).
pub fn first_row_id(conn: &Connection, channel: &str, ts: f64) -> Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT id FROM messages WHERE channel = ?1 AND ts = ?2
         ORDER BY filename IS NOT NULL, id LIMIT 1",
    )?
    .query_row(params![channel, ts], |r| r.get(0))
    .optional()
}

pub fn set_text(
    conn: &Connection,
    channel: &str,
    ts: f64,
    text: &str,
    edited_ts: f64,
    mentions: Option<&str>,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE messages SET content = ?3, edited = 1, edited_ts = ?4, mentions = ?5
         WHERE channel = ?1 AND ts = ?2 AND filename IS NULL AND deleted = 0",
    )?
    .execute(params![channel, ts, text, edited_ts, mentions])?;
    Ok(())
}

/// Soft-deletes every row of a message; the text is dropped, the rows stay.
pub fn mark_deleted(conn: &Connection, channel: &str, ts: f64, deleted_ts: f64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE messages SET deleted = 1, deleted_ts = ?3, content = '', mentions = NULL
         WHERE channel = ?1 AND ts = ?2 AND deleted = 0",
    )?
    .execute(params![channel, ts, deleted_ts])?;
    Ok(())
}

pub fn set_reactions(
    conn: &Connection,
    channel: &str,
    ts: f64,
    reactions: &str,
    reactions_ts: f64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE messages SET reactions = ?3, reactions_ts = ?4 WHERE channel = ?1 AND ts = ?2",
    )?
    .execute(params![channel, ts, reactions, reactions_ts])?;
    Ok(())
}

/// Marks the channel read; returns (ts, sender) of each message newly read that someone
/// else sent (for read receipts).
pub fn mark_read(
    conn: &Connection,
    channel: &str,
    reader: &str,
    up_to: Option<f64>,
) -> Result<Vec<(f64, String)>> {
    let mut stmt = conn.prepare_cached(
        "UPDATE messages SET read = 1 WHERE channel = ?1 AND read = 0 AND (?2 IS NULL OR ts <= ?2)
         RETURNING ts, sender, deleted",
    )?;
    let rows = stmt.query_map(params![channel, up_to], |r| {
        Ok((
            r.get::<_, f64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out: Vec<(f64, String)> = Vec::new();
    // A message with files has several rows sharing its ts; each message is reported once.
    let mut seen: HashSet<u64> = HashSet::new();
    for row in rows {
        let (ts, sender, deleted) = row?;
        if deleted == 0 && sender != reader && sender != "system" && seen.insert(ts.to_bits()) {
            out.push((ts, sender));
        }
    }
    Ok(out)
}

/// The conversations whose notification level is not the default `all`.
pub fn notification_levels(conn: &Connection) -> Result<HashMap<String, String>> {
    let mut stmt = conn.prepare_cached("SELECT channel, level FROM notification_levels")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Sets a conversation's notification level (`all`, `mentions` or `muted`).
pub fn set_notification_level(conn: &Connection, channel: &str, level: &str) -> Result<()> {
    if level == "all" {
        conn.execute(
            "DELETE FROM notification_levels WHERE channel = ?1",
            [channel],
        )?;
    } else {
        conn.execute(
            "INSERT INTO notification_levels(channel, level) VALUES (?1, ?2)
             ON CONFLICT(channel) DO UPDATE SET level = ?2",
            [channel, level],
        )?;
    }
    Ok(())
}

/// Whether do-not-disturb is on.
pub fn do_not_disturb(conn: &Connection) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT value FROM preferences WHERE key = 'dnd'")?
        .query_row([], |r| r.get::<_, String>(0))
        .optional()?
        .is_some_and(|v| v == "1"))
}

pub fn set_do_not_disturb(conn: &Connection, on: bool) -> Result<()> {
    conn.execute(
        "INSERT INTO preferences(key, value) VALUES ('dnd', ?1)
         ON CONFLICT(key) DO UPDATE SET value = ?1",
        [if on { "1" } else { "0" }],
    )?;
    Ok(())
}

/// Unread messages per channel in `owner`'s database (a message with files counts once;
/// deleted ones never count, nor the owner's own, which the Python original stored unread).
pub fn unread_counts(conn: &Connection, owner: &str) -> Result<HashMap<String, u64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT channel, COUNT(DISTINCT ts) FROM messages
         WHERE read = 0 AND deleted = 0 AND sender != ?1
         GROUP BY channel",
    )?;
    let rows = stmt.query_map([owner], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
    rows.collect()
}

/// The condition on a row of `messages` that it mentions ?1, by name or to everyone.
const MENTIONS_ME: &str = "mentions IS NOT NULL AND EXISTS (SELECT 1 FROM json_each(mentions)
     WHERE json_each.value IN (?1, '@everyone', '@channel', '@here'))";

/// Unread messages per channel that mention `owner` (by name or to everyone), not their own.
pub fn unread_mention_counts(conn: &Connection, owner: &str) -> Result<HashMap<String, u64>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT channel, COUNT(DISTINCT ts) FROM messages
         WHERE read = 0 AND deleted = 0 AND sender != ?1 AND filename IS NULL AND {MENTIONS_ME}
         GROUP BY channel"
    ))?;
    let rows = stmt.query_map([owner], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
    rows.collect()
}

/// The newest messages that mention `owner`, older than `before`, in the readable channels
/// (every DM here names its owner): (channel, ts, read), newest first.
pub fn mentions_of(
    conn: &Connection,
    owner: &str,
    readable: &[String],
    before: f64,
    limit: u32,
) -> Result<Vec<(String, f64, bool)>> {
    let readable = crate::base::json::Json::Arr(
        readable
            .iter()
            .map(|c| crate::base::json::Json::str(c.as_str()))
            .collect(),
    )
    .to_json_string();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT channel, ts, read FROM messages INDEXED BY messages_mentioning
         WHERE mentions IS NOT NULL AND ts < ?2 AND deleted = 0 AND sender != ?1
           AND filename IS NULL AND {MENTIONS_ME}
           AND (channel IN (SELECT value FROM json_each(?3))
                OR (channel >= 'dm:' AND channel < 'dm;'))
         ORDER BY ts DESC LIMIT ?4"
    ))?;
    let rows = stmt.query_map(params![owner, before, readable, limit], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get::<_, Option<i64>>(2)?.unwrap_or(0) != 0,
        ))
    })?;
    rows.collect()
}

/// Every DM channel in this database with its newest message ts.
pub fn dm_channels(conn: &Connection) -> Result<Vec<(String, f64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT channel, MAX(ts) FROM messages WHERE channel >= 'dm:' AND channel < 'dm;'
         GROUP BY channel ORDER BY MAX(ts) DESC",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

pub fn hidden_dms(conn: &Connection) -> Result<HashMap<String, f64>> {
    let mut stmt = conn.prepare_cached("SELECT channel, hidden_ts FROM dm_hidden")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Shows a hidden DM again (a new message arrived in it).
pub fn unhide_dm(conn: &Connection, channel: &str) -> Result<()> {
    conn.execute("DELETE FROM dm_hidden WHERE channel = ?1", [channel])?;
    Ok(())
}

pub fn hide_dm(conn: &Connection, channel: &str, hidden_ts: f64) -> Result<()> {
    conn.execute(
        "INSERT INTO dm_hidden(channel, hidden_ts) VALUES (?1, ?2)
         ON CONFLICT(channel) DO UPDATE SET hidden_ts = ?2",
        params![channel, hidden_ts],
    )?;
    Ok(())
}

/// Whether this database holds any message of `channel`.
pub fn has_channel(conn: &Connection, channel: &str) -> Result<bool> {
    conn.prepare_cached("SELECT 1 FROM messages WHERE channel = ?1 LIMIT 1")?
        .exists([channel])
}

pub fn max_ts(conn: &Connection, channel: &str) -> Result<Option<f64>> {
    conn.prepare_cached("SELECT MAX(ts) FROM messages WHERE channel = ?1")?
        .query_row([channel], |r| r.get(0))
}

/// The ts of every live message `sender` sent in `channel` with a ts in `since..before`.
pub fn sent_ts(
    conn: &Connection,
    channel: &str,
    sender: &str,
    since: f64,
    before: f64,
) -> Result<Vec<f64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT ts FROM messages WHERE channel = ?1 AND ts >= ?2 AND ts < ?3
           AND sender = ?4 AND deleted = 0",
    )?;
    let rows = stmt.query_map(params![channel, since, before, sender], |r| r.get(0))?;
    rows.collect()
}

/// The channels of live messages that carry the stored file `name`.
pub fn channels_with_file(conn: &Connection, name: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT channel FROM messages WHERE filename = ?1 AND deleted = 0",
    )?;
    let rows = stmt.query_map([name], |r| r.get(0))?;
    rows.collect()
}

/// Files attached to messages `sender` sent.
pub fn files_sent_by(conn: &Connection, sender: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT filename FROM messages WHERE sender = ?1 AND filename IS NOT NULL",
    )?;
    let rows = stmt.query_map([sender], |r| r.get(0))?;
    rows.collect()
}

/// Soft delete of an account: its messages are re-attributed to `Deleted User`.
pub fn reattribute_sender(conn: &Connection, sender: &str) -> Result<usize> {
    conn.execute(
        "UPDATE messages SET sender = 'Deleted User' WHERE sender = ?1",
        [sender],
    )
}

/// Hard delete of an account: its messages are removed.
pub fn delete_sent_by(conn: &Connection, sender: &str) -> Result<usize> {
    conn.execute("DELETE FROM messages WHERE sender = ?1", [sender])
}

/// An in-memory user database and rows in it, for this module's tests and db/search.rs's.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub fn database() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        for step in MIGRATIONS {
            conn.execute_batch(step).unwrap();
        }
        conn
    }

    /// A message "hi" in #general.
    pub fn add(conn: &Connection, sender: &str, ts: f64, filename: Option<&str>, read: bool) {
        let row = NewRow {
            channel: "general",
            sender,
            content: "hi",
            content_type: "text",
            filename,
            ts,
            read,
            reply_to_id: None,
            mentions: None,
            metadata: None,
        };
        insert_row(conn, &row, false).unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{add, database};
    use super::*;

    #[test]
    fn marking_read_reports_each_message_of_others_once() {
        let conn = database();
        add(&conn, "bob", 1.0, None, false);
        add(&conn, "bob", 1.0, Some("a.txt"), false);
        add(&conn, "bob", 1.0, Some("b.txt"), false);
        add(&conn, "alice", 2.0, None, false);
        add(&conn, "system", 3.0, None, false);
        add(&conn, "carol", 4.0, None, true);
        for i in 0..1_000 {
            add(&conn, "carol", 10.0 + f64::from(i), None, false);
        }
        let mut newly_read = mark_read(&conn, "general", "alice", None).unwrap();
        newly_read.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(newly_read.len(), 1_001);
        assert_eq!(newly_read[0], (1.0, "bob".to_owned()));
        assert_eq!(newly_read[1], (10.0, "carol".to_owned()));
        assert_eq!(mark_read(&conn, "general", "alice", None).unwrap(), []);
        assert_eq!(unread_counts(&conn, "alice").unwrap(), HashMap::new());
    }

    #[test]
    fn own_messages_are_never_unread() {
        let conn = database();
        add(&conn, "alice", 1.0, None, false);
        add(&conn, "bob", 2.0, None, false);
        add(&conn, "bob", 2.0, Some("a.txt"), false);
        let counts = unread_counts(&conn, "alice").unwrap();
        assert_eq!(counts.get("general"), Some(&1));
    }
}
