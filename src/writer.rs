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

use crate::channels::ChannelId;
use crate::ctx::Ctx;
use crate::db::{self, user::NewRow, Kind};
use crate::http::HttpError;
use crate::json::{self, Json};
use crate::messages;
use crate::names::Username;
use rusqlite::{Connection, TransactionBehavior};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Condvar, Mutex};

/// Most jobs taken in one batch.
const BATCH_MAX: usize = 256;
/// Fan-outs to at least this many databases are spread over the cores.
const PARALLEL_FAN_OUT: usize = 8;
/// Most users' databases the writer keeps open.
const OPEN_DATABASES_MAX: usize = 1024;

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

type Task = Box<dyn FnOnce(&mut Writer) + Send>;

enum Job {
    Post(Post, SyncSender<Result<Json, HttpError>>),
    Task(Task),
}

/// The writer's queue, shared by request threads.
#[derive(Default)]
pub struct Store {
    queue: Mutex<(VecDeque<Job>, bool)>,
    ready: Condvar,
}

impl Store {
    fn submit(&self, job: Job) -> Result<(), HttpError> {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if queue.1 {
            return Err(HttpError::Unavailable(
                "The server is shutting down; try again shortly".into(),
            ));
        }
        queue.0.push_back(job);
        self.ready.notify_one();
        Ok(())
    }

    /// Stores `post` in every recipient's database and announces it; returns the message.
    pub fn post(&self, post: Post) -> Result<Json, HttpError> {
        let (tx, rx) = sync_channel(1);
        self.submit(Job::Post(post, tx))?;
        rx.recv().unwrap_or_else(|_| Err(writer_gone()))
    }

    /// Runs `task` on the writer thread, in order with every other write, and returns its result.
    pub fn run<T: Send + 'static>(
        &self,
        task: impl FnOnce(&mut Writer) -> Result<T, HttpError> + Send + 'static,
    ) -> Result<T, HttpError> {
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

    fn take_batch(&self) -> Vec<Job> {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        while queue.0.is_empty() && !queue.1 {
            queue = self.ready.wait(queue).unwrap_or_else(|e| e.into_inner());
        }
        let n = queue.0.len().min(BATCH_MAX);
        queue.0.drain(..n).collect()
    }
}

fn writer_gone() -> HttpError {
    HttpError::Internal(anyhow::anyhow!(
        "the writer dropped this request: it failed on it, or it has stopped"
    ))
}

/// One row of a message to insert (its text, or one file).
#[derive(Debug, Clone)]
pub struct RowData {
    pub content: String,
    pub content_type: String,
    pub filename: Option<String>,
    pub reply_to_id: Option<i64>,
    pub mentions: Option<String>,
    pub metadata: Option<String>,
}

/// A change to apply to every recipient's copy. Applying one twice is harmless.
#[derive(Debug, Clone)]
pub enum Change {
    Insert {
        channel: String,
        ts: f64,
        sender: String,
        read_by: Option<String>,
        rows: Vec<RowData>,
    },
    Edit {
        channel: String,
        ts: f64,
        text: String,
        edited_ts: f64,
        mentions: Option<String>,
    },
    Delete {
        channel: String,
        ts: f64,
        deleted_ts: f64,
    },
    Reactions {
        channel: String,
        ts: f64,
        reactions: String,
        reactions_ts: f64,
    },
}

impl Change {
    fn apply(&self, conn: &Connection, recipient: &str, replaying: bool) -> rusqlite::Result<()> {
        match self {
            Change::Insert {
                channel,
                ts,
                sender,
                read_by,
                rows,
            } => {
                for row in rows {
                    db::user::insert_row(
                        conn,
                        &NewRow {
                            channel,
                            sender,
                            content: &row.content,
                            content_type: &row.content_type,
                            filename: row.filename.as_deref(),
                            ts: *ts,
                            read: read_by.as_deref() == Some(recipient),
                            reply_to_id: row.reply_to_id,
                            mentions: row.mentions.as_deref(),
                            metadata: row.metadata.as_deref(),
                        },
                        replaying,
                    )?;
                }
                Ok(())
            }
            Change::Edit {
                channel,
                ts,
                text,
                edited_ts,
                mentions,
            } => db::user::set_text(conn, channel, *ts, text, *edited_ts, mentions.as_deref()),
            Change::Delete {
                channel,
                ts,
                deleted_ts,
            } => db::user::mark_deleted(conn, channel, *ts, *deleted_ts),
            Change::Reactions {
                channel,
                ts,
                reactions,
                reactions_ts,
            } => db::user::set_reactions(conn, channel, *ts, reactions, *reactions_ts),
        }
    }

