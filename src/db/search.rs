//! The search index of a user database (`messages_fts`, FTS5 over `messages.content`): rounds
//! of indexing, bounded merging, the terms a word begins, and the search itself. SQL only;
//! callers choose the transaction. The index's tables and triggers are created by the user
//! database's migrations (db/user.rs).

use rusqlite::{params, Connection, Result};

/// Waiting rows a search indexes itself before answering (a few milliseconds at most); past
/// that, its answer says how many rows it could not look at.
pub const INLINE_INDEX_ROWS: u64 = 2_000;

/// FTS5 pages of merge work after each write to the search index: enough to keep its levels
/// from piling up (then FTS5 would merge a whole level in one go), little enough to take about
/// a millisecond.
const MERGE_PAGES: i64 = 16;

/// A bounded step of merging the search index's segments (see migration 9); call it after
/// writing to the index, in the same transaction.
pub fn merge_index(conn: &Connection) -> Result<()> {
    conn.prepare_cached("INSERT INTO messages_fts(messages_fts, rank) VALUES ('merge', ?1)")?
        .execute([MERGE_PAGES])?;
    Ok(())
}

/// Rows waiting to be indexed: the index holds exactly the rows with an id up to
/// `fts_state.indexed_upto` (every writer keeps to that), and rows above it wait for a round.
pub fn unindexed(conn: &Connection) -> Result<u64> {
    conn.prepare_cached(
        "SELECT COUNT(*) FROM messages WHERE id > (SELECT indexed_upto FROM fts_state)",
    )?
    .query_row([], |r| r.get::<_, i64>(0))
    .map(|n| n as u64)
}

/// Whether any row waits to be indexed (without counting them, which reads every one).
pub fn behind(conn: &Connection) -> Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS(SELECT 1 FROM messages WHERE id > (SELECT indexed_upto FROM fts_state))",
    )?
    .query_row([], |r| r.get(0))
}

/// Indexes up to `limit` waiting rows, oldest first; returns whether any are still waiting.
/// Takes the write lock, so no row can slip in between indexing and moving the mark.
pub fn index_pending(conn: &Connection, limit: u64) -> Result<bool> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let left = (|| {
        let upto: i64 = conn
            .prepare_cached("SELECT indexed_upto FROM fts_state")?
            .query_row([], |r| r.get(0))?;
        let last: Option<i64> = conn
            .prepare_cached(
                "SELECT MAX(id) FROM (SELECT id FROM messages WHERE id > ?1 ORDER BY id LIMIT ?2)",
            )?
            .query_row(params![upto, limit as i64], |r| r.get(0))?;
        let Some(last) = last else {
            return Ok(false);
        };
        conn.prepare_cached(
            "INSERT INTO messages_fts(rowid, content)
             SELECT id, content FROM messages
             WHERE id > ?1 AND id <= ?2 AND content IS NOT NULL AND content != ''",
        )?
        .execute(params![upto, last])?;
        conn.prepare_cached("UPDATE fts_state SET indexed_upto = ?1")?
            .execute([last])?;
        merge_index(conn)?;
        behind(conn)
    })();
    match left {
        Ok(left) => conn.execute_batch("COMMIT").map(|()| left),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// A search: FTS5 `query`, channels readable besides DMs, optional channel and sender filters.
pub struct Search<'a> {
    pub query: &'a str,
    pub readable: &'a [String],
    pub channel: Option<&'a str>,
    pub sender: Option<&'a str>,
    pub limit: u32,
}

