//! The writer: one thread owns every write to users' databases (fan-out on write) and every
//! change to who receives a channel (accounts, private-channel membership), so recipients,
//! `ts` assignment and copies never race.
//!
//! Request threads queue jobs and wait for the answer. Messages that arrive together are
//! committed together (group commit): one transaction per recipient database per batch, over
//! connections the writer keeps open. Before copies are written, each fan-out is recorded in
//! `presence.db.fanout_journal`; it is removed once every copy is committed. A fan-out
//! interrupted by a crash or a failing database is completed from the journal at the next
//! start (roll-forward), so every recipient ends up with the message or — if it never got
//! journalled — none does. A new message is announced as soon as it is journalled (it is then
//! certain to reach every copy) and acknowledged once the sender's own copy is committed; the
//! other copies are committed in the same turn of the writer, before any later job, and a
//! reader of a database whose copy is still being written waits for it (`UserDbs::hold`).
//! Anything that depends on a reader's copy existing (marking read) runs on this thread too, so
//! it comes after the commit.

pub mod accounts;
mod background;
pub mod calls;
mod change;
pub mod core;
mod fan_out;
mod pins;
mod posts;
pub mod private_channels;
mod queue;
mod seeding;
mod updates;

pub use change::{Change, Fanout, RowData};
use queue::Job;
pub use queue::{Post, Store};

use crate::base::names::Username;
use crate::db::{self, Kind};
use crate::model::channels::ChannelId;
use crate::model::messages;
use crate::store::core::Core;
use rusqlite::Connection;
use std::collections::{BTreeSet, HashMap};
use std::panic::AssertUnwindSafe;

/// Most users' databases the writer keeps open.
const OPEN_DATABASES_MAX: usize = 1024;

pub struct Writer<'c> {
    pub core: &'c Core,
    pub auth: Connection,
    pub presence: Connection,
    users: BTreeSet<String>,
    auth_version: i64,
    databases: HashMap<String, (Connection, u64)>,
    clock: u64,
    /// How many threads apply a large fan-out.
    threads: usize,
    last_ts: HashMap<String, f64>,
    /// Users whose search index is being caught up in the background.
    indexing: BTreeSet<String>,
    /// Users whose history is being copied in the background.
    seeding: BTreeSet<String>,
    /// When each user's database last had a round of indexing started.
    indexed_at: HashMap<String, std::time::Instant>,
    /// Background chunks waiting for the checkpoint thread to fold their database's WAL back.
    parked: Vec<queue::Task>,
}

/// Runs the writer until `core.store` is stopped and drained.
pub fn run(core: &Core) {
    let mut writer = match Writer::open(core) {
        Ok(w) => w,
        Err(e) => {
            crate::log!("error: the writer cannot start: {e:#}");
            core.store.stop();
            fail_all(core);
            return;
        }
    };
    writer.resume_seeds();
    writer.catch_up_indexes();
    loop {
        let jobs = core.store.take_batch();
        if jobs.is_empty() {
            return;
        }
        let mut posts = Vec::new();
        for job in jobs {
            match job {
                Job::Post(post, reply) => posts.push((post, reply)),
                Job::Task(task) => {
                    writer.survive("a batch of messages", |w| {
                        w.post_batch(std::mem::take(&mut posts))
                    });
                    writer.survive("a task", task);
                }
            }
        }
        writer.survive("a batch of messages", |w| w.post_batch(posts));
    }
}

fn fail_all(core: &Core) {
    // Dropping the jobs drops their reply senders: waiting requests get an error.
    while !core.store.take_batch().is_empty() {}
}

/// Completes fan-outs a crash interrupted (run at startup, before serving).
pub fn repair(core: &Core) -> anyhow::Result<usize> {
    let presence = core.presence_db.get()?;
    let entries = db::presence::journal_entries(&presence)?;
    for (id, payload) in &entries {
        match Fanout::from_json(payload) {
            Some(fanout) => {
                for recipient in &fanout.recipients {
                    let Ok(user) = Username::parse_existing(recipient) else {
                        continue;
                    };
                    if let Some(conn) =
                        db::open_existing(&db::user::path(&core.data_dir, &user), Kind::User)?
                    {
                        fanout.change.apply(&conn, recipient, true)?;
                    }
                }
            }
            None => crate::log!("warning: dropping an unreadable fan-out journal entry {id}"),
        }
        db::presence::journal_remove(&presence, *id)?;
    }
    Ok(entries.len())
}