    fn channel(&self) -> &str {
        match self {
            Change::Insert { channel, .. }
            | Change::Edit { channel, .. }
            | Change::Delete { channel, .. }
            | Change::Reactions { channel, .. } => channel,
        }
    }

    fn to_json(&self) -> Json {
        let opt = |s: &Option<String>| Json::opt_str(s.clone());
        match self {
            Change::Insert {
                channel,
                ts,
                sender,
                read_by,
                rows,
            } => Json::obj([
                ("op", "insert".into()),
                ("channel", channel.as_str().into()),
                ("ts", Json::Num(*ts)),
                ("sender", sender.as_str().into()),
                ("read_by", opt(read_by)),
                (
                    "rows",
                    Json::Arr(
                        rows.iter()
                            .map(|r| {
                                Json::obj([
                                    ("content", r.content.as_str().into()),
                                    ("content_type", r.content_type.as_str().into()),
                                    ("filename", opt(&r.filename)),
                                    (
                                        "reply_to_id",
                                        r.reply_to_id.map_or(Json::Null, |id| Json::Num(id as f64)),
                                    ),
                                    ("mentions", opt(&r.mentions)),
                                    ("metadata", opt(&r.metadata)),
                                ])
                            })
                            .collect(),
                    ),
                ),
            ]),
            Change::Edit {
                channel,
                ts,
                text,
                edited_ts,
                mentions,
            } => Json::obj([
                ("op", "edit".into()),
                ("channel", channel.as_str().into()),
                ("ts", Json::Num(*ts)),
                ("text", text.as_str().into()),
                ("edited_ts", Json::Num(*edited_ts)),
                ("mentions", opt(mentions)),
            ]),
            Change::Delete {
                channel,
                ts,
                deleted_ts,
            } => Json::obj([
                ("op", "delete".into()),
                ("channel", channel.as_str().into()),
                ("ts", Json::Num(*ts)),
                ("deleted_ts", Json::Num(*deleted_ts)),
            ]),
            Change::Reactions {
                channel,
                ts,
                reactions,
                reactions_ts,
            } => Json::obj([
                ("op", "reactions".into()),
                ("channel", channel.as_str().into()),
                ("ts", Json::Num(*ts)),
                ("reactions", reactions.as_str().into()),
                ("reactions_ts", Json::Num(*reactions_ts)),
            ]),
        }
    }

    fn from_json(v: &Json) -> Option<Change> {
        let s = |k: &str| v.get(k).and_then(Json::as_str).map(str::to_owned);
        let n = |k: &str| v.get(k).and_then(Json::as_f64);
        let opt = |j: &Json, k: &str| j.get(k).and_then(Json::as_str).map(str::to_owned);
        let (channel, ts) = (s("channel")?, n("ts")?);
        Some(match s("op")?.as_str() {
            "insert" => {
                let Json::Arr(rows) = v.get("rows")? else {
                    return None;
                };
                let rows = rows
                    .iter()
                    .map(|r| {
                        Some(RowData {
                            content: opt(r, "content")?,
                            content_type: opt(r, "content_type")?,
                            filename: opt(r, "filename"),
                            reply_to_id: r
                                .get("reply_to_id")
                                .and_then(Json::as_f64)
                                .map(|id| id as i64),
                            mentions: opt(r, "mentions"),
                            metadata: opt(r, "metadata"),
                        })
                    })
                    .collect::<Option<Vec<_>>>()?;
                Change::Insert {
                    channel,
                    ts,
                    sender: s("sender")?,
                    read_by: s("read_by"),
                    rows,
                }
            }
            "edit" => Change::Edit {
                channel,
                ts,
                text: s("text")?,
                edited_ts: n("edited_ts")?,
                mentions: s("mentions"),
            },
            "delete" => Change::Delete {
                channel,
                ts,
                deleted_ts: n("deleted_ts")?,
            },
            "reactions" => Change::Reactions {
                channel,
                ts,
                reactions: s("reactions")?,
                reactions_ts: n("reactions_ts")?,
            },
            _ => return None,
        })
    }
}