/// (channel, ts) of matching live messages, newest first.
pub fn search(conn: &Connection, s: &Search) -> Result<Vec<(String, f64)>> {
    let readable = crate::base::json::Json::Arr(
        s.readable
            .iter()
            .map(|c| crate::base::json::Json::str(c.as_str()))
            .collect(),
    )
    .to_json_string();
    let mut stmt = conn.prepare_cached(
        "SELECT m.channel, m.ts FROM messages_fts f JOIN messages m ON m.id = f.rowid
         WHERE messages_fts MATCH ?1 AND m.deleted = 0 AND m.filename IS NULL
           AND (m.channel IN (SELECT value FROM json_each(?2))
                OR (m.channel >= 'dm:' AND m.channel < 'dm;'))
           AND (?3 IS NULL OR m.channel = ?3)
           AND (?4 IS NULL OR m.sender = ?4 COLLATE NOCASE)
         ORDER BY f.rowid DESC LIMIT ?5",
    )?;
    let rows = stmt.query_map(
        params![s.query, readable, s.channel, s.sender, s.limit],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    // Newest first straight from the index (ids grow with time), never a sort of every match;
    // only the page found is put in exact ts order.
    let mut found: Vec<(String, f64)> = rows.collect::<Result<_>>()?;
    found.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(found)
}

/// Up to `limit` terms of the search index that begin with `word` and are longer, in order
/// (`word` folded as the tokenizer folds text). Seeks past `word`'s own entries, which can be
/// half the index, without reading them.
pub fn terms_extending(conn: &Connection, word: &str, limit: usize) -> Result<Vec<String>> {
    conn.execute_batch(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.messages_fts_terms
             USING fts5vocab(main, messages_fts, 'row');",
    )?;
    let mut stmt = conn.prepare_cached(
        "SELECT term FROM temp.messages_fts_terms
         WHERE term >= ?1 || char(1) AND term <= ?1 || char(1114111) LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![word, limit as i64], |r| r.get(0))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::user::testing::{add, database};
    use crate::db::user::{insert_row, NewRow};

    fn matches(conn: &Connection, word: &str) -> i64 {
        conn.query_row(
            "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH ?1",
            [word],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn the_terms_a_word_begins_are_listed_without_the_word_itself() {
        let conn = database();
        for (ts, text) in [
            (1.0, "Meeting at noon"),
            (2.0, "meetings galore"),
            (3.0, "meetingroom, Meet"),
        ] {
            let row = NewRow {
                channel: "general",
                sender: "bob",
                content: text,
                content_type: "text",
                filename: None,
                ts,
                read: true,
                reply_to_id: None,
                mentions: None,
                metadata: None,
            };
            insert_row(&conn, &row, false).unwrap();
        }
        assert!(!index_pending(&conn, 100).unwrap());
        assert_eq!(
            terms_extending(&conn, "meeting", 10).unwrap(),
            ["meetingroom", "meetings"]
        );
        assert_eq!(
            terms_extending(&conn, "meet", 2).unwrap(),
            ["meeting", "meetingroom"]
        );
        assert!(terms_extending(&conn, "noon", 10).unwrap().is_empty());
    }

    #[test]
    fn new_rows_wait_for_a_round_of_indexing_oldest_first_in_chunks() {
        let conn = database();
        for ts in 1..=5 {
            add(&conn, "bob", ts as f64, None, true);
        }
        add(&conn, "bob", 6.0, None, true);
        add(&conn, "bob", 7.0, Some("a.txt"), true);
        assert_eq!(unindexed(&conn).unwrap(), 7);
        assert_eq!(matches(&conn, "hi"), 0);
        // A round indexes the oldest first (the index stays a prefix by id), in chunks.
        assert!(index_pending(&conn, 4).unwrap(), "3 rows left");
        assert_eq!(unindexed(&conn).unwrap(), 3);
        assert_eq!(matches(&conn, "hi"), 4);
        assert!(!index_pending(&conn, 4).unwrap());
        assert_eq!(matches(&conn, "hi"), 7);
        add(&conn, "bob", 8.0, Some("b.txt"), true);
        add(&conn, "bob", 9.0, None, true);
        assert_eq!(unindexed(&conn).unwrap(), 2);
        assert!(!index_pending(&conn, 4).unwrap());
        assert!(!behind(&conn).unwrap());
        assert_eq!(matches(&conn, "hi"), 9);
        // A row without text (a file of a message with none) is never in the index: clearing,
        // editing and deleting it leaves the index whole.
        insert_row(
            &conn,
            &NewRow {
                channel: "general",
                sender: "bob",
                content: "",
                content_type: "text",
                filename: Some("c.txt"),
                ts: 10.0,
                read: true,
                reply_to_id: None,
                mentions: None,
                metadata: None,
            },
            false,
        )
        .unwrap();
        conn.execute_batch(
            "UPDATE messages SET content = '' WHERE ts = 10.0;
             UPDATE messages SET content = 'now with words' WHERE ts = 10.0;
             UPDATE messages SET content = '' WHERE ts >= 9.0;
             DELETE FROM messages WHERE ts >= 8.0;
             INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check');",
        )
        .unwrap();
        assert_eq!(matches(&conn, "hi"), 7);
        assert_eq!(matches(&conn, "words"), 0);
    }
}
