//! Reading conversations: a user's stored rows rendered as message objects, with reactions
//! from presence.db and reply targets resolved the Python original's way (through the
//! sender's database) when a row does not record its parent's ts.

use crate::base::json::Json;
use crate::base::names::Username;
use crate::db::Databases;
use crate::db::{self, user::StoredRow, UserConnection, UserDbs};
use crate::model::messages::{self, ReplyTarget};
use crate::model::Refusal;
use rusqlite::Connection;
use std::collections::HashMap;

/// Senders' databases opened to resolve old-style replies: each at most once per request,
/// however many of its replies the request shows.
pub struct SenderDbs<'a> {
    user_dbs: &'a UserDbs,
    open: HashMap<String, Option<UserConnection<'a>>>,
    /// How many databases were looked up (each sender once).
    opened: usize,
}

impl<'a> SenderDbs<'a> {
    pub fn new(user_dbs: &'a UserDbs) -> SenderDbs<'a> {
        SenderDbs {
            user_dbs,
            open: HashMap::new(),
            opened: 0,
        }
    }

    /// `sender`'s database, opened on first use; `None` when it does not exist.
    fn get(&mut self, sender: &Username) -> Result<Option<&Connection>, Refusal> {
        if !self.open.contains_key(sender.as_str()) {
            let conn = self.user_dbs.get(sender)?;
            self.opened += 1;
            self.open.insert(sender.as_str().to_owned(), conn);
        }
        Ok(self.open.get(sender.as_str()).and_then(Option::as_deref))
    }
}

/// Renders rows (one channel, ordered by ts) as message objects, oldest first.
pub fn render_rows(
    dbs: &Databases,
    presence: &Connection,
    rows: Vec<StoredRow>,
) -> Result<Vec<Json>, Refusal> {
    render_rows_with(dbs, presence, rows, &mut SenderDbs::new(&dbs.user_dbs))
}

/// `render_rows`, sharing the senders' databases already open for this request.
pub fn render_rows_with(
    dbs: &Databases,
    presence: &Connection,
    rows: Vec<StoredRow>,
    senders: &mut SenderDbs,
) -> Result<Vec<Json>, Refusal> {
    let groups = messages::group_by_message(rows);
    let (Some(first), Some(last)) = (groups.first(), groups.last()) else {
        return Ok(Vec::new());
    };
    let channel = first[0].channel.clone();
    let mut reactions: HashMap<u64, Vec<(String, String)>> = HashMap::new();
    for (ts, emoji, reactor) in
        db::presence::reactions_between(presence, &channel, first[0].ts, last[0].ts)?
    {
        reactions
            .entry(ts.to_bits())
            .or_default()
            .push((emoji, reactor));
    }
    let uploads = dbs.data_dir.join("uploads");
    let mut out = Vec::with_capacity(groups.len());
    for group in &groups {
        let pairs = reactions.get(&group[0].ts.to_bits());
        out.push(render_group(group, pairs, senders, &uploads)?);
    }
    Ok(out)
}

/// One message from its rows and its (emoji, reactor) pairs.
fn render_group(
    group: &[StoredRow],
    reactions: Option<&Vec<(String, String)>>,
    senders: &mut SenderDbs,
    uploads: &std::path::Path,
) -> Result<Json, Refusal> {
    let pairs = reactions.map(Vec::as_slice).unwrap_or_default();
    let reactions =
        messages::collect_reactions(pairs.iter().map(|(e, r)| (e.as_str(), r.as_str())));
    let reply = reply_target(senders, group)?;
    Ok(messages::render(group, &reactions, reply, uploads))
}

/// Renders the messages at `keys` (channel, ts), from any channels, in that order; keys with
/// no rows are skipped. Two queries in all, whatever the number of messages (search results).
pub fn render_messages(
    dbs: &Databases,
    conn: &Connection,
    presence: &Connection,
    keys: &[(String, f64)],
) -> Result<Vec<Json>, Refusal> {
    let key = |channel: &str, ts: f64| (channel.to_owned(), ts.to_bits());
    let mut groups: HashMap<(String, u64), Vec<StoredRow>> = HashMap::new();
    for row in db::user::rows_of_messages(conn, keys)? {
        groups
            .entry(key(&row.channel, row.ts))
            .or_default()
            .push(row);
    }
    let mut reactions: HashMap<(String, u64), Vec<(String, String)>> = HashMap::new();
    for (channel, ts, emoji, reactor) in db::presence::reactions_of(presence, keys)? {
        reactions
            .entry(key(&channel, ts))
            .or_default()
            .push((emoji, reactor));
    }
    let uploads = dbs.data_dir.join("uploads");
    let mut senders = SenderDbs::new(&dbs.user_dbs);
    let mut out = Vec::with_capacity(keys.len());
    for (channel, ts) in keys {
        let Some(group) = groups.get(&key(channel, *ts)) else {
            continue;
        };
        let pairs = reactions.get(&key(channel, *ts));
        out.push(render_group(group, pairs, &mut senders, &uploads)?);
    }
    Ok(out)
}

/// Renders one message's rows.
pub fn render_one(
    dbs: &Databases,
    presence: &Connection,
    rows: &[StoredRow],
) -> Result<Json, Refusal> {
    render_one_with(dbs, presence, rows, &mut SenderDbs::new(&dbs.user_dbs))
}

/// `render_one`, sharing the senders' databases already open for this request.
pub fn render_one_with(
    dbs: &Databases,
    presence: &Connection,
    rows: &[StoredRow],
    senders: &mut SenderDbs,
) -> Result<Json, Refusal> {
    let mut rendered = render_rows_with(dbs, presence, rows.to_vec(), senders)?;
    rendered.pop().ok_or(Refusal::NotFound)
}

fn reply_target(senders: &mut SenderDbs, rows: &[StoredRow]) -> Result<ReplyTarget, Refusal> {
    let Some(row) = rows
        .iter()
        .find(|r| r.reply_to_id.is_some() || r.metadata.is_some())
    else {
        return Ok(ReplyTarget::None);
    };
    if let Some(ts) = messages::reply_ts_from_metadata(row.metadata.as_deref()) {
        return Ok(ReplyTarget::Found(ts));
    }
    let Some(parent_id) = row.reply_to_id else {
        return Ok(ReplyTarget::None);
    };
    // The id is a row of the sender's database: find the parent's (channel, ts) there.
    let Ok(sender) = Username::parse_existing(&row.sender) else {
        return Ok(ReplyTarget::Unavailable);
    };
    let Some(conn) = senders.get(&sender)? else {
        return Ok(ReplyTarget::Unavailable);
    };
    Ok(match db::user::locate(conn, parent_id)? {
        Some((channel, ts)) if channel == row.channel => ReplyTarget::Found(ts),
        _ => ReplyTarget::Unavailable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn old_reply(sender: &str, reply_to_id: i64, ts: f64) -> Vec<StoredRow> {
        vec![StoredRow {
            channel: "general".into(),
            sender: sender.into(),
            content: Some("a reply".into()),
            content_type: Some("text".into()),
            filename: None,
            ts,
            edited_ts: None,
            deleted: false,
            reply_to_id: Some(reply_to_id),
            metadata: None,
            mentions: None,
        }]
    }

    #[test]
    fn each_senders_database_is_opened_once_per_request() {
        let dir = std::env::temp_dir().join(format!(
            "mm-history-{}",
            crate::base::util::hex(&crate::base::util::random_bytes::<6>())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let bob = db::open(&dir.join("bob.db"), db::Kind::User).unwrap();
        for (id, ts) in [(1, 10.0), (2, 20.0), (3, 30.0)] {
            bob.execute(
                "INSERT INTO messages(id, channel, sender, content, ts) VALUES (?1, 'general', 'bob', 'hi', ?2)",
                rusqlite::params![id, ts],
            )
            .unwrap();
        }
        drop(bob);
        let user_dbs = UserDbs::new(dir.clone());
        let mut senders = SenderDbs::new(&user_dbs);
        let mut resolved = Vec::new();
        for (i, parent_id) in [1, 2, 3, 99].into_iter().enumerate() {
            let rows = old_reply("bob", parent_id, 100.0 + i as f64);
            resolved.push(reply_target(&mut senders, &rows).unwrap());
        }
        for (i, parent_id) in [1, 2].into_iter().enumerate() {
            let rows = old_reply("carol", parent_id, 200.0 + i as f64);
            resolved.push(reply_target(&mut senders, &rows).unwrap());
        }
        let found: Vec<Option<f64>> = resolved
            .iter()
            .map(|r| match r {
                ReplyTarget::Found(ts) => Some(*ts),
                _ => None,
            })
            .collect();
        assert_eq!(
            found,
            [Some(10.0), Some(20.0), Some(30.0), None, None, None],
            "an unknown parent or a missing database is unavailable"
        );
        assert!(matches!(resolved[5], ReplyTarget::Unavailable));
        assert_eq!(
            senders.opened, 2,
            "bob's database and carol's (missing) once each"
        );
        drop(senders);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