/// Applies the given fan-outs to one recipient's database in one transaction; true when a DM
/// appeared (or reappeared) in their sidebar.
fn apply_to(
    conn: &Connection,
    recipient: &str,
    fanouts: &[Fanout],
    indexes: &[usize],
) -> rusqlite::Result<bool> {
    db::maintenance::in_write_transaction(conn, || {
        let mut sidebar_changed = false;
        for i in indexes {
            let change = &fanouts[*i].change;
            if let Change::Insert { channel, .. } = change {
                if channel.starts_with("dm:") {
                    let hidden = db::user::hidden_dms(conn)?.contains_key(channel);
                    sidebar_changed |= hidden || !db::user::has_channel(conn, channel)?;
                    if hidden {
                        db::user::unhide_dm(conn, channel)?;
                    }
                }
            }
            if cfg!(debug_assertions) {
                fault_check("copy", recipient, change);
            }
            change.apply(conn, recipient, false)?;
        }
        Ok(sidebar_changed)
    })
}

/// The fault-injection hook for a change: its text rows, prefixed with `recipient:`.
fn fault_check(point: &str, recipient: &str, change: &Change) {
    if let Change::Insert { rows, .. } = change {
        for row in rows {
            crate::fault::check(point, &format!("{recipient}:{}", row.content));
        }
    }
}

/// For each recipient database, the indexes of the fan-outs it receives.
type ByRecipient<'f> = HashMap<&'f str, Vec<usize>>;

/// What a fan-out reports when `recipient`'s copy could not be committed.
fn copy_failed(recipient: &str) -> String {
    format!(
        "cannot store the message for {recipient}; it will be completed when the server restarts"
    )
}

/// For each fan-out, whether it succeeded.
type Outcomes = Vec<Result<(), HttpError>>;

/// Each fan-out's outcome from the failures recorded for it.
fn outcomes(failed: &[Option<String>]) -> Outcomes {
    failed
        .iter()
        .map(|f| {
            f.clone()
                .map_or(Ok(()), |m| Err(HttpError::Internal(anyhow::anyhow!(m))))
        })
        .collect()
}

/// A change and who receives it.
pub struct Fanout {
    pub change: Change,
    pub recipients: Vec<String>,
}

impl Fanout {
    /// Who sent it, for a new message.
    fn sender(&self) -> Option<&str> {
        match &self.change {
            Change::Insert { sender, .. } => Some(sender),
            _ => None,
        }
    }

    fn to_json(&self) -> String {
        Json::obj([
            ("change", self.change.to_json()),
            (
                "recipients",
                Json::Arr(
                    self.recipients
                        .iter()
                        .map(|r| Json::str(r.as_str()))
                        .collect(),
                ),
            ),
        ])
        .to_json_string()
    }

    fn from_json(text: &str) -> Option<Fanout> {
        let v = json::parse(text).ok()?;
        let change = Change::from_json(v.get("change")?)?;
        let Json::Arr(recipients) = v.get("recipients")? else {
            return None;
        };
        let recipients = recipients
            .iter()
            .map(|r| r.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()?;
        Some(Fanout { change, recipients })
    }
}

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

pub struct Writer<'c> {
    pub ctx: &'c Ctx,
    pub auth: Connection,
    pub presence: Connection,
    users: BTreeSet<String>,
    auth_version: i64,
    databases: HashMap<String, (Connection, u64)>,
    clock: u64,
    /// How many threads apply a large fan-out.
    threads: usize,
    last_ts: HashMap<String, f64>,
}

