//! Private channels over HTTP: create, rename, add and remove members, leave. The handlers
//! read and check the request; the changes run on the writer (`store::private_channels`).

use super::ctx::Ctx;
use super::str_field;
use super::{require_user, AuthUser};
use crate::base::json::Json;
use crate::db;
use crate::http::{HttpError, Request, Response};
use crate::store::private_channels;

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

/// POST /api/private-channels {name, members}
pub fn post_private_channel(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    super::require_room(ctx)?;
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
    let channel = ctx
        .store
        .run(move |w| private_channels::create(w, &creator, &name, &requested))?;
    Ok(Response::json(201, &channel))
}

/// PATCH /api/private-channels/{n} {name} — any member may rename.
pub fn patch_private_channel(ctx: &Ctx, req: &mut Request, n: &str) -> Result<Response, HttpError> {
    super::require_room(ctx)?;
    let user = require_user(ctx, req)?;
    let body = req.json()?;
    let id = member_channel(ctx, &user, n)?;
    let name = channel_name(&body)?;
    let actor = user.name.as_str().to_owned();
    let channel = ctx
        .store
        .run(move |w| private_channels::rename(w, id, &actor, &name))?;
    Ok(Response::json(200, &channel))
}

/// POST /api/private-channels/{n}/members {username}
pub fn post_member(ctx: &Ctx, req: &mut Request, n: &str) -> Result<Response, HttpError> {
    super::require_room(ctx)?;
    let user = require_user(ctx, req)?;
    let body = req.json()?;
    let id = member_channel(ctx, &user, n)?;
    let wanted = str_field(&body, "username")?.to_owned();
    let actor = user.name.as_str().to_owned();
    let channel = ctx
        .store
        .run(move |w| private_channels::add_member(w, id, &actor, &wanted))?;
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
    ctx.store
        .run(move |w| private_channels::remove_member(w, id, &actor, &member))?;
    Ok(Response::no_content())
}

/// POST /api/private-channels/{n}/leave
pub fn post_leave(ctx: &Ctx, req: &mut Request, n: &str) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let id = member_channel(ctx, &user, n)?;
    let actor = user.name.as_str().to_owned();
    ctx.store
        .run(move |w| private_channels::leave(w, id, &actor))?;
    Ok(Response::no_content())
}
