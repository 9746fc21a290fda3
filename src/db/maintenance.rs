//! Whole-database operations: the writer's transactions and connection tuning, background
//! checkpoints, integrity checks, and the consistent snapshots and copies a backup makes.
//! No HTTP types.

use super::{open_for_maintenance, Access};
use anyhow::Context;
use rusqlite::{Connection, Result};
use std::path::Path;
use std::time::Duration;

/// Runs `body` inside `BEGIN IMMEDIATE` … `COMMIT` with cached statements (the fan-out runs
/// this on every database of every batch). On any error, including a failed commit (a full
/// disk), the transaction is rolled back so the connection is left with none open.
pub fn in_write_transaction<T>(conn: &Connection, body: impl FnOnce() -> Result<T>) -> Result<T> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    let result = body().and_then(|value| {
        conn.prepare_cached("COMMIT")?.execute([])?;
        Ok(value)
    });
    if result.is_err() {
        rollback(conn);
    }
    result
}

/// Ends whatever transaction `conn` has open, if any (after a failure or a panic).
pub fn rollback(conn: &Connection) {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

/// Commits on `conn` never stop to checkpoint (and fsync); the checkpoint thread folds its
/// WAL back in the background.
pub fn disable_autocheckpoint(conn: &Connection) -> Result<()> {
    conn.execute_batch("PRAGMA wal_autocheckpoint = 0")
}

/// A number that changes when another connection commits to the database.
pub fn data_version(conn: &Connection) -> Result<i64> {
    conn.query_row("PRAGMA data_version", [], |r| r.get(0))
}

/// A passive checkpoint from a short-lived connection of its own: folds in what no reader
/// needs, never waits for readers or writers beyond a second.
pub fn checkpoint_passive(path: &Path) -> Result<()> {
    let conn = open_for_maintenance(path, Access::ReadWrite, Duration::from_secs(1))?;
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

/// A truncating checkpoint (the WAL folded in and emptied) when nobody is reading or writing
/// the database; otherwise nothing, after at most 100 ms. For idle databases.
pub fn checkpoint_truncate(path: &Path) -> Result<()> {
    let conn = open_for_maintenance(path, Access::ReadWrite, Duration::from_millis(100))?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
}

/// `PRAGMA integrity_check` over a read-only connection: `["ok"]`, or the problems found.
pub fn integrity_check(path: &Path) -> Result<Vec<String>> {
    let conn = open_for_maintenance(path, Access::ReadOnly, Duration::from_secs(10))?;
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.collect()
}

/// A read-only connection holding a read transaction: a snapshot of the database as of now,
/// which later writes do not change.
pub fn snapshot(path: &Path) -> anyhow::Result<Connection> {
    let conn = open_for_maintenance(path, Access::ReadOnly, Duration::from_secs(10))
        .with_context(|| format!("cannot open {}", path.display()))?;
    conn.execute_batch("BEGIN")?;
    // The snapshot starts at the first read.
    conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |_| Ok(()))?;
    Ok(conn)
}

/// Copies a snapshot into a new database file at `target`, in WAL mode like every database.
pub fn copy_snapshot(source: &Connection, target: &Path, name: &str) -> anyhow::Result<()> {
    let mut copy = open_for_maintenance(target, Access::Create, Duration::from_secs(10))
        .with_context(|| format!("cannot create {}", target.display()))?;
    {
        let backup = rusqlite::backup::Backup::new(source, &mut copy)?;
        // All pages in one step, from the snapshot this connection holds.
        loop {
            match backup
                .step(-1)
                .with_context(|| format!("cannot copy {name}"))?
            {
                rusqlite::backup::StepResult::Done => break,
                rusqlite::backup::StepResult::More => {}
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
    copy.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    Ok(())
}
