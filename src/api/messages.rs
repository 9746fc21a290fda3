//! Messages in a channel: list (paging and catch-up), send, edit, delete, react. Every handler
//! checks the caller can read the channel; edits and deletes are the author's only.

use super::ctx::Ctx;
use super::{open_channel, own_db, require_user, str_field, AuthUser, DEFAULT_PAGE};
use crate::base::json::Json;
use crate::db;
use crate::http::{HttpError, Request, Response};
use crate::model::channels::{self, ChannelId};
use crate::model::messages::{self, MAX_TEXT_CHARS};
use crate::store::{Change, Post};

/// Most messages one page may hold.
const MAX_PAGE: u32 = 200;
/// Most messages one `after` catch-up returns.
const MAX_CATCH_UP: u32 = 1000;

/// GET /api/channels/{ch}/messages?limit=&before= | ?after=
pub fn get_messages(ctx: &Ctx, req: &mut Request, channel: &str) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let channel = open_channel(ctx, &user, channel)?.to_string();
    let conn = own_db(ctx, &user)?;
    let rows = if let Some(after) = req.query_param("after") {
        let since: f64 = after
            .parse()
            .ok()
            .filter(|t: &f64| t.is_finite())
            .ok_or_else(|| HttpError::BadRequest("\"after\" must be a ts (a number)".into()))?;
        db::user::changed_since(&conn, &channel, since, MAX_CATCH_UP)?
    } else {
        let limit = super::limit_param(req, DEFAULT_PAGE, MAX_PAGE)?;
        db::user::page(&conn, &channel, super::before_param(req)?, limit)?
    };
    drop(conn);
    let list = crate::model::history::render_rows(ctx, &*ctx.presence_db.get()?, rows)?;
    Ok(Response::json(200, &Json::Arr(list)))
}

/// POST /api/channels/{ch}/messages {text, reply_to?, files?}
pub fn post_message(ctx: &Ctx, req: &mut Request, channel: &str) -> Result<Response, HttpError> {
    super::require_room(ctx)?;
    let user = require_user(ctx, req)?;
    let body = req.json()?;
    let mut channel = open_channel(ctx, &user, channel)?;
    channels::require_writable(&channel)?;
    let text = optional_text(&body)?;
    let files = upload_names(&body)?;
    if text.trim().is_empty() && files.is_empty() {
        return Err(HttpError::BadRequest(
            "A message needs some text or a file".into(),
        ));
    }
    let conn = own_db(ctx, &user)?;
    if let ChannelId::Dm(names) = &channel {
        if !db::user::has_channel(&conn, &channel.to_string())? {
            channel = ChannelId::Dm(registered_participants(ctx, names)?);
        }
    }
    let reply_to = match body.get("reply_to") {
        None | Some(Json::Null) => None,
        Some(Json::Str(id)) => {
            let parent_ts = messages::parse_id(id)
                .ok_or_else(|| HttpError::BadRequest("\"reply_to\" must be a message id".into()))?;
            let row_id = db::user::first_row_id(&conn, &channel.to_string(), parent_ts)?
                .ok_or_else(|| {
                    HttpError::BadRequest(
                        "The message you are replying to does not exist in this channel".into(),
                    )
                })?;
            Some((parent_ts, row_id))
        }
        Some(_) => {
            return Err(HttpError::BadRequest(
                "\"reply_to\" must be a message id".into(),
            ))
        }
    };
    drop(conn);
    let channel_id = channel.to_string();
    let message = ctx.store.post(Post {
        sender: user.name.clone(),
        channel,
        text,
        reply_to,
        files,
    })?;
    ctx.hub.typing_ended(user.name.as_str(), &channel_id);
    Ok(Response::json(201, &message))
}

/// A new DM may only name registered users: their registered spellings, sorted.
fn registered_participants(ctx: &Ctx, names: &[String]) -> Result<Vec<String>, HttpError> {
    let registered = db::auth::usernames(&*ctx.auth_db.get()?)?;
    let mut canonical = Vec::with_capacity(names.len());
    let mut unknown = Vec::new();
    for name in names {
        match registered.iter().find(|u| u.eq_ignore_ascii_case(name)) {
            Some(user) => canonical.push(user.clone()),
            None => unknown.push(name.as_str()),
        }
    }
    if !unknown.is_empty() {
        return Err(crate::model::Refusal::unknown_users(&unknown).into());
    }
    canonical.sort();
    canonical.dedup();
    Ok(canonical)
}

/// Most files one message may carry.
const MAX_FILES: usize = 10;

