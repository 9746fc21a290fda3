//! The checkpoint thread: folds the WAL of each database the writer wrote back into it, in the
//! background, so no commit on the hot path waits for an fsync. Sleeps until the writer writes.

use crate::db;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};

/// Databases the writer wrote to since the checkpoint thread last looked.
#[derive(Default)]
pub struct Checkpoints {
    /// The databases, and whether the thread should stop.
    dirty: Mutex<(BTreeSet<PathBuf>, bool)>,
    wake: Condvar,
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
        let was_empty = dirty.0.is_empty();
        for path in paths {
            if !dirty.0.contains(path) {
                dirty.0.insert(path.to_owned());
            }
        }
        if was_empty && !dirty.0.is_empty() {
            self.wake.notify_all();
        }
    }

    pub fn stop(&self) {
        self.dirty.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        self.wake.notify_all();
    }

    /// The checkpoint thread: sleeps until the writer writes, then every 2 s while it does,
    /// a passive checkpoint of each written database whose WAL passed 1 MiB (the writer's own
    /// connections never checkpoint, so their commits never wait for an fsync). A database
    /// whose WAL is smaller waits for its next write.
    pub fn run(&self) {
        loop {
            let dirty = {
                let guard = self.dirty.lock().unwrap_or_else(|e| e.into_inner());
                let guard = self
                    .wake
                    .wait_while(guard, |(dirty, stop)| dirty.is_empty() && !*stop)
                    .unwrap_or_else(|e| e.into_inner());
                // Gather a few seconds of writes, so a busy database is looked at once.
                let (mut guard, _) = self
                    .wake
                    .wait_timeout_while(guard, CHECKPOINT_EVERY, |(_, stop)| !*stop)
                    .unwrap_or_else(|e| e.into_inner());
                if guard.1 {
                    return;
                }
                std::mem::take(&mut guard.0)
            };
            for path in dirty {
                let mut wal = path.clone().into_os_string();
                wal.push("-wal");
                if std::fs::metadata(&wal).map_or(0, |m| m.len()) < CHECKPOINT_WAL_BYTES {
                    continue;
                }
                if let Err(e) = db::maintenance::checkpoint_passive(&path) {
                    eprintln!("warning: cannot checkpoint {}: {e}", path.display());
                }
            }
        }
    }
}
