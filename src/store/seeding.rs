//! A new account's history, copied on the writer in chunks, newest first, so the newcomer sees
//! recent history at once and nobody's message waits behind the copy. The plan is made when the
//! account is created (ids reserved, the channels' newest ts fixed: everything newer arrives
//! live); each chunk copies and indexes about 2 ms worth of rows in one transaction and queues
//! the next behind whatever is waiting. `presence.db.history_seeds` lists unfinished copies, which
//! resume at the next start after a crash, from the same source or, if it is gone, from the
//! start with another.

use super::Writer;
use crate::base::names::Username;
use crate::db;
use crate::store::core::Core;
use rusqlite::Connection;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// A member whose database holds the whole public history (none being copied), other than
/// `except`.
fn complete_source(
    core: &Core,
    presence: &Connection,
    users: &BTreeSet<String>,
    except: &str,
) -> rusqlite::Result<Option<(String, PathBuf)>> {
    let seeding: Vec<String> = db::presence::seeds(presence)?
        .into_iter()
        .map(|(user, _)| user)
        .collect();
    Ok(users.iter().find_map(|u| {
        if u == except || seeding.contains(u) {
            return None;
        }
        let name = Username::parse_existing(u).ok()?;
        let path = db::user::path(&core.data_dir, &name);
        path.exists().then(|| (u.clone(), path))
    }))
}

/// Plans the copy of the public history into `conn`, the new database of `user` (before the
/// account is committed). Returns whether there is anything to copy.
pub(super) fn plan_seed(
    core: &Core,
    presence: &Connection,
    users: &BTreeSet<String>,
    conn: &Connection,
    user: &str,
) -> anyhow::Result<bool> {
    let Some((source, path)) = complete_source(core, presence, users, user)? else {
        return Ok(false);
    };
    db::seed::attach(conn, &path)?;
    let planned = db::seed::plan(conn, &core.settings.channels);
    db::seed::detach(conn)?;
    if !planned? {
        return Ok(false);
    }
    db::presence::set_seed_source(presence, user, &source)?;
    Ok(true)
}

impl Writer<'_> {
    /// Resumes every copy a stop or a crash interrupted (at the writer's start).
    pub(super) fn resume_seeds(&mut self) {
        match db::presence::seeds(&self.presence) {
            Ok(seeds) => {
                for (user, _) in seeds {
                    self.seed_in_background(user);
                }
            }
            Err(e) => crate::log!("warning: cannot read the unfinished history copies: {e}"),
        }
    }

    /// Copies the first chunk of `user`'s history now and the rest in the background.
    pub(super) fn seed_in_background(&mut self, user: String) {
        if self.seeding.insert(user.clone()) {
            self.seed_chunk(user, super::background::FIRST_CHUNK);
        }
    }

    fn seed_chunk(&mut self, user: String, rows: u64) {
        let start = std::time::Instant::now();
        match self.copy_one_chunk(&user, rows) {
            Ok(true) => {
                let next = user.clone();
                let rows = super::background::next_chunk(rows, start.elapsed());
                let written = Username::parse_existing(&user)
                    .ok()
                    .map(|n| db::user::path(&self.core.data_dir, &n));
                if self
                    .queue_chunk(written.as_deref(), move |w: &mut Writer| {
                        w.seed_chunk(next, rows)
                    })
                    .is_err()
                {
                    // Shutting down: the next start resumes from the last chunk committed.
                    self.seeding.remove(&user);
                }
            }
            Ok(false) => {
                self.seeding.remove(&user);
            }
            Err(e) => {
                crate::log!(
                    "warning: copying the channels' history into users/{user}.db stopped: {e:#}; \
                     it resumes at the next start"
                );
                self.seeding.remove(&user);
            }
        }
    }

    /// One chunk; false when the copy is finished (or has nothing left to do).
    fn copy_one_chunk(&mut self, user: &str, rows: u64) -> anyhow::Result<bool> {
        let source = db::presence::seeds(&self.presence)?
            .into_iter()
            .find(|(u, _)| u == user)
            .map(|(_, s)| s);
        let Some(mut source) = source else {
            return Ok(false);
        };
        self.refresh_users()?;
        if !self.users.contains(user) {
            db::presence::seed_done(&self.presence, user)?;
            return Ok(false);
        }
        let source_path = |s: &str| {
            Username::parse_existing(s)
                .ok()
                .map(|n| db::user::path(&self.core.data_dir, &n))
                .filter(|p| p.exists())
        };
        let mut path = source_path(&source).filter(|_| self.users.contains(&source));
        if path.is_none() {
            // The source account went away: start over from another whole copy.
            let found = complete_source(self.core, &self.presence, &self.users, user)?;
            let Some((other, other_path)) = found else {
                crate::log!(
                    "warning: no member's database is left to copy users/{user}.db's history from"
                );
                db::presence::seed_done(&self.presence, user)?;
                return Ok(false);
            };
            if let Some(conn) = self.database(user)? {
                db::seed::restart(conn)?;
            }
            db::presence::set_seed_source(&self.presence, user, &other)?;
            source = other;
            path = Some(other_path);
        }
        let (Some(path), Some(conn)) = (path, self.database(user)?) else {
            db::presence::seed_done(&self.presence, user)?;
            return Ok(false);
        };
        db::seed::attach(conn, &path)?;
        let left = db::seed::copy_chunk(conn, rows);
        db::seed::detach(conn)?;
        let left = left?;
        // The copy goes through the WAL like any write: folded back in the background (and
        // before the next chunk once it passes 16 MiB, see `queue_chunk`).
        let written = conn.path().map(std::path::PathBuf::from);
        self.core.checkpoints.mark(written.as_deref().into_iter());
        if !left {
            db::presence::seed_done(&self.presence, user)?;
            crate::log!("copied the channels' history into users/{user}.db (from {source}'s)");
        }
        Ok(left)
    }
}
