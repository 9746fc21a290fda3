//! Accounts on the writer, in step with fan-out: creation (the user's database created and its
//! copy of the public channels' history planned inside the auth.db transaction that inserts the
//! account; the copy itself runs in chunks, see seeding.rs) and deletion (soft or hard, in
//! idempotent steps).

use super::Writer;
use crate::base::names::Username;
use crate::db::{self, Kind};
use crate::model::Refusal;
use rusqlite::TransactionBehavior;
use std::path::Path;

/// Removes a database and its WAL and shared-memory files, if present.
pub fn remove_database_files(path: &Path) -> std::io::Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::remove_file(&name) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// How an account is deleted: soft keeps its messages under "Deleted User", hard removes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteMode {
    /// Messages stay, re-attributed to `Deleted User`.
    Soft,
    /// Every message the user sent is removed, and their own database.
    Hard,
}

/// What a deletion touched, for the CLI's report.
#[derive(Debug, Default)]
pub struct DeleteReport {
    pub databases: usize,
    pub messages: usize,
    pub files: usize,
}

/// Deletes `username`'s account everywhere. Runs on the writer thread (in order with
/// fan-out). Every step is idempotent and the account row goes last, so rerunning after a
/// crash half-way finishes the job.
pub fn delete_account(
    w: &mut crate::store::Writer,
    username: &crate::base::names::Username,
    mode: DeleteMode,
) -> anyhow::Result<DeleteReport> {
    use crate::db;
    let core = w.core;
    let name = username.as_str();
    let mut report = DeleteReport::default();

    // 1. Nobody can log in as them any more, and every session ends now.
    db::auth::set_password_hash(&w.auth, name, "!deleted")?;
    db::auth::delete_sessions_of(&w.auth, name, None)?;
    core.hub.revoke(name, None);

    // 2. Their messages in every database (theirs last, for a hard delete: its files list).
    let own_path = db::user::path(&core.data_dir, username);
    let mut files = Vec::new();
    if mode == DeleteMode::Hard {
        if let Some(conn) = w.database(name)? {
            files = db::user::files_sent_by(conn, name)?;
        }
    }
    let mut users: Vec<String> = std::fs::read_dir(core.data_dir.join("users"))?
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".db")
                .map(str::to_owned)
        })
        .collect();
    users.sort();
    for user in &users {
        if mode == DeleteMode::Hard && user == name {
            continue;
        }
        let Some(conn) = w.database(user)? else {
            continue;
        };
        report.messages += match mode {
            DeleteMode::Soft => db::user::reattribute_sender(conn, name)?,
            DeleteMode::Hard => db::user::delete_sent_by(conn, name)?,
        };
        report.databases += 1;
    }

    // 3. Presence, receipts, reactions, memberships, calls; uploads for a hard delete.
    db::presence::forget_user(&w.presence, name)?;
    if mode == DeleteMode::Hard {
        w.unpin_all_of(name)?;
        files.extend(db::presence::uploads_of(&w.presence, name)?);
        files.sort();
        files.dedup();
        for file in &files {
            if crate::files::uploads::is_stored_name(file)
                && std::fs::remove_file(core.data_dir.join("uploads").join(file)).is_ok()
            {
                report.files += 1;
            }
        }
        db::presence::delete_uploads_of(&w.presence, name)?;
    }

    // 4. The avatar, their own database (hard), and finally the account rows.
    let avatar = db::auth::profile(&w.auth, name)?.avatar_file;
    crate::files::avatars::remove(&core.data_dir, avatar.as_deref());
    if mode == DeleteMode::Hard {
        w.forget_database(name);
        core.user_dbs.forget(name);
        remove_database_files(&own_path)?;
    }
    db::auth::delete_account_rows(&w.auth, name)?;
    w.forget_user(name);
    Ok(report)
}

impl Writer<'_> {
    /// Creates an account and its database, seeded with the public channels' history, in step
    /// with fan-out so no message sent meanwhile is missed. Returns false if the name is taken.
    pub fn create_account(
        &mut self,
        username: &Username,
        password_hash: &str,
    ) -> Result<bool, Refusal> {
        self.refresh_users()?;
        let tx = self
            .auth
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if db::auth::find_user(&tx, username.as_str())?.is_some() {
            return Ok(false);
        }
        let path = db::user::path(&self.core.data_dir, username);
        // Whatever is there belongs to no live account (a deleted one, or an interrupted
        // signup): a re-registered name starts with a fresh database.
        self.databases.remove(username.as_str());
        self.core.user_dbs.forget(username.as_str());
        crate::store::accounts::remove_database_files(&path).map_err(anyhow::Error::from)?;
        let conn = db::open(&path, Kind::User)?;
        // The history is copied after the account exists, in chunks (store/seeding.rs).
        let seed = super::seeding::plan_seed(
            self.core,
            &self.presence,
            &self.users,
            &conn,
            username.as_str(),
        )?;
        drop(conn);
        let committed =
            db::auth::insert_user(&tx, username.as_str(), password_hash).and_then(|()| tx.commit());
        if let Err(e) = committed {
            let _ = crate::store::accounts::remove_database_files(&path);
            let _ = db::presence::seed_done(&self.presence, username.as_str());
            return Err(e.into());
        }
        self.users.insert(username.as_str().to_owned());
        self.auth_version = db::maintenance::data_version(&self.auth)?;
        if seed {
            self.seed_in_background(username.as_str().to_owned());
        }
        Ok(true)
    }
}
