//! The ONLY place that opens SQLite databases. Every connection gets the same pragmas (WAL,
//! busy timeout) and is migrated to the schema this binary knows, keyed on `PRAGMA
//! user_version`; a database newer than the binary is refused untouched.
//!
//! Submodules hold the SQL for each kind of database as plain functions over `&Connection`,
//! so callers choose the transaction.

pub mod auth;
pub mod calls;
pub mod checkpoints;
pub mod maintenance;
pub mod presence;
pub mod retention;
pub mod search;
pub mod seed;
pub mod user;

use anyhow::{bail, Context};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Auth,
    Presence,
    User,
}

impl Kind {
    /// Append-only migration steps; step N takes `user_version` from N to N+1. A shipped step is
    /// never edited. Step 1 uses `IF NOT EXISTS` so that databases written by the original
    /// Python server (same tables, `user_version` 0) migrate in place.
    fn migrations(self) -> &'static [&'static str] {
        match self {
            Kind::Auth => auth::MIGRATIONS,
            Kind::Presence => presence::MIGRATIONS,
            Kind::User => user::MIGRATIONS,
        }
    }

    fn synchronous(self) -> &'static str {
        // Accounts and sessions are rare, precious writes: fsync each commit. Presence and
        // message databases use NORMAL, which in WAL mode can lose the last commits on power
        // loss but never corrupts the file.
        match self {
            Kind::Auth => "FULL",
            Kind::Presence | Kind::User => "NORMAL",
        }
    }
}

/// Bytes a WAL file is cut back to when it starts over.
pub const WAL_SIZE_LIMIT: u64 = 1 << 20;

/// Opens (creating if absent) and migrates a database.
pub fn open(path: &Path, kind: Kind) -> anyhow::Result<Connection> {
    let mut conn = open_unmigrated(path, kind, true)?;
    migrate(&mut conn, kind).with_context(|| format!("cannot migrate {}", path.display()))?;
    Ok(conn)
}

fn open_unmigrated(path: &Path, kind: Kind, create: bool) -> anyhow::Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags)
        .with_context(|| format!("cannot open {}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // WAL must be set outside a transaction; it persists in the file.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        bail!(
            "{} could not be switched to WAL mode (got {mode})",
            path.display()
        );
    }
    // A WAL that a finished checkpoint lets start over is cut back to this size, so a burst of
    // writes does not leave a large file behind (the checkpoint thread empties idle ones).
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {}; PRAGMA temp_store = MEMORY; PRAGMA foreign_keys = OFF;
         PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};",
        kind.synchronous()
    ))?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, kind: Kind) -> anyhow::Result<()> {
    let steps = kind.migrations();
    let known = steps.len() as i64;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version == known {
        return Ok(());
    }
    if version > known {
        bail!(
            "the database has schema version {version} but this minimost knows only up to \
             {known}; it was written by a newer release. Run that release (or newer) instead; \
             nothing was changed"
        );
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another process may have migrated while we waited for the write lock.
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    for (n, step) in steps.iter().enumerate().skip(version.max(0) as usize) {
        tx.execute_batch(step)
            .with_context(|| format!("migration step {} failed", n + 1))?;
    }
    tx.pragma_update(None, "user_version", known)?;
    tx.commit()?;
    Ok(())
}

/// A `VALUES (?, ?), …` list for (channel, ts) keys, and its parameters, for queries of the
/// form `WHERE (channel, ts) IN (VALUES …)`.
pub fn message_keys(keys: &[(String, f64)]) -> (String, Vec<&dyn rusqlite::ToSql>) {
    let values = vec!["(?, ?)"; keys.len()].join(", ");
    let params = keys
        .iter()
        .flat_map(|(channel, ts)| [channel as &dyn rusqlite::ToSql, ts as &dyn rusqlite::ToSql])
        .collect();
    (values, params)
}

/// Opens and migrates an existing database; `None` when the file does not exist (a user
/// database is only ever created at signup).
pub fn open_existing(path: &Path, kind: Kind) -> anyhow::Result<Option<Connection>> {
    if !path.exists() {
        return Ok(None);
    }
    let mut conn = open_unmigrated(path, kind, false)?;
    migrate(&mut conn, kind).with_context(|| format!("cannot migrate {}", path.display()))?;
    Ok(Some(conn))
}

/// How a maintenance connection opens its database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
    /// A new file (a backup's copy); every other mode refuses a missing file.
    Create,
}

