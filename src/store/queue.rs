//! The writer's queue: request threads submit posts and tasks and wait for the answer; the
//! writer takes them in batches, in order. A request whose job the writer dropped (a panic, or
//! a stop) gets a 500, never a hang.

use super::Writer;
use crate::base::json::Json;
use crate::base::names::Username;
use crate::model::channels::ChannelId;
use crate::model::Refusal;
use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Condvar, Mutex};

/// Most jobs taken in one batch.
const BATCH_MAX: usize = 256;

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

/// The writer's queue, shared by request threads.
#[derive(Default)]
pub struct Store {
    queue: Mutex<(VecDeque<Job>, bool)>,
    ready: Condvar,
}

impl Store {
    fn submit(&self, job: Job) -> Result<(), Refusal> {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if queue.1 {
            return Err(Refusal::Unavailable(
                "The server is shutting down; try again shortly".into(),
            ));
        }
        queue.0.push_back(job);
        self.ready.notify_one();
        Ok(())
    }

    /// Stores `post` in every recipient's database and announces it; returns the message.
    pub fn post(&self, post: Post) -> Result<Json, Refusal> {
        let (tx, rx) = sync_channel(1);
        self.submit(Job::Post(post, tx))?;
        rx.recv().unwrap_or_else(|_| Err(writer_gone()))
    }

    /// Runs `task` on the writer thread, in order with every other write, and returns its result.
    pub fn run<T: Send + 'static>(
        &self,
        task: impl FnOnce(&mut Writer) -> Result<T, Refusal> + Send + 'static,
    ) -> Result<T, Refusal> {
        let (tx, rx) = sync_channel(1);
        self.submit(Job::Task(Box::new(move |w: &mut Writer| {
            let _ = tx.send(task(w));
        })))?;
        rx.recv().unwrap_or_else(|_| Err(writer_gone()))
    }

    /// Lets the writer finish what is queued, then stop.
    pub fn stop(&self) {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        self.ready.notify_all();
    }

    pub(super) fn take_batch(&self) -> Vec<Job> {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        while queue.0.is_empty() && !queue.1 {
            queue = self.ready.wait(queue).unwrap_or_else(|e| e.into_inner());
        }
        let n = queue.0.len().min(BATCH_MAX);
        queue.0.drain(..n).collect()
    }
}

fn writer_gone() -> Refusal {
    Refusal::Failed(anyhow::anyhow!(
        "the writer dropped this request: it failed on it, or it has stopped"
    ))
}
