//! The writer's queue: request threads submit posts and tasks and wait for the answer; the
//! writer takes them in batches, in order. A request whose job the writer dropped (a panic, or
//! a stop) gets a 500, never a hang. Chunks of background work (history copies, indexing) wait
//! in a lane of their own, taken one at a time when nothing else waits (and at least every
//! 20 ms under load), so a message waits for at most one chunk however many are queued.

use super::Writer;
use crate::base::json::Json;
use crate::base::names::Username;
use crate::base::stop::Stop;
use crate::model::channels::ChannelId;
use crate::model::Refusal;
use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Mutex;

/// Most jobs taken in one batch.
const BATCH_MAX: usize = 256;
/// Under a steady load, a background chunk still runs at least this often.
const BACKGROUND_TURN: std::time::Duration = std::time::Duration::from_millis(20);

/// A message to store and deliver.
pub struct Post {
    pub sender: Username,
    pub channel: ChannelId,
    pub text: String,
    /// The parent's ts and its row id in the sender's database.
    pub reply_to: Option<(f64, i64)>,
    /// Stored names of the sender's uploads to attach.
    pub files: Vec<String>,
}

pub(super) type Task = Box<dyn FnOnce(&mut Writer) + Send>;

pub(super) enum Job {
    Post(Post, SyncSender<Result<Json, Refusal>>),
    Task(Task),
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// Chunks of background work, in order.
    background: VecDeque<Task>,
    /// When the last background chunk was taken.
    background_at: Option<std::time::Instant>,
}

/// The writer's queue, shared by request threads.
#[derive(Default)]
pub struct Store {
    queue: Mutex<Queue>,
    /// Nudged for each job; stopped when the connections are done (the writer then drains
    /// the queue and ends).
    ready: Stop,
}

impl Store {
    fn submit(&self, job: Job, background: bool) -> Result<(), Refusal> {
        {
            // Checked under the queue's lock, so no job is queued after the writer's last look.
            let mut queue = self.lock();
            if self.ready.is_stopped() {
                return Err(Refusal::Unavailable(
                    "The server is shutting down; try again shortly".into(),
                ));
            }
            match job {
                Job::Task(task) if background => queue.background.push_back(task),
                job => queue.jobs.push_back(job),
            }
        }
        self.ready.nudge();
        Ok(())
    }

    /// Stores `post` in every recipient's database and announces it; returns the message.
    pub fn post(&self, post: Post) -> Result<Json, Refusal> {
        let (tx, rx) = sync_channel(1);
        self.submit(Job::Post(post, tx), false)?;
        rx.recv().unwrap_or_else(|_| Err(writer_gone()))
    }

    /// Runs `task` on the writer thread, in order with every other write, and returns its result.
    pub fn run<T: Send + 'static>(
        &self,
        task: impl FnOnce(&mut Writer) -> Result<T, Refusal> + Send + 'static,
    ) -> Result<T, Refusal> {
        let (tx, rx) = sync_channel(1);
        self.submit(
            Job::Task(Box::new(move |w: &mut Writer| {
                let _ = tx.send(task(w));
            })),
            false,
        )?;
        rx.recv().unwrap_or_else(|_| Err(writer_gone()))
    }

    /// Queues `task`, one chunk of background work, in the background lane: it runs when no
    /// message or request waits (or its turn comes, every 20 ms under load). Dropped at a stop:
    /// background work resumes from what it committed.
    pub fn spawn_background(
        &self,
        task: impl FnOnce(&mut Writer) + Send + 'static,
    ) -> Result<(), Refusal> {
        self.submit(Job::Task(Box::new(task)), true)
    }

    /// Lets the writer finish what is queued, then stop.
    pub fn stop(&self) {
        // Under the queue's lock, so a submit either queued before it or sees it.
        let _queue = self.lock();
        self.ready.stop();
    }

    /// The next jobs (at most a batch), waiting for one; empty once stopped and drained. A
    /// background chunk comes alone when nothing else waits, or after the batch when its turn
    /// has come.
    pub(super) fn take_batch(&self) -> Vec<Job> {
        loop {
            let ticket = self.ready.ticket();
            {
                let mut queue = self.lock();
                let now = std::time::Instant::now();
                let turn = queue
                    .background_at
                    .is_none_or(|at| now.duration_since(at) >= BACKGROUND_TURN);
                if !queue.jobs.is_empty() || self.ready.is_stopped() {
                    let n = queue.jobs.len().min(BATCH_MAX);
                    let mut batch: Vec<Job> = queue.jobs.drain(..n).collect();
                    if turn && !self.ready.is_stopped() {
                        if let Some(task) = queue.background.pop_front() {
                            queue.background_at = Some(now);
                            batch.push(Job::Task(task));
                        }
                    }
                    return batch;
                }
                if let Some(task) = queue.background.pop_front() {
                    queue.background_at = Some(now);
                    return vec![Job::Task(task)];
                }
            }
            self.ready.wait(ticket);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn writer_gone() -> Refusal {
    Refusal::Failed(anyhow::anyhow!(
        "the writer dropped this request: it failed on it, or it has stopped"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        Job::Task(Box::new(|_: &mut Writer| {}))
    }

    #[test]
    fn background_chunks_yield_to_everything_else_one_at_a_time() {
        let store = Store::default();
        for _ in 0..3 {
            store.spawn_background(|_| {}).unwrap();
        }
        store.submit(job(), false).unwrap();
        store.submit(job(), false).unwrap();
        assert_eq!(
            store.take_batch().len(),
            3,
            "the waiting jobs and a first chunk"
        );
        assert_eq!(store.take_batch().len(), 1, "nothing else waits: one chunk");
        store.submit(job(), false).unwrap();
        assert_eq!(
            store.take_batch().len(),
            1,
            "under load, no chunk before its turn"
        );
        std::thread::sleep(BACKGROUND_TURN);
        store.submit(job(), false).unwrap();
        assert_eq!(store.take_batch().len(), 2, "its turn has come");
        store.spawn_background(|_| {}).unwrap();
        store.stop();
        assert!(
            store.take_batch().is_empty(),
            "chunks are dropped at a stop"
        );
    }
}