impl<'c> Writer<'c> {
    /// Runs one job so that a panic in it costs only that job: its requests get 500 (their
    /// reply channels are dropped), fan-outs it journalled stay in the journal and are
    /// completed at the next start, every database it held is released, and the writer goes
    /// on with the next job.
    fn survive(&mut self, what: &str, job: impl FnOnce(&mut Self)) {
        if std::panic::catch_unwind(AssertUnwindSafe(|| job(self))).is_err() {
            crate::log!(
                "error: the writer failed on {what} (a panic, logged above); its requests were \
                 answered 500, interrupted deliveries will be completed at the next start"
            );
            // Only the writer holds databases, and it holds none between jobs.
            self.core.user_dbs.release_all();
        }
    }

    pub fn open(core: &'c Core) -> anyhow::Result<Writer<'c>> {
        let auth = db::open(core.auth_db.path(), Kind::Auth)?;
        let presence = db::open(core.presence_db.path(), Kind::Presence)?;
        // The journal is written on every fan-out: checkpointed in the background too.
        db::maintenance::disable_autocheckpoint(&presence)?;
        let mut writer = Writer {
            core,
            auth,
            presence,
            users: BTreeSet::new(),
            auth_version: -1,
            databases: HashMap::new(),
            clock: 0,
            threads: std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(4),
            last_ts: HashMap::new(),
            indexing: BTreeSet::new(),
            seeding: BTreeSet::new(),
            indexed_at: HashMap::new(),
            parked: Vec::new(),
        };
        writer.refresh_users()?;
        Ok(writer)
    }

    /// Reloads the account list when auth.db changed elsewhere (e.g. the manual's sqlite3).
    fn refresh_users(&mut self) -> rusqlite::Result<()> {
        let version = db::maintenance::data_version(&self.auth)?;
        if version != self.auth_version {
            self.users = db::auth::usernames(&self.auth)?.into_iter().collect();
            self.auth_version = version;
        }
        Ok(())
    }

    /// The registered spelling of a name, matched case-insensitively.
    pub fn registered_name(&mut self, name: &str) -> rusqlite::Result<Option<String>> {
        self.refresh_users()?;
        Ok(self
            .users
            .iter()
            .find(|u| u.eq_ignore_ascii_case(name))
            .cloned())
    }

    /// The registered users `@mentioned` in `text`, as stored in the `mentions` column.
    pub fn mentions_in(&mut self, text: &str) -> rusqlite::Result<Option<String>> {
        self.refresh_users()?;
        let users = &self.users;
        Ok(messages::mentions(text, |name| {
            users.iter().find(|u| u.eq_ignore_ascii_case(name)).cloned()
        }))
    }

    /// Everyone who receives messages in `channel` now.
    pub fn recipients(&mut self, channel: &ChannelId) -> rusqlite::Result<Vec<String>> {
        self.refresh_users()?;
        Ok(match channel {
            ChannelId::Public(_) => self.users.iter().cloned().collect(),
            ChannelId::Private(id) => db::presence::private_members(&self.presence, *id)?
                .into_iter()
                .filter(|u| self.users.contains(u))
                .collect(),
            ChannelId::Dm(names) => names
                .iter()
                .filter(|u| self.users.contains(*u))
                .cloned()
                .collect(),
        })
    }

    /// A connection to `users/<user>.db`, opened on first use; `None` if it does not exist.
    pub fn database(&mut self, user: &str) -> anyhow::Result<Option<&Connection>> {
        self.clock += 1;
        if !self.databases.contains_key(user) {
            let Ok(name) = Username::parse_existing(user) else {
                return Ok(None);
            };
            let Some(conn) =
                db::open_existing(&db::user::path(&self.core.data_dir, &name), Kind::User)?
            else {
                return Ok(None);
            };
            // Commits on the hot path never stop to checkpoint (and fsync); the checkpoint
            // thread folds the WAL back in the background.
            db::maintenance::disable_autocheckpoint(&conn)?;
            if self.databases.len() >= OPEN_DATABASES_MAX {
                if let Some(oldest) = self
                    .databases
                    .iter()
                    .min_by_key(|(_, (_, used))| *used)
                    .map(|(u, _)| u.clone())
                {
                    self.databases.remove(&oldest);
                }
            }
            self.databases.insert(user.to_owned(), (conn, 0));
        }
        let entry = self.databases.get_mut(user).expect("inserted above");
        entry.1 = self.clock;
        Ok(Some(&entry.0))
    }

    /// Forgets a deleted account (it receives nothing from now on).
    pub fn forget_user(&mut self, name: &str) {
        self.users.remove(name);
        if let Ok(version) = db::maintenance::data_version(&self.auth) {
            self.auth_version = version;
        }
    }

    /// Closes the writer's connection to a user's database (before it is deleted).
    pub fn forget_database(&mut self, user: &str) {
        self.databases.remove(user);
    }
}
