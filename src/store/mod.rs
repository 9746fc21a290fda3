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
mod change;
pub mod core;
mod fan_out;
pub mod private_channels;
mod queue;

pub use change::{Change, Fanout, RowData};
use fan_out::{copy_failed, fault_check, ByRecipient};
use queue::Job;
pub use queue::{Post, Store};

use crate::base::json::Json;
use crate::base::names::Username;
use crate::db::{self, Kind};
use crate::model::channels::ChannelId;
use crate::model::messages;
use crate::model::Refusal;
use crate::store::core::Core;
use rusqlite::{Connection, TransactionBehavior};
use std::collections::{BTreeSet, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;

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
}

/// Runs the writer until `core.store` is stopped and drained.
pub fn run(core: &Core) {
    let mut writer = match Writer::open(core) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: the writer cannot start: {e:#}");
            core.store.stop();
            fail_all(core);
            return;
        }
    };
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
        let mut ts = messages::round_ts(crate::base::util::now());
        while ts <= last {
            ts = messages::round_ts(last.max(ts) + 1e-6);
        }
        self.last_ts.insert(channel.to_owned(), ts);
        ts
    }

    fn post_batch(&mut self, posts: Vec<(Post, SyncSender<Result<Json, Refusal>>)>) {
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
                    Err(Refusal::Failed(anyhow::anyhow!(copy_failed(sender))))
                }
                _ => Ok(message.clone()),
            };
            let _ = reply.send(outcome);
        }
        self.core.hub.send_each(
            fanouts
                .iter()
                .zip(&rendered)
                .map(|(fanout, (_, event))| (fanout.recipients.iter().map(String::as_str), event)),
        );
        self.commit_round(&fanouts, others, &mut failed);
        self.finish_fan_out(&journal_ids, &failed);
    }

    fn prepare_post(&mut self, post: Post) -> Result<Fanout, Refusal> {
        let channel = post.channel.to_string();
        let sender = post.sender.as_str().to_owned();
        let recipients = self.recipients(&post.channel)?;
        if !recipients.contains(&sender) {
            return Err(Refusal::Forbidden(
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
    fn claim_uploads(&mut self, sender: &str, names: &[String]) -> Result<Vec<String>, Refusal> {
        let mut originals = Vec::with_capacity(names.len());
        for name in names {
            let upload = db::presence::upload(&self.presence, name)?.ok_or_else(|| {
                Refusal::Invalid(format!("Unknown upload \"{name}\"; upload the file first"))
            })?;
            if upload.uploader != sender {
                return Err(Refusal::Forbidden(format!(
                    "\"{name}\" was uploaded by someone else"
                )));
            }
            if upload.attached_ts.is_some() {
                return Err(Refusal::Conflict(format!(
                    "\"{name}\" is already attached to a message; upload it again"
                )));
            }
            originals.push(upload.original);
        }
        let now = crate::base::util::now();
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
    ) -> Result<Json, Refusal> {
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
        message.ok_or_else(|| Refusal::Failed(anyhow::anyhow!("the notice was not recorded")))
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
            &self.core.data_dir.join("uploads"),
        );
        let event = Json::obj([("type", "message".into()), ("message", message.clone())]);
        (message, Arc::from(event.to_json_string()))
    }

    /// Sends the `message` event for an insert and returns the message object.
    fn announce_insert(&self, fanout: &Fanout) -> Json {
        let (message, event) = self.render_insert(fanout);
        self.core
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
    ) -> Result<Json, Refusal> {
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
            return Err(Refusal::NotFound);
        };
        let rows = db::user::message_rows(conn, &channel_text, ts)?;
        if rows.is_empty() {
            return Err(Refusal::NotFound);
        }
        let message = crate::model::history::render_one(self.core, &self.presence, &rows)?;
        let event = Json::obj([
            ("type", "message_updated".into()),
            ("message", message.clone()),
        ]);
        self.core.hub.send_to(
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
    ) -> Result<bool, Refusal> {
        self.refresh_users()?;
        let tx = self
            .auth
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if db::auth::find_user(&tx, username.as_str())?.is_some() {
            return Ok(false);
        }
        let path = db::user::path(&self.core.data_dir, username);
        // Whatever is there belongs to no live account (a deleted one, or an interrupted
        // signup): a re-registered name starts with a fresh database.
        self.databases.remove(username.as_str());
        self.core.user_dbs.forget(username.as_str());
        crate::store::accounts::remove_database_files(&path).map_err(anyhow::Error::from)?;
        let conn = db::open(&path, Kind::User)?;
        let source = self.users.iter().find_map(|u| {
            let name = Username::parse_existing(u).ok()?;
            let source = db::user::path(&self.core.data_dir, &name);
            source.exists().then_some(source)
        });
        if let Some(source) = source {
            db::maintenance::seed_history(&conn, &source, &self.core.settings.channels)?;
        }
        drop(conn);
        let committed =
            db::auth::insert_user(&tx, username.as_str(), password_hash).and_then(|()| tx.commit());
        if let Err(e) = committed {
            let _ = crate::store::accounts::remove_database_files(&path);
            return Err(e.into());
        }
        self.users.insert(username.as_str().to_owned());
        self.auth_version = db::maintenance::data_version(&self.auth)?;
        Ok(true)
    }
}