fn upload_names(body: &Json) -> Result<Vec<String>, HttpError> {
    let names = match body.get("files") {
        None | Some(Json::Null) => return Ok(Vec::new()),
        Some(Json::Arr(names)) => names,
        Some(_) => {
            return Err(HttpError::BadRequest(
                "\"files\" must be a list of upload names".into(),
            ))
        }
    };
    if names.len() > MAX_FILES {
        return Err(HttpError::BadRequest(format!(
            "A message can carry at most {MAX_FILES} files"
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        let name = name.as_str().ok_or_else(|| {
            HttpError::BadRequest("\"files\" must be a list of upload names".into())
        })?;
        if !crate::files::uploads::is_stored_name(name) {
            return Err(HttpError::BadRequest(format!(
                "Unknown upload \"{name}\"; upload the file first"
            )));
        }
        if !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
    }
    Ok(out)
}

fn check_length(text: &str) -> Result<(), HttpError> {
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(HttpError::BadRequest(format!(
            "A message can be at most {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(())
}

fn optional_text(body: &Json) -> Result<String, HttpError> {
    let text = match body.get("text") {
        None | Some(Json::Null) if matches!(body, Json::Obj(_)) => String::new(),
        _ => str_field(body, "text")?.to_owned(),
    };
    check_length(&text)?;
    Ok(text)
}

/// The caller's copy of message `id` in `channel`, which must be theirs to change.
fn own_message(
    ctx: &Ctx,
    user: &AuthUser,
    channel: &ChannelId,
    id: &str,
) -> Result<f64, HttpError> {
    let ts = messages::parse_id(id).ok_or(HttpError::NotFound)?;
    let rows = db::user::message_rows(&*own_db(ctx, user)?, &channel.to_string(), ts)?;
    let first = rows.first().ok_or(HttpError::NotFound)?;
    if first.deleted {
        return Err(HttpError::NotFound);
    }
    if first.sender != user.name.as_str() {
        return Err(HttpError::Forbidden(
            "You can only change your own messages".into(),
        ));
    }
    Ok(ts)
}

/// PATCH /api/channels/{ch}/messages/{id} {text}
pub fn patch_message(
    ctx: &Ctx,
    req: &mut Request,
    channel: &str,
    id: &str,
) -> Result<Response, HttpError> {
    super::require_room(ctx)?;
    let user = require_user(ctx, req)?;
    let body = req.json()?;
    let channel = open_channel(ctx, &user, channel)?;
    let text = str_field(&body, "text")?.to_owned();
    check_length(&text)?;
    if text.trim().is_empty() {
        return Err(HttpError::BadRequest(
            "A message cannot be edited to nothing; delete it instead".into(),
        ));
    }
    let ts = own_message(ctx, &user, &channel, id)?;
    let viewer = user.name.as_str().to_owned();
    let message = ctx.store.run(move |w| {
        let mentions = w.mentions_in(&text)?;
        let edited_ts = messages::round_ts(crate::base::util::now());
        let change = Change::Edit {
            channel: channel.to_string(),
            ts,
            text,
            edited_ts,
            mentions,
        };
        w.update_message(&channel, change, &viewer)
    })?;
    Ok(Response::json(200, &message))
}

/// DELETE /api/channels/{ch}/messages/{id}
pub fn delete_message(
    ctx: &Ctx,
    req: &mut Request,
    channel: &str,
    id: &str,
) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let channel = open_channel(ctx, &user, channel)?;
    let ts = own_message(ctx, &user, &channel, id)?;
    let viewer = user.name.as_str().to_owned();
    ctx.store.run(move |w| {
        let deleted_ts = messages::round_ts(crate::base::util::now());
        w.update_message(
            &channel,
            Change::Delete {
                channel: channel.to_string(),
                ts,
                deleted_ts,
            },
            &viewer,
        )
    })?;
    Ok(Response::no_content())
}

/// POST /api/channels/{ch}/messages/{id}/reactions {emoji} — toggles the caller's reaction.
pub fn post_reaction(
    ctx: &Ctx,
    req: &mut Request,
    channel: &str,
    id: &str,
) -> Result<Response, HttpError> {
    super::require_room(ctx)?;
    let user = require_user(ctx, req)?;
    let body = req.json()?;
    let channel = open_channel(ctx, &user, channel)?;
    let emoji = str_field(&body, "emoji")?.to_owned();
    if !crate::model::reactions::is_known(&emoji) {
        return Err(HttpError::BadRequest(format!(
            "Unknown reaction \"{emoji}\"; see GET /api/reactions"
        )));
    }
    let ts = messages::parse_id(id).ok_or(HttpError::NotFound)?;
    let rows = db::user::message_rows(&*own_db(ctx, &user)?, &channel.to_string(), ts)?;
    if rows.first().is_none_or(|r| r.deleted) {
        return Err(HttpError::NotFound);
    }
    let reactor = user.name.as_str().to_owned();
    let message = ctx.store.run(move |w| {
        let channel_text = channel.to_string();
        db::presence::toggle_reaction(&w.presence, &channel_text, ts, &emoji, &reactor)?;
        let pairs = db::presence::reactions_between(&w.presence, &channel_text, ts, ts)?;
        let reactions =
            messages::collect_reactions(pairs.iter().map(|(_, e, r)| (e.as_str(), r.as_str())));
        let reactions_json = messages::reactions_json(&reactions).to_json_string();
        let reactions_ts = messages::round_ts(crate::base::util::now());
        let change = Change::Reactions {
            channel: channel_text,
            ts,
            reactions: reactions_json,
            reactions_ts,
        };
        w.update_message(&channel, change, &reactor)
    })?;
    let reactions = message
        .get("reactions")
        .cloned()
        .unwrap_or(Json::Obj(Vec::new()));
    Ok(Response::json(200, &Json::obj([("reactions", reactions)])))
}

/// GET /api/reactions
pub fn get_reactions(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    require_user(ctx, req)?;
    let list = crate::model::reactions::all()
        .map(|r| {
            Json::obj([
                ("name", r.name.into()),
                ("emoji", r.emoji.into()),
                ("label", r.label.into()),
            ])
        })
        .collect();
    Ok(Response::json(200, &Json::Arr(list)))
}
