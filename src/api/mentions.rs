//! `GET /api/mentions`: the newest messages that mention the caller — by name, or with
//! `@everyone`, `@channel` or `@here` — across every conversation they can read now, newest
//! first, each with whether it is still unread.

use super::ctx::Ctx;
use super::own_db;
use super::require_user;
use crate::base::json::Json;
use crate::db;
use crate::http::{HttpError, Request, Response};
use crate::model::channels;

const DEFAULT_MENTIONS: u32 = 50;
const MAX_MENTIONS: u32 = 200;

/// GET /api/mentions?before=<id>&limit=<n>
pub fn get_mentions(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let limit = super::limit_param(req, DEFAULT_MENTIONS, MAX_MENTIONS)?;
    let before = super::before_param(req)?.unwrap_or(f64::INFINITY);
    let me = user.name.as_str();
    let presence = ctx.presence_db.get()?;
    let readable = channels::readable_channels(&ctx.settings.channels, &presence, me)?;
    let conn = own_db(ctx, &user)?;
    let found = db::user::mentions_of(&conn, me, &readable, before, limit)?;
    let keys: Vec<(String, f64)> = found.iter().map(|(c, ts, _)| (c.clone(), *ts)).collect();
    let unread: std::collections::HashSet<(&str, u64)> = found
        .iter()
        .filter(|(_, _, read)| !read)
        .map(|(channel, ts, _)| (channel.as_str(), ts.to_bits()))
        .collect();
    let rendered = crate::model::history::render_messages(ctx, &conn, &presence, &keys)?;
    let list = rendered
        .into_iter()
        .map(|mut message| {
            let key = (
                message
                    .get("channel")
                    .and_then(Json::as_str)
                    .unwrap_or_default(),
                message
                    .get("ts")
                    .and_then(Json::as_f64)
                    .unwrap_or_default()
                    .to_bits(),
            );
            let is_unread = unread.contains(&key);
            if let Json::Obj(fields) = &mut message {
                fields.push(("unread".into(), Json::Bool(is_unread)));
            }
            message
        })
        .collect();
    Ok(Response::json(200, &Json::Arr(list)))
}