/// The opener for maintenance (checkpoints, integrity checks, backup snapshots and copies): it
/// never migrates or changes a pragma, so it can look at any database, even one from a newer
/// release, and waits at most `patience` for a lock. Everything else uses `open`.
pub fn open_for_maintenance(
    path: &Path,
    access: Access,
    patience: Duration,
) -> rusqlite::Result<Connection> {
    let flags = match access {
        Access::ReadOnly => OpenFlags::SQLITE_OPEN_READ_ONLY,
        Access::ReadWrite => OpenFlags::SQLITE_OPEN_READ_WRITE,
        Access::Create => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
    };
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(patience)?;
    Ok(conn)
}

/// Checkpoints the WAL into the main file and truncates it, so a cold copy is complete.
pub fn checkpoint(path: &Path) -> anyhow::Result<()> {
    let conn = open_for_maintenance(path, Access::ReadWrite, Duration::from_secs(2))
        .with_context(|| format!("cannot open {}", path.display()))?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .with_context(|| format!("cannot checkpoint {}", path.display()))
}

/// The data dir's databases: auth.db and presence.db, the users' databases, and the queue of
/// users' databases waiting for a background checkpoint.
pub struct Databases {
    pub data_dir: PathBuf,
    pub auth_db: Pool,
    pub presence_db: Pool,
    /// Idle read connections to users' databases.
    pub user_dbs: UserDbs,
    /// Users' databases waiting for a background checkpoint.
    pub checkpoints: checkpoints::Checkpoints,
}

impl Databases {
    /// Opens (creating or migrating) auth.db and presence.db in `data_dir`.
    pub fn open(data_dir: PathBuf) -> anyhow::Result<Databases> {
        Ok(Databases {
            auth_db: Pool::open(data_dir.join("auth.db"), Kind::Auth)?,
            presence_db: Pool::open(data_dir.join("presence.db"), Kind::Presence)?,
            user_dbs: UserDbs::new(data_dir.join("users")),
            checkpoints: checkpoints::Checkpoints::new(vec![
                data_dir.join("auth.db"),
                data_dir.join("presence.db"),
            ]),
            data_dir,
        })
    }
}

/// A few open connections to one database, reused across requests. The mutex guards only the
/// list; queries run outside it, and SQLite's own locking orders the writers.
pub struct Pool {
    path: PathBuf,
    kind: Kind,
    idle: Mutex<Vec<Connection>>,
}

/// How many idle connections a pool keeps; more are opened on demand and closed after use.
const POOL_IDLE_MAX: usize = 8;

impl Pool {
    /// Opens and migrates the database once, so startup fails early on a bad file.
    pub fn open(path: PathBuf, kind: Kind) -> anyhow::Result<Pool> {
        let first = open(&path, kind)?;
        Ok(Pool {
            path,
            kind,
            idle: Mutex::new(vec![first]),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Borrows a connection; it returns to the pool when the guard drops.
    pub fn get(&self) -> anyhow::Result<PooledConnection<'_>> {
        let conn = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match conn {
            Some(conn) => conn,
            None => open(&self.path, self.kind)?,
        };
        Ok(PooledConnection {
            pool: self,
            conn: Some(conn),
        })
    }

    /// Closes every idle connection (at shutdown, before the final checkpoint).
    pub fn close_idle(&self) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

pub struct PooledConnection<'a> {
    pool: &'a Pool,
    conn: Option<Connection>,
}

impl std::ops::Deref for PooledConnection<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("a pooled connection is present until drop")
    }
}

impl std::ops::DerefMut for PooledConnection<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn
            .as_mut()
            .expect("a pooled connection is present until drop")
    }
}

