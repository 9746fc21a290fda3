//! Reading conversations: a user's stored rows rendered as message objects, with reactions
//! from presence.db and reply targets resolved the Python original's way (through the
//! sender's database) when a row does not record its parent's ts.

use crate::ctx::Ctx;
use crate::db::{self, user::StoredRow};
use crate::http::HttpError;
use crate::json::Json;
use crate::messages::{self, ReplyTarget};
use crate::names::Username;
use rusqlite::Connection;
use std::collections::HashMap;

/// Renders rows (one channel, ordered by ts) as message objects, oldest first.
pub fn render_rows(
    ctx: &Ctx,
    presence: &Connection,
    rows: Vec<StoredRow>,
) -> Result<Vec<Json>, HttpError> {
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
    let uploads = ctx.data_dir.join("uploads");
    let mut out = Vec::with_capacity(groups.len());
    for group in &groups {
        let pairs = reactions
            .get(&group[0].ts.to_bits())
            .map(Vec::as_slice)
            .unwrap_or_default();
        let reactions =
            messages::collect_reactions(pairs.iter().map(|(e, r)| (e.as_str(), r.as_str())));
        let reply = reply_target(ctx, group)?;
        out.push(messages::render(group, &reactions, reply, &uploads));
    }
    Ok(out)
}

/// Renders one message's rows.
pub fn render_one(ctx: &Ctx, presence: &Connection, rows: &[StoredRow]) -> Result<Json, HttpError> {
    let mut rendered = render_rows(ctx, presence, rows.to_vec())?;
    rendered.pop().ok_or(HttpError::NotFound)
}

fn reply_target(ctx: &Ctx, rows: &[StoredRow]) -> Result<ReplyTarget, HttpError> {
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
    let Some(conn) = ctx.user_dbs.get(&sender)? else {
        return Ok(ReplyTarget::Unavailable);
    };
    Ok(match db::user::locate(&conn, parent_id)? {
        Some((channel, ts)) if channel == row.channel => ReplyTarget::Found(ts),
        _ => ReplyTarget::Unavailable,
    })
}
