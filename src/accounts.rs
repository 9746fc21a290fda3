//! Account lifecycle across databases: creating an account writes auth.db and a fresh
//! users/<name>.db so that a crash at any point leaves either no account or a whole one.

use crate::ctx::Ctx;
use crate::db;
use crate::names::Username;
use rusqlite::TransactionBehavior;
use std::path::Path;

pub enum Created {
    Yes,
    NameTaken,
}

/// Creates the account `username` with an already computed password hash.
///
/// Order: take the auth.db write lock, re-check the name, build the user's database, then
/// insert the account and commit. A crash before the commit leaves only an orphan database
/// file, which the next signup of that name replaces.
pub fn create(ctx: &Ctx, username: &Username, password_hash: &str) -> anyhow::Result<Created> {
    let mut auth = ctx.auth_db.get()?;
    let tx = auth.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if db::auth::find_user(&tx, username.as_str())?.is_some() {
        return Ok(Created::NameTaken);
    }
    let path = db::user::path(&ctx.data_dir, username);
    // Whatever is there belongs to no live account (a deleted one, or an interrupted signup):
    // a re-registered name starts with a fresh database.
    remove_database_files(&path)?;
    drop(db::open(&path, db::Kind::User)?);
    let committed =
        db::auth::insert_user(&tx, username.as_str(), password_hash).and_then(|()| tx.commit());
    if let Err(e) = committed {
        let _ = remove_database_files(&path);
        return Err(e.into());
    }
    Ok(Created::Yes)
}

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
