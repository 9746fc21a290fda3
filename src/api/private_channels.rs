//! Private channels: create, rename, add and remove members, leave. Membership changes run on
//! the writer thread, in order with message fan-out, and each posts a system notice.

use crate::api::auth::{require_user, AuthUser};
use crate::api::channels::private_channel_json;
use crate::api::ctx::Ctx;
use crate::api::str_field;
use crate::base::json::Json;
use crate::db;
use crate::http::{HttpError, Request, Response};
use crate::model::channels::ChannelId;
use crate::store::Writer;
use std::sync::Arc;

/// Longest private channel name, in characters (after trimming).
const MAX_NAME_CHARS: usize = 80;

fn channel_name(body: &Json) -> Result<String, HttpError> {
    let name = str_field(body, "name")?.trim().to_owned();
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME_CHARS {
        return Err(HttpError::BadRequest(format!(
            "A channel name must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(HttpError::BadRequest(
            "A channel name cannot contain control characters".into(),
        ));
    }
    Ok(name)
}

/// The private channel `{n}`, which the caller must be a member of (404 otherwise).
fn member_channel(ctx: &Ctx, user: &AuthUser, n: &str) -> Result<i64, HttpError> {
    let id: i64 = n.parse().map_err(|_| HttpError::NotFound)?;
    if !db::presence::is_member(&*ctx.presence_db.get()?, id, user.name.as_str())? {
        return Err(HttpError::NotFound);
    }
    Ok(id)
}

/// The channel as its members now see it, and a `channels` event to `also` and every member.
fn changed(w: &mut Writer, id: i64, also: &[&str]) -> Result<Json, HttpError> {
    let channel = db::presence::private_channel(&w.presence, id)?.ok_or(HttpError::NotFound)?;
    let members = db::presence::private_members(&w.presence, id)?;
    let frame: Arc<str> = Arc::from(r#"{"type":"channels"}"#);
    w.ctx.hub.send_to(
        members
            .iter()
            .map(String::as_str)
            .chain(also.iter().copied()),
        &frame,
    );
    private_channel_json(&w.presence, &channel, Json::Num(0.0))
}

/// POST /api/private-channels {name, members}
pub fn post_private_channel(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let body = req.json()?;
    let name = channel_name(&body)?;
    let requested: Vec<String> = match body.get("members") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Arr(items)) => items
            .iter()
            .map(|m| m.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                HttpError::BadRequest("\"members\" must be a list of usernames".into())
            })?,
        Some(_) => {
            return Err(HttpError::BadRequest(
                "\"members\" must be a list of usernames".into(),
            ))
        }
    };
    let creator = user.name.as_str().to_owned();
    let channel = ctx.store.run(move |w| {
        let mut members = vec![creator.clone()];
        let mut unknown = Vec::new();
        for name in &requested {
            match w.registered_name(name)? {
                Some(member) if !members.contains(&member) => members.push(member),
                Some(_) => {}
                None => unknown.push(name.as_str()),
            }
        }
        if !unknown.is_empty() {
            return Err(crate::api::unknown_users(&unknown));
        }
        let now = crate::base::util::now();
        let tx = w.presence.transaction()?;
        let id = db::presence::create_private_channel(&tx, &name, &creator, now)?;
        for member in &members {
            db::presence::add_member(&tx, id, member, now)?;
        }
        tx.commit()?;
        w.post_system(
            &ChannelId::Private(id),
            &format!("{creator} created the channel {name}"),
            Some(&creator),
        )?;
        changed(w, id, &[])
    })?;
    Ok(Response::json(201, &channel))
}

/// PATCH /api/private-channels/{n} {name} — any member may rename.
pub fn patch_private_channel(ctx: &Ctx, req: &mut Request, n: &str) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let body = req.json()?;
    let id = member_channel(ctx, &user, n)?;
    let name = channel_name(&body)?;
    let actor = user.name.as_str().to_owned();
    let channel = ctx.store.run(move |w| {
        db::presence::rename_private_channel(&w.presence, id, &name)?;
        w.post_system(
            &ChannelId::Private(id),
            &format!("{actor} renamed the channel to {name}"),
            Some(&actor),
        )?;
        changed(w, id, &[])
    })?;
    Ok(Response::json(200, &channel))
}

/// POST /api/private-channels/{n}/members {username}
pub fn post_member(ctx: &Ctx, req: &mut Request, n: &str) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let body = req.json()?;
    let id = member_channel(ctx, &user, n)?;
    let wanted = str_field(&body, "username")?.to_owned();
    let actor = user.name.as_str().to_owned();
    let channel = ctx.store.run(move |w| {
        let member = w.registered_name(&wanted)?.ok_or(HttpError::NotFound)?;
        if !db::presence::add_member(&w.presence, id, &member, crate::base::util::now())? {
            return Err(HttpError::Conflict(format!("{member} is already a member")));
        }
        w.post_system(
            &ChannelId::Private(id),
            &format!("{actor} added {member}"),
            Some(&actor),
        )?;
        changed(w, id, &[])
    })?;
    Ok(Response::json(201, &channel))
}

/// DELETE /api/private-channels/{n}/members/{user} — only the creator removes others.
pub fn delete_member(
    ctx: &Ctx,
    req: &mut Request,
    n: &str,
    member: &str,
) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let id = member_channel(ctx, &user, n)?;
    let actor = user.name.as_str().to_owned();
    let member = member.to_owned();
    ctx.store.run(move |w| {
        let channel = db::presence::private_channel(&w.presence, id)?.ok_or(HttpError::NotFound)?;
        if member != actor && channel.created_by != actor {
            return Err(HttpError::Forbidden(
                "Only the channel's creator can remove other members".into(),
            ));
        }
        if !db::presence::remove_member(&w.presence, id, &member)? {
            return Err(HttpError::NotFound);
        }
        let notice = if member == actor {
            format!("{actor} left")
        } else {
            format!("{actor} removed {member}")
        };
        w.post_system(&ChannelId::Private(id), &notice, Some(&actor))?;
        changed(w, id, &[member.as_str()])
    })?;
    Ok(Response::no_content())
}

/// POST /api/private-channels/{n}/leave
pub fn post_leave(ctx: &Ctx, req: &mut Request, n: &str) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let id = member_channel(ctx, &user, n)?;
    let actor = user.name.as_str().to_owned();
    ctx.store.run(move |w| {
        db::presence::remove_member(&w.presence, id, &actor)?;
        w.post_system(&ChannelId::Private(id), &format!("{actor} left"), None)?;
        changed(w, id, &[actor.as_str()])
    })?;
    Ok(Response::no_content())
}