/// Runs the writer until `ctx.store` is stopped and drained.
pub fn run(ctx: &Ctx) {
    let mut writer = match Writer::open(ctx) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: the writer cannot start: {e:#}");
            ctx.store.stop();
            fail_all(ctx);
            return;
        }
    };
    loop {
        let jobs = ctx.store.take_batch();
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

fn fail_all(ctx: &Ctx) {
    // Dropping the jobs drops their reply senders: waiting requests get an error.
    while !ctx.store.take_batch().is_empty() {}
}

/// Completes fan-outs a crash interrupted (run at startup, before serving).
pub fn repair(ctx: &Ctx) -> anyhow::Result<usize> {
    let presence = ctx.presence_db.get()?;
    let entries = db::presence::journal_entries(&presence)?;
    for (id, payload) in &entries {
        match Fanout::from_json(payload) {
            Some(fanout) => {
                for recipient in &fanout.recipients {
                    let Ok(user) = Username::parse_existing(recipient) else {
                        continue;
                    };
                    if let Some(conn) =
                        db::open_existing(&db::user::path(&ctx.data_dir, &user), Kind::User)?
                    {
                        fanout.change.apply(&conn, recipient, true)?;
                    }
                }
            }
            None => eprintln!("warning: dropping an unreadable fan-out journal entry {id}"),
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
            eprintln!(
                "error: the writer failed on {what} (a panic, logged above); its requests were \
                 answered 500, interrupted deliveries will be completed at the next start"
            );
            // Only the writer holds databases, and it holds none between jobs.
            self.ctx.user_dbs.release_all();
        }
    }

    pub fn open(ctx: &'c Ctx) -> anyhow::Result<Writer<'c>> {
        let auth = db::open(ctx.auth_db.path(), Kind::Auth)?;
        let presence = db::open(ctx.presence_db.path(), Kind::Presence)?;
        // The journal is written on every fan-out: checkpointed in the background too.
        db::maintenance::disable_autocheckpoint(&presence)?;
        let mut writer = Writer {
            ctx,
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
                db::open_existing(&db::user::path(&self.ctx.data_dir, &name), Kind::User)?
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

    /// A fresh ts for `channel`: now, to the microsecond, strictly after the last one.
    fn next_ts(&mut self, channel: &str, sender: &str) -> f64 {
        let last = match self.last_ts.get(channel) {
            Some(ts) => *ts,
            None => self
                .database(sender)
                .ok()
                .flatten()
                .and_then(|conn| db::user::max_ts(conn, channel).ok().flatten())
                .unwrap_or(0.0),
        };
        let mut ts = messages::round_ts(crate::util::now());
        while ts <= last {
            ts = messages::round_ts(last.max(ts) + 1e-6);
        }
        self.last_ts.insert(channel.to_owned(), ts);
        ts
    }

    fn post_batch(&mut self, posts: Vec<(Post, SyncSender<Result<Json, HttpError>>)>) {
        if posts.is_empty() {
            return;
        }
        let mut fanouts = Vec::with_capacity(posts.len());
        let mut replies = Vec::with_capacity(posts.len());
        for (post, reply) in posts {
            match self.prepare_post(post) {
                Ok(fanout) => {
                    fanouts.push(fanout);
                    replies.push(reply);
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            }
        }
        // Journalled first (from then on certain to reach every copy, at the latest after a
        // restart); acknowledged once the senders' own copies are committed, so a sender reads
        // what they sent; then announced, and the other copies committed in this same turn of
        // the writer, before any later job. Readers of a copy not yet committed wait for it
        // (`UserDbs::hold`).
        let (journal_ids, by_recipient) = match self.begin_fan_out(&fanouts) {
            Ok(begun) => begun,
            Err(failed) => {
                for (reply, outcome) in replies.into_iter().zip(failed) {
                    let _ = reply.send(outcome.map(|()| Json::Null));
                }
                return;
            }
        };
        if cfg!(debug_assertions) {
            for fanout in &fanouts {
                fault_check("batch", fanout.sender().unwrap_or(""), &fanout.change);
            }
        }
        let rendered: Vec<(Json, Arc<str>)> =
            fanouts.iter().map(|f| self.render_insert(f)).collect();
        let (mine, others): (ByRecipient, ByRecipient) = by_recipient
            .into_iter()
            .partition(|(recipient, _)| fanouts.iter().any(|f| f.sender() == Some(recipient)));
        let mut failed = vec![None; fanouts.len()];
        let failed_senders = self.commit_round(&fanouts, mine, &mut failed);
        for ((reply, fanout), (message, _)) in replies.into_iter().zip(&fanouts).zip(&rendered) {
            let outcome = match fanout.sender() {
                Some(sender) if failed_senders.iter().any(|f| f == sender) => {
                    Err(HttpError::Internal(anyhow::anyhow!(copy_failed(sender))))
                }
                _ => Ok(message.clone()),
            };
            let _ = reply.send(outcome);
        }
        self.ctx.hub.send_each(
            fanouts
                .iter()
                .zip(&rendered)
                .map(|(fanout, (_, event))| (fanout.recipients.iter().map(String::as_str), event)),
        );
        self.commit_round(&fanouts, others, &mut failed);
        self.finish_fan_out(&journal_ids, &failed);
    }

    fn prepare_post(&mut self, post: Post) -> Result<Fanout, HttpError> {
        let channel = post.channel.to_string();
        let sender = post.sender.as_str().to_owned();
        let recipients = self.recipients(&post.channel)?;
        if !recipients.contains(&sender) {
            return Err(HttpError::Forbidden(
                "You can no longer post in this conversation".into(),
            ));
        }
        let originals = self.claim_uploads(&sender, &post.files)?;
        let ts = self.next_ts(&channel, &sender);
        let mentions = self.mentions_in(&post.text)?;
        let reply_metadata = post
            .reply_to
            .map(|(parent_ts, _)| messages::reply_metadata(parent_ts));
        let mut rows = Vec::with_capacity(1 + post.files.len());
        if !post.text.trim().is_empty() {
            rows.push(RowData {
                content: post.text,
                content_type: "text".into(),
                filename: None,
                reply_to_id: post.reply_to.map(|(_, id)| id),
                mentions,
                metadata: reply_metadata,
            });
        }
        for (name, original) in post.files.into_iter().zip(originals) {
            // A message of files only carries its reply on the first file row.
            let reply = if rows.is_empty() { post.reply_to } else { None };
            let mut metadata = vec![("original".to_owned(), Json::Str(original))];
            if let Some((parent_ts, _)) = reply {
                metadata.push(("reply_to_ts".to_owned(), Json::Num(parent_ts)));
            }
            rows.push(RowData {
                content: String::new(),
                content_type: "text".into(),
                filename: Some(name),
                reply_to_id: reply.map(|(_, id)| id),
                mentions: None,
                metadata: Some(Json::Obj(metadata).to_json_string()),
            });
        }
        let change = Change::Insert {
            channel,
            ts,
            sender: sender.clone(),
            read_by: Some(sender),
            rows,
        };
        Ok(Fanout { change, recipients })
    }

    /// Checks that every upload exists, is the sender's and is not attached yet, and marks
    /// them attached; returns their original names.
    fn claim_uploads(&mut self, sender: &str, names: &[String]) -> Result<Vec<String>, HttpError> {
        let mut originals = Vec::with_capacity(names.len());
        for name in names {
            let upload = db::presence::upload(&self.presence, name)?.ok_or_else(|| {
                HttpError::BadRequest(format!("Unknown upload \"{name}\"; upload the file first"))
            })?;
            if upload.uploader != sender {
                return Err(HttpError::Forbidden(format!(
                    "\"{name}\" was uploaded by someone else"
                )));
            }
            if upload.attached_ts.is_some() {
                return Err(HttpError::Conflict(format!(
                    "\"{name}\" is already attached to a message; upload it again"
                )));
            }
            originals.push(upload.original);
        }
        let now = crate::util::now();
        for name in names {
            db::presence::mark_attached(&self.presence, name, now)?;
        }
        Ok(originals)
    }

    /// Posts a system notice into `channel` (read already for `actor`) and announces it.
    pub fn post_system(
        &mut self,
        channel: &ChannelId,
        text: &str,
        actor: Option<&str>,
    ) -> Result<Json, HttpError> {
        let channel_text = channel.to_string();
        let recipients = self.recipients(channel)?;
        let ts = self.next_ts(&channel_text, actor.unwrap_or("system"));
        let rows = vec![RowData {
            content: text.to_owned(),
            content_type: "system".into(),
            filename: None,
            reply_to_id: None,
            mentions: None,
            metadata: None,
        }];
        let change = Change::Insert {
            channel: channel_text,
            ts,
            sender: "system".into(),
            read_by: actor.map(str::to_owned),
            rows,
        };
        let fanout = Fanout { change, recipients };
        let (mut outcomes, message) = self.fan_out(std::slice::from_ref(&fanout), |w| {
            w.announce_insert(&fanout)
        });
        outcomes.remove(0)?;
        message.ok_or_else(|| HttpError::Internal(anyhow::anyhow!("the notice was not recorded")))
    }

    /// Journals, applies and commits `fanouts` (one transaction per recipient database) and
    /// reports, for each, whether every copy is committed. `journalled` runs once they are
    /// journalled, before the copies: it announces them.
    pub fn fan_out<T>(
        &mut self,
        fanouts: &[Fanout],
        journalled: impl FnOnce(&Self) -> T,
    ) -> (Outcomes, Option<T>) {
        let (journal_ids, by_recipient) = match self.begin_fan_out(fanouts) {
            Ok(begun) => begun,
            Err(failed) => return (failed, None),
        };
        let announced = journalled(self);
        let mut failed = vec![None; fanouts.len()];
        self.commit_round(fanouts, by_recipient, &mut failed);
        self.finish_fan_out(&journal_ids, &failed);
        (outcomes(&failed), Some(announced))
    }

    /// Journals `fanouts` and marks every recipient's database as held until its copy is
    /// committed; returns the journal ids and, per recipient, the fan-outs they receive. On
    /// failure nothing is written and every fan-out gets the error.
    fn begin_fan_out<'f>(
        &mut self,
        fanouts: &'f [Fanout],
    ) -> Result<(Vec<i64>, ByRecipient<'f>), Outcomes> {
        let journal_ids = self.journal(fanouts).map_err(|e| {
            let message = format!("cannot record the change: {e:#}");
            fanouts
                .iter()
                .map(|_| Err(HttpError::Internal(anyhow::anyhow!(message.clone()))))
                .collect::<Vec<_>>()
        })?;
        let mut by_recipient: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, fanout) in fanouts.iter().enumerate() {
            for recipient in &fanout.recipients {
                by_recipient.entry(recipient.as_str()).or_default().push(i);
            }
        }
        self.ctx.user_dbs.hold(by_recipient.keys().copied());
        Ok((journal_ids, by_recipient))
    }

    /// Removes the journal entries of the fan-outs whose every copy is committed; the others
    /// are completed at the next start.
    fn finish_fan_out(&mut self, journal_ids: &[i64], failed: &[Option<String>]) {
        let done: Vec<i64> = journal_ids
            .iter()
            .zip(failed)
            .filter(|(_, f)| f.is_none())
            .map(|(id, _)| *id)
            .collect();
        if let Err(e) = self.unjournal(&done) {
            eprintln!("warning: cannot clear the fan-out journal: {e:#}");
        }
    }

    /// Commits one round of copies, lets their readers go on and tells recipients whose
    /// sidebar changed; records failures in `failed` (by fan-out) and returns the recipients
    /// whose copies failed.
    fn commit_round(
        &mut self,
        fanouts: &[Fanout],
        by_recipient: HashMap<&str, Vec<usize>>,
        failed: &mut [Option<String>],
    ) -> Vec<String> {
        let mut sidebar_changed: Vec<String> = Vec::new();
        let mut failed_recipients = Vec::new();
        let round: Vec<String> = by_recipient.keys().map(|r| (*r).to_owned()).collect();
        for (recipient, indexes, outcome) in self.apply_all(fanouts, by_recipient) {
            match outcome {
                Ok(true) => sidebar_changed.push(recipient.clone()),
                Ok(false) => {}
                Err(e) => {
                    eprintln!("error: cannot write to users/{recipient}.db: {e:#}");
                    for i in indexes {
                        failed[i] = Some(copy_failed(&recipient));
                    }
                    failed_recipients.push(recipient);
                }
            }
        }
        self.ctx.user_dbs.release(round.iter().map(String::as_str));
        if !sidebar_changed.is_empty() {
            let frame: Arc<str> = Arc::from(r#"{"type":"channels"}"#);
            self.ctx
                .hub
                .send_to(sidebar_changed.iter().map(String::as_str), &frame);
        }
        failed_recipients
    }

    /// Applies every recipient's share of `fanouts`, one transaction per database. Large
    /// fan-outs are spread over the cores: each database is independent, so its transaction
    /// can run on any thread.
    fn apply_all(
        &mut self,
        fanouts: &[Fanout],
        by_recipient: HashMap<&str, Vec<usize>>,
    ) -> Vec<(String, Vec<usize>, anyhow::Result<bool>)> {
        let mut results = Vec::with_capacity(by_recipient.len());
        let mut jobs: Vec<(String, Connection, Vec<usize>)> =
            Vec::with_capacity(by_recipient.len());
        for (recipient, indexes) in by_recipient {
            match self.database(recipient) {
                Ok(Some(_)) => {
                    let (conn, _) = self.databases.remove(recipient).expect("opened just above");
                    jobs.push((recipient.to_owned(), conn, indexes));
                }
                // An account whose database is gone (e.g. removed by hand) receives nothing.
                Ok(None) => {}
                Err(e) => results.push((recipient.to_owned(), indexes, Err(e))),
            }
        }
        let threads = if jobs.len() >= PARALLEL_FAN_OUT {
            self.threads
        } else {
            1
        };
        let chunk = jobs.len().div_ceil(threads).max(1);
        let applied: Vec<(String, Connection, Vec<usize>, anyhow::Result<bool>)> =
            std::thread::scope(|scope| {
                let mut chunks = Vec::new();
                while !jobs.is_empty() {
                    let rest = jobs.split_off(chunk.min(jobs.len()));
                    chunks.push(std::mem::replace(&mut jobs, rest));
                }
                let run = |chunk: Vec<(String, Connection, Vec<usize>)>| {
                    chunk
                        .into_iter()
                        .map(|(recipient, conn, indexes)| {
                            // A panic fails this copy only: it stays journalled.
                            let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| {
                                apply_to(&conn, &recipient, fanouts, &indexes)
                            })) {
                                Ok(applied) => applied.map_err(anyhow::Error::from),
                                Err(_) => {
                                    db::maintenance::rollback(&conn);
                                    Err(anyhow::anyhow!("the copy panicked (logged above)"))
                                }
                            };
                            (recipient, conn, indexes, outcome)
                        })
                        .collect::<Vec<_>>()
                };
                let mut chunks = chunks.into_iter();
                let first = chunks.next();
                let handles: Vec<_> = chunks.map(|c| scope.spawn(move || run(c))).collect();
                let mut out = first.map(run).unwrap_or_default();
                for handle in handles {
                    out.extend(handle.join().unwrap_or_default());
                }
                out
            });
        self.ctx.checkpoints.mark(
            applied
                .iter()
                .filter_map(|(_, conn, ..)| conn.path().map(std::path::Path::new)),
        );
        for (recipient, conn, indexes, outcome) in applied {
            self.clock += 1;
            self.databases.insert(recipient.clone(), (conn, self.clock));
            results.push((recipient, indexes, outcome));
        }
        results
    }

    fn journal(&mut self, fanouts: &[Fanout]) -> rusqlite::Result<Vec<i64>> {
        let tx = self
            .presence
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let ids = fanouts
            .iter()
            .map(|f| db::presence::journal_add(&tx, &f.to_json()))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        tx.commit()?;
        self.mark_presence();
        Ok(ids)
    }

    fn mark_presence(&self) {
        self.ctx
            .checkpoints
            .mark(std::iter::once(self.ctx.presence_db.path()));
    }

    fn unjournal(&mut self, ids: &[i64]) -> rusqlite::Result<()> {
        let tx = self
            .presence
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for id in ids {
            db::presence::journal_remove(&tx, *id)?;
        }
        tx.commit()?;
        self.mark_presence();
        Ok(())
    }

    /// The message object of an insert, and its `message` event.
    fn render_insert(&self, fanout: &Fanout) -> (Json, Arc<str>) {
        let Change::Insert {
            channel,
            ts,
            sender,
            rows,
            ..
        } = &fanout.change
        else {
            unreachable!("render_insert is only called for inserts")
        };
        let stored: Vec<db::user::StoredRow> = rows
            .iter()
            .map(|r| db::user::StoredRow {
                channel: channel.clone(),
                sender: sender.clone(),
                content: Some(r.content.clone()),
                content_type: Some(r.content_type.clone()),
                filename: r.filename.clone(),
                ts: *ts,
                edited_ts: None,
                deleted: false,
                reply_to_id: r.reply_to_id,
                metadata: r.metadata.clone(),
            })
            .collect();
        let reply = match stored
            .first()
            .and_then(|r| messages::reply_ts_from_metadata(r.metadata.as_deref()))
        {
            Some(parent) => messages::ReplyTarget::Found(parent),
            None => messages::ReplyTarget::None,
        };
        let message = messages::render(
            &stored,
            &Vec::new(),
            reply,
            &self.ctx.data_dir.join("uploads"),
        );
        let event = Json::obj([("type", "message".into()), ("message", message.clone())]);
        (message, Arc::from(event.to_json_string()))
    }

    /// Sends the `message` event for an insert and returns the message object.
    fn announce_insert(&self, fanout: &Fanout) -> Json {
        let (message, event) = self.render_insert(fanout);
        self.ctx
            .hub
            .send_to(fanout.recipients.iter().map(String::as_str), &event);
        message
    }

    /// Applies a change to a message (edit, delete, reactions) for everyone who can read the
    /// channel, then sends `message_updated` with the message as `viewer` now sees it.
    pub fn update_message(
        &mut self,
        channel: &ChannelId,
        change: Change,
        viewer: &str,
    ) -> Result<Json, HttpError> {
        debug_assert_eq!(change.channel(), channel.to_string());
        let recipients = self.recipients(channel)?;
        let fanout = Fanout { change, recipients };
        self.fan_out(std::slice::from_ref(&fanout), |_| ())
            .0
            .remove(0)?;
        let (channel_text, ts) = match &fanout.change {
            Change::Insert { channel, ts, .. }
            | Change::Edit { channel, ts, .. }
            | Change::Delete { channel, ts, .. }
            | Change::Reactions { channel, ts, .. } => (channel.clone(), *ts),
        };
        let Some(conn) = self.database(viewer)? else {
            return Err(HttpError::NotFound);
        };
        let rows = db::user::message_rows(conn, &channel_text, ts)?;
        if rows.is_empty() {
            return Err(HttpError::NotFound);
        }
        let message = crate::history::render_one(self.ctx, &self.presence, &rows)?;
        let event = Json::obj([
            ("type", "message_updated".into()),
            ("message", message.clone()),
        ]);
        self.ctx.hub.send_to(
            fanout.recipients.iter().map(String::as_str),
            &Arc::from(event.to_json_string()),
        );
        Ok(message)
    }

    /// Creates an account and its database, seeded with the public channels' history, in step
    /// with fan-out so no message sent meanwhile is missed. Returns false if the name is taken.
    pub fn create_account(
        &mut self,
        username: &Username,
        password_hash: &str,
    ) -> Result<bool, HttpError> {
        self.refresh_users()?;
        let tx = self
            .auth
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if db::auth::find_user(&tx, username.as_str())?.is_some() {
            return Ok(false);
        }
        let path = db::user::path(&self.ctx.data_dir, username);
        // Whatever is there belongs to no live account (a deleted one, or an interrupted
        // signup): a re-registered name starts with a fresh database.
        self.databases.remove(username.as_str());
        self.ctx.user_dbs.forget(username.as_str());
        crate::accounts::remove_database_files(&path).map_err(anyhow::Error::from)?;
        let conn = db::open(&path, Kind::User)?;
        let source = self.users.iter().find_map(|u| {
            let name = Username::parse_existing(u).ok()?;
            let source = db::user::path(&self.ctx.data_dir, &name);
            source.exists().then_some(source)
        });
        if let Some(source) = source {
            db::maintenance::seed_history(&conn, &source, &self.ctx.settings.channels)?;
        }
        drop(conn);
        let committed =
            db::auth::insert_user(&tx, username.as_str(), password_hash).and_then(|()| tx.commit());
        if let Err(e) = committed {
            let _ = crate::accounts::remove_database_files(&path);
            return Err(e.into());
        }
        self.users.insert(username.as_str().to_owned());
        self.auth_version = db::maintenance::data_version(&self.auth)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_entries_round_trip() {
        let fanout = Fanout {
            change: Change::Insert {
                channel: "dm:a:b".into(),
                ts: 1716000000.5,
                sender: "a".into(),
                read_by: Some("a".into()),
                rows: vec![RowData {
                    content: "hi \"there\"".into(),
                    content_type: "text".into(),
                    filename: None,
                    reply_to_id: Some(7),
                    mentions: Some(r#"["b"]"#.into()),
                    metadata: Some(messages::reply_metadata(1.5)),
                }],
            },
            recipients: vec!["a".into(), "b".into()],
        };
        let back = Fanout::from_json(&fanout.to_json()).unwrap();
        assert_eq!(back.recipients, fanout.recipients);
        assert_eq!(format!("{:?}", back.change), format!("{:?}", fanout.change));
        for change in [
            Change::Edit {
                channel: "g".into(),
                ts: 2.0,
                text: "x".into(),
                edited_ts: 3.0,
                mentions: None,
            },
            Change::Delete {
                channel: "g".into(),
                ts: 2.0,
                deleted_ts: 3.0,
            },
            Change::Reactions {
                channel: "g".into(),
                ts: 2.0,
                reactions: "{}".into(),
                reactions_ts: 3.0,
            },
        ] {
            let f = Fanout {
                change,
                recipients: vec![],
            };
            assert_eq!(
                format!("{:?}", Fanout::from_json(&f.to_json()).unwrap().change),
                format!("{:?}", f.change)
            );
        }
    }
}
