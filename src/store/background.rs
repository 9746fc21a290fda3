//! Long jobs cut into chunks on the writer: each chunk is one short task queued behind
//! whatever is waiting, so a message never waits for more than one chunk. Here: catching up a
//! database's search index (rows written before the index followed inserts).

use super::Writer;
use crate::db;

/// Rows indexed in the first chunk; the next ones take about 3 ms each (`next_chunk`).
const FIRST_CHUNK: u64 = 500;

impl Writer<'_> {
    /// Starts catching up `user`'s search index in the background, unless it already is.
    pub fn index_in_background(&mut self, user: &str) {
        if self.indexing.insert(user.to_owned()) {
            self.index_chunk(user.to_owned(), FIRST_CHUNK);
        }
    }

    /// Indexes one chunk of `user`'s waiting rows and queues the next while any are left.
    fn index_chunk(&mut self, user: String, rows: u64) {
        let start = std::time::Instant::now();
        let left = match self.database(&user) {
            Ok(Some(conn)) => {
                let left = db::user::index_pending(conn, rows);
                let written = conn.path().map(std::path::PathBuf::from);
                self.core.checkpoints.mark(written.as_deref().into_iter());
                left.map_err(anyhow::Error::from)
            }
            Ok(None) => Ok(0),
            Err(e) => Err(e),
        };
        match left {
            Ok(0) => {
                self.indexing.remove(&user);
            }
            Ok(_) => {
                let next = user.clone();
                let rows = super::seeding::next_chunk(rows, start.elapsed());
                if self
                    .core
                    .store
                    .spawn(move |w: &mut Writer| w.index_chunk(next, rows))
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
