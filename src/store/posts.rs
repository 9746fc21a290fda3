//! Posting on the writer: ids (`ts`) unique per channel, uploads claimed by their sender,
//! mentions, group commit of a batch of new messages (journal, the senders' copies, the 201s,
//! the `message` event, then every other copy), and system notices.

use super::fan_out::{copy_failed, fault_check, ByRecipient};
use super::{Change, Fanout, Post, RowData, Writer};
use crate::base::json::Json;
use crate::db;
use crate::model::channels::ChannelId;
use crate::model::messages;
use crate::model::Refusal;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;

impl Writer<'_> {
    /// A fresh ts for `channel`: now, to the microsecond, strictly after the last one.
    pub(super) fn next_ts(&mut self, channel: &str, sender: &str) -> f64 {
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

    pub(super) fn post_batch(&mut self, posts: Vec<(Post, SyncSender<Result<Json, Refusal>>)>) {
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

    pub(super) fn prepare_post(&mut self, post: Post) -> Result<Fanout, Refusal> {
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
    pub(super) fn claim_uploads(
        &mut self,
        sender: &str,
        names: &[String],
    ) -> Result<Vec<String>, Refusal> {
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
    pub(super) fn render_insert(&self, fanout: &Fanout) -> (Json, Arc<str>) {
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
                mentions: r.mentions.clone(),
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
    pub(super) fn announce_insert(&self, fanout: &Fanout) -> Json {
        let (message, event) = self.render_insert(fanout);
        self.core
            .hub
            .send_to(fanout.recipients.iter().map(String::as_str), &event);
        message
    }
}
