//! The checkpoint thread: folds the WAL of each database the writer wrote back into it, in the
//! background, so no commit on the hot path waits for an fsync. Sleeps until the writer writes.

use crate::base::stop::Stop;
use crate::db;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;

/// Databases the writer wrote to since the checkpoint thread last looked.
#[derive(Default)]
pub struct Checkpoints {
    dirty: Mutex<BTreeSet<PathBuf>>,
    /// Databases written outside the writer too (auth.db, presence.db): emptied at every quiet
    /// spell after writes.
    shared: Vec<PathBuf>,
    /// Databases whose background job (a history copy, an index catch-up) waits for their WAL
    /// to be folded back before it writes more.
    requested: Mutex<BTreeSet<PathBuf>>,
    /// Nudged when a first database is marked or a fold is requested; stopped at shutdown.
    wake: Stop,
}

/// A WAL larger than this is folded back into its database by the checkpoint thread.
const CHECKPOINT_WAL_BYTES: u64 = 1 << 20;
/// How long the checkpoint thread gathers writes before it looks at their WALs.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

impl Checkpoints {
    pub fn new(shared: Vec<PathBuf>) -> Checkpoints {
        Checkpoints {
            shared,
            ..Checkpoints::default()
        }
    }

    /// Marks databases as written (by their connections' file names; on the hot path, so
    /// only a database not marked yet costs an allocation).
    pub fn mark<'p>(&self, paths: impl Iterator<Item = &'p std::path::Path>) {
        let mut dirty = self.dirty.lock().unwrap_or_else(|e| e.into_inner());
        let was_empty = dirty.is_empty();
        for path in paths {
            if !dirty.contains(path) {
                dirty.insert(path.to_owned());
            }
        }
        if was_empty && !dirty.is_empty() {
            self.wake.nudge();
        }
    }

    /// Asks for `path`'s WAL to be folded back now rather than at the next round; `run`'s
    /// `folded` is called once it is (or could not be, so the waiting job never waits forever).
    pub fn request(&self, path: &std::path::Path) {
        let mut requested = self.requested.lock().unwrap_or_else(|e| e.into_inner());
        requested.insert(path.to_owned());
        drop(requested);
        self.wake.nudge();
    }

    /// Folds back the WALs asked for, then tells `folded`.
    fn serve_requests(&self, folded: &dyn Fn()) {
        let requested =
            std::mem::take(&mut *self.requested.lock().unwrap_or_else(|e| e.into_inner()));
        if requested.is_empty() {
            return;
        }
        for path in &requested {
            if let Err(e) = db::maintenance::checkpoint_passive(path) {
                crate::log!("warning: cannot checkpoint {}: {e}", path.display());
            }
        }
        folded();
    }

    fn has_requests(&self) -> bool {
        !self
            .requested
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    pub fn stop(&self) {
        self.wake.stop();
    }

    /// The checkpoint thread: sleeps until the writer writes, then every 2 s while it does,
    /// a passive checkpoint of each written database whose WAL passed 1 MiB (the writer's own
    /// connections never checkpoint, so their commits never wait for an fsync). Once a round
    /// passes `quiet` (30 s) without writes, every database written since is checkpointed with
    /// TRUNCATE, so idle WAL files are empty; then it sleeps until the next write. A requested
    /// fold is served at once, then `folded` is called.
    pub fn run(&self, quiet: std::time::Duration, folded: &dyn Fn()) {
        // Databases written since the last quiet moment: emptied when the writes stop.
        let mut written: BTreeSet<PathBuf> = BTreeSet::new();
        loop {
            let ticket = self.wake.ticket();
            self.serve_requests(folded);
            if self.take_dirty().is_empty() {
                if !written.is_empty() {
                    // Written lately: wait for more writes, or for a quiet spell, after which
                    // every WAL written since is folded in and emptied.
                    let deadline = std::time::Instant::now() + quiet;
                    if self.wake.wait_until(ticket, deadline) {
                        return;
                    }
                    if std::time::Instant::now() >= deadline && self.take_dirty().is_empty() {
                        for path in std::mem::take(&mut written).iter().chain(&self.shared) {
                            truncate_wal(path);
                        }
                    }
                    continue;
                }
                if self.wake.wait(ticket) {
                    return;
                }
                continue;
            }
            // Gather a few seconds of writes, so a busy database is looked at once; a requested
            // fold is served meanwhile.
            let deadline = std::time::Instant::now() + CHECKPOINT_EVERY;
            while std::time::Instant::now() < deadline {
                let ticket = self.wake.ticket();
                if self.has_requests() {
                    self.serve_requests(folded);
                    continue;
                }
                if self.wake.wait_until(ticket, deadline) {
                    return;
                }
            }
            let dirty = std::mem::take(&mut *self.take_dirty());
            written.extend(dirty.iter().cloned());
            for path in dirty {
                if wal_bytes(&path) < CHECKPOINT_WAL_BYTES {
                    continue;
                }
                if let Err(e) = db::maintenance::checkpoint_passive(&path) {
                    crate::log!("warning: cannot checkpoint {}: {e}", path.display());
                }
            }
        }
    }

    fn take_dirty(&self) -> std::sync::MutexGuard<'_, BTreeSet<PathBuf>> {
        self.dirty.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Folds in and empties the WAL of `path` if it has anything, unless the database is busy (the
/// next quiet spell tries again).
fn truncate_wal(path: &std::path::Path) {
    if wal_bytes(path) == 0 {
        return;
    }
    if let Err(e) = db::maintenance::checkpoint_truncate(path) {
        if e.sqlite_error_code() != Some(rusqlite::ErrorCode::DatabaseBusy) {
            crate::log!("warning: cannot checkpoint {}: {e}", path.display());
        }
    }
}

/// The size of the WAL file of the database at `path` (0 when there is none).
pub fn wal_bytes(path: &std::path::Path) -> u64 {
    let mut wal = path.to_owned().into_os_string();
    wal.push("-wal");
    std::fs::metadata(wal).map_or(0, |m| m.len())
}
