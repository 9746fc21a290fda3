//! Long jobs cut into chunks on the writer: each chunk is one short task queued behind
//! whatever is waiting, so a message never waits for more than one chunk. Here: the search
//! index. New rows are indexed in rounds, at most every 2 s per database while it is written
//! (one FTS5 transaction for everything since the last round costs far less than one per
//! message, which halved throughput), and an old database's backlog in chunks. Every chunked
//! job (the history copy too) sizes its chunks with `next_chunk`.

use super::Writer;
use crate::db;

/// How long one chunk may keep the writer: the rows per chunk follow from the last one's pace.
const CHUNK_TIME: std::time::Duration = std::time::Duration::from_millis(2);
/// Rows in the first chunk of a job, and the bounds of every other.
pub(super) const FIRST_CHUNK: u64 = 500;
const CHUNK_ROWS: std::ops::RangeInclusive<u64> = 200..=5_000;

/// The rows of a job's next chunk, from how long `rows` took: about `CHUNK_TIME`'s worth.
pub(super) fn next_chunk(rows: u64, took: std::time::Duration) -> u64 {
    let per_row = took.as_secs_f64() / rows.max(1) as f64;
    let fit = (CHUNK_TIME.as_secs_f64() / per_row.max(1e-9)) as u64;
    // Grow gently, shrink at once.
    fit.min(rows * 2)
        .clamp(*CHUNK_ROWS.start(), *CHUNK_ROWS.end())
}

/// A background job's WAL past this is folded back before the job writes more. A long copy
/// writes without pause, so the checkpoint thread's folds rarely finish between two chunks
/// and the WAL would otherwise grow by the whole copy (the newcomer's 170 MB at 1 M messages).
const BACKGROUND_WAL_BYTES: u64 = 16 << 20;

/// How often, at most, a database being written gets its new rows indexed.
const INDEX_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

impl Writer<'_> {
    /// Queues `task`, the next chunk of a background job that writes the database at `path`:
    /// at once, or, when that database's WAL passed 16 MiB, once the checkpoint thread has
    /// folded it back (the chunk's write then starts the WAL over, cut to 1 MiB).
    pub(super) fn queue_chunk(
        &mut self,
        path: Option<&std::path::Path>,
        task: impl FnOnce(&mut Writer) + Send + 'static,
    ) -> Result<(), crate::model::Refusal> {
        if let Some(path) = path.filter(|p| db::checkpoints::wal_bytes(p) > BACKGROUND_WAL_BYTES) {
            self.parked.push(Box::new(task));
            self.core.checkpoints.request(path);
            return Ok(());
        }
        self.core.store.spawn_background(task)
    }

    /// Queues again the chunks that waited for a fold (called once the checkpoint thread has
    /// served the requests): each runs as its own job, behind whatever is waiting.
    pub fn resume_parked(&mut self) {
        for task in std::mem::take(&mut self.parked) {
            // Shutting down otherwise: the jobs resume at the next start or search.
            let _ = self.core.store.spawn_background(task);
        }
    }

    /// Queues a round of indexing for `user`'s database, just written, unless one ran in the
    /// last 2 s or is running (the next write after that starts the next round).
    pub(super) fn index_soon(&mut self, user: &str) {
        let now = std::time::Instant::now();
        if self.indexing.contains(user)
            || self
                .indexed_at
                .get(user)
                .is_some_and(|at| now.duration_since(*at) < INDEX_EVERY)
        {
            return;
        }
        self.indexed_at.insert(user.to_owned(), now);
        self.indexing.insert(user.to_owned());
        let next = user.to_owned();
        if self
            .core
            .store
            .spawn_background(move |w: &mut Writer| w.index_chunk(next, FIRST_CHUNK))
            .is_err()
        {
            self.indexing.remove(user);
        }
    }

    /// Starts catching up `user`'s search index in the background, unless it already is.
    pub fn index_in_background(&mut self, user: &str) {
        if self.indexing.insert(user.to_owned()) {
            self.index_chunk(user.to_owned(), FIRST_CHUNK);
        }
    }

    /// At start: queues a look at every member's search index, each its own background chunk,
    /// so an index an upgrade rebuilds (or one a stop left behind) catches up without waiting
    /// for a write or a search.
    pub(super) fn catch_up_indexes(&mut self) {
        for user in self.users.clone() {
            // Shutting down otherwise: the next start looks again.
            let _ = self
                .core
                .store
                .spawn_background(move |w: &mut Writer| w.index_if_behind(user));
        }
    }

    fn index_if_behind(&mut self, user: String) {
        let behind = match self.database(&user) {
            Ok(Some(conn)) => db::search::behind(conn).map_err(anyhow::Error::from),
            Ok(None) => Ok(false),
            Err(e) => Err(e),
        };
        match behind {
            Ok(true) => self.index_in_background(&user),
            Ok(false) => {}
            Err(e) => crate::log!("warning: cannot read users/{user}.db's search index: {e:#}"),
        }
    }

    /// Indexes one chunk of `user`'s waiting rows and queues the next while any are left.
    fn index_chunk(&mut self, user: String, rows: u64) {
        let start = std::time::Instant::now();
        let mut written = None;
        let left = match self.database(&user) {
            Ok(Some(conn)) => {
                let left = db::search::index_pending(conn, rows);
                written = conn.path().map(std::path::PathBuf::from);
                self.core.checkpoints.mark(written.as_deref().into_iter());
                left.map_err(anyhow::Error::from)
            }
            Ok(None) => Ok(false),
            Err(e) => Err(e),
        };
        match left {
            Ok(false) => {
                self.indexing.remove(&user);
            }
            Ok(true) => {
                let next = user.clone();
                let rows = next_chunk(rows, start.elapsed());
                if self
                    .queue_chunk(written.as_deref(), move |w: &mut Writer| {
                        w.index_chunk(next, rows)
                    })
                    .is_err()
                {
                    // Shutting down: the next search starts over from where this stopped.
                    self.indexing.remove(&user);
                }
            }
            Err(e) => {
                crate::log!("warning: cannot index users/{user}.db for search: {e}");
                self.indexing.remove(&user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::next_chunk;
    use std::time::Duration;

    #[test]
    fn chunks_hold_the_writer_about_two_milliseconds() {
        assert_eq!(
            next_chunk(500, Duration::from_millis(1)),
            1_000,
            "grows at most twofold"
        );
        assert_eq!(
            next_chunk(1_000, Duration::from_millis(5)),
            400,
            "shrinks at once"
        );
        assert_eq!(
            next_chunk(1_000, Duration::from_secs(5)),
            200,
            "never below the floor"
        );
        assert_eq!(
            next_chunk(4_000, Duration::from_micros(10)),
            5_000,
            "nor above the ceiling"
        );
    }
}