impl Drop for PooledConnection<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        // A connection left inside a transaction (after a panic) is not reused.
        if !conn.is_autocommit() {
            return;
        }
        let mut idle = self.pool.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < POOL_IDLE_MAX {
            idle.push(conn);
        }
    }
}

/// Idle read connections to users' databases, shared by request threads. Least recently
/// returned connections are closed first, so memory stays bounded however many users there are.
///
/// It is also the read fence of fan-out: the writer holds a user's database from the moment a
/// change for them is announced until their copy is committed, and a reader of a held database
/// waits for that commit, so whoever heard of a message also finds it when they read.
pub struct UserDbs {
    users_dir: PathBuf,
    idle: Mutex<std::collections::VecDeque<(String, Connection)>>,
    held: Mutex<std::collections::HashSet<String>>,
    released: std::sync::Condvar,
}

/// Longest a reader waits for a held database (a writer that stalls this long has failed, and
/// the copy will be completed at the next start).
const HELD_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// Most idle user-database connections kept across all users.
const USER_DBS_IDLE_MAX: usize = 64;

impl UserDbs {
    pub fn new(users_dir: PathBuf) -> UserDbs {
        UserDbs {
            users_dir,
            idle: Mutex::new(std::collections::VecDeque::new()),
            held: Mutex::new(std::collections::HashSet::new()),
            released: std::sync::Condvar::new(),
        }
    }

    /// Marks `users`' databases as having a change announced but not yet committed.
    pub fn hold<'u>(&self, users: impl Iterator<Item = &'u str>) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.extend(users.map(str::to_owned));
    }

    /// Lets readers of `users`' databases go on: their copies are committed (or failed).
    pub fn release<'u>(&self, users: impl Iterator<Item = &'u str>) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        for user in users {
            held.remove(user);
        }
        drop(held);
        self.released.notify_all();
    }

    /// Lets every reader go on (after the writer failed on a job).
    pub fn release_all(&self) {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.released.notify_all();
    }

    /// Waits while the writer holds `user`'s database.
    fn wait_until_released(&self, user: &str) {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if !held.contains(user) {
            return;
        }
        let _ = self
            .released
            .wait_timeout_while(held, HELD_WAIT_MAX, |held| held.contains(user));
    }

    /// A connection to `users/<user>.db`, or `None` if that database does not exist.
    pub fn get(
        &self,
        user: &crate::base::names::Username,
    ) -> anyhow::Result<Option<UserConnection<'_>>> {
        let name = user.as_str();
        self.wait_until_released(name);
        let reused = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            idle.iter()
                .position(|(u, _)| u == name)
                .and_then(|i| idle.remove(i))
                .map(|(_, c)| c)
        };
        let conn = match reused {
            Some(conn) => conn,
            None => match open_existing(&self.users_dir.join(format!("{name}.db")), Kind::User)? {
                Some(conn) => conn,
                None => return Ok(None),
            },
        };
        Ok(Some(UserConnection {
            dbs: self,
            user: name.to_owned(),
            conn: Some(conn),
        }))
    }

    /// Forgets idle connections to one user's database (before it is removed).
    pub fn forget(&self, user: &str) {
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(u, _)| u != user);
    }

    pub fn close_idle(&self) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

pub struct UserConnection<'a> {
    dbs: &'a UserDbs,
    user: String,
    conn: Option<Connection>,
}

impl std::ops::Deref for UserConnection<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("a user connection is present until drop")
    }
}

impl Drop for UserConnection<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if !conn.is_autocommit() {
            return;
        }
        let mut idle = self.dbs.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.push_back((std::mem::take(&mut self.user), conn));
        if idle.len() > USER_DBS_IDLE_MAX {
            idle.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_newer_database_and_changes_nothing() {
        let dir = std::env::temp_dir().join(format!(
            "mm-db-{}",
            crate::base::util::hex(&crate::base::util::random_bytes::<6>())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("auth.db");
        drop(open(&path, Kind::Auth).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        drop(conn);
        let err = open(&path, Kind::Auth).unwrap_err();
        assert!(format!("{err:#}").contains("newer release"), "{err:#}");
        let conn = Connection::open(&path).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 999);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
