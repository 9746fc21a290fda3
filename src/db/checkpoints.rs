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
    /// Nudged when a first database is marked; stopped at shutdown.
    wake: Stop,
}

/// A WAL larger than this is folded back into its database by the checkpoint thread.
const CHECKPOINT_WAL_BYTES: u64 = 1 << 20;
/// How long the checkpoint thread gathers writes before it looks at their WALs.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

impl Checkpoints {
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

    pub fn stop(&self) {
        self.wake.stop();
    }

    /// The checkpoint thread: sleeps until the writer writes, then every 2 s while it does,
    /// a passive checkpoint of each written database whose WAL passed 1 MiB (the writer's own
    /// connections never checkpoint, so their commits never wait for an fsync). A database
    /// whose WAL is smaller waits for its next write.
    pub fn run(&self) {
        loop {
            let ticket = self.wake.ticket();
            if self.take_dirty().is_empty() {
                if self.wake.wait(ticket) {
                    return;
                }
                continue;
            }
            // Gather a few seconds of writes, so a busy database is looked at once.
            if self.wake.sleep(CHECKPOINT_EVERY) {
                return;
            }
            let dirty = std::mem::take(&mut *self.take_dirty());
            for path in dirty {
                let mut wal = path.clone().into_os_string();
                wal.push("-wal");
                if std::fs::metadata(&wal).map_or(0, |m| m.len()) < CHECKPOINT_WAL_BYTES {
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
