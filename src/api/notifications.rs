//! Notification choices, one person's own and shared by all their tabs and devices:
//! `GET`/`PUT /api/notifications` (do-not-disturb, and every conversation's level) and
//! `PUT /api/channels/{ch}/notifications` (one conversation's level: `all`, `mentions` — which
//! takes in direct messages — or `muted`). Every change sends `notifications` to their tabs.

use super::ctx::Ctx;
use super::{open_channel, own_db, require_user, AuthUser};
use crate::base::json::Json;
use crate::db;
use crate::http::{HttpError, Request, Response};
use std::sync::Arc;

pub const LEVELS: [&str; 3] = ["all", "mentions", "muted"];

/// The caller's choices: `{"dnd": bool, "levels": {"<channel>": "mentions"|"muted"}}`.
fn choices(ctx: &Ctx, user: &AuthUser) -> Result<Json, HttpError> {
    let conn = own_db(ctx, user)?;
    let mut levels: Vec<(String, String)> =
        db::user::notification_levels(&conn)?.into_iter().collect();
    levels.sort();
    Ok(Json::obj([
        ("dnd", Json::Bool(db::user::do_not_disturb(&conn)?)),
        (
            "levels",
            Json::Obj(levels.into_iter().map(|(c, l)| (c, Json::Str(l))).collect()),
        ),
    ]))
}

/// Tells every tab of the caller what their choices are now.
fn announce(ctx: &Ctx, user: &AuthUser, choices: &Json) {
    let event = Json::obj([
        ("type", "notifications".into()),
        ("choices", choices.clone()),
    ]);
    ctx.hub
        .send_to([user.name.as_str()], &Arc::from(event.to_json_string()));
}

/// GET /api/notifications
pub fn get_notifications(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    Ok(Response::json(200, &choices(ctx, &user)?))
}

/// PUT /api/notifications {dnd}
pub fn put_notifications(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let body = req.json()?;
    let Some(Json::Bool(dnd)) = body.get("dnd") else {
        return Err(HttpError::BadRequest(
            "Send {\"dnd\": true} or {\"dnd\": false}".into(),
        ));
    };
    db::user::set_do_not_disturb(&*own_db(ctx, &user)?, *dnd)?;
    let now = choices(ctx, &user)?;
    announce(ctx, &user, &now);
    Ok(Response::json(200, &now))
}

/// PUT /api/channels/{ch}/notifications {level}
pub fn put_channel_level(
    ctx: &Ctx,
    req: &mut Request,
    channel: &str,
) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let body = req.json()?;
    let channel = open_channel(ctx, &user, channel)?.to_string();
    let level = body
        .get("level")
        .and_then(Json::as_str)
        .filter(|l| LEVELS.contains(l))
        .ok_or_else(|| {
            HttpError::BadRequest("\"level\" must be \"all\", \"mentions\" or \"muted\"".into())
        })?;
    db::user::set_notification_level(&*own_db(ctx, &user)?, &channel, level)?;
    let now = choices(ctx, &user)?;
    announce(ctx, &user, &now);
    Ok(Response::json(200, &now))
}
