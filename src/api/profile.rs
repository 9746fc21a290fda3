//! The caller's profile: name colour, bio, avatar. Every change is announced to everyone with a
//! `user` event carrying the user object of `GET /api/users`.

use super::ctx::Ctx;
use super::user_json;
use super::{me_json, require_user};
use crate::base::json::Json;
use crate::base::names::Username;
use crate::db;
use crate::files::avatars;
use crate::http::{Body, HttpError, Request, Response};
use std::sync::Arc;

/// Longest bio, in characters.
const MAX_BIO_CHARS: usize = 160;

/// PATCH /api/me {name_color?, bio?} — omitted fields stay, null clears.
pub fn patch_me(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let body = req.json()?;
    if !matches!(body, Json::Obj(_)) {
        return Err(HttpError::BadRequest(
            "The request body must be a JSON object".into(),
        ));
    }
    let color = match body.get("name_color") {
        None => None,
        Some(Json::Null) => Some(None),
        Some(Json::Str(c)) if is_color(c) => Some(Some(c.to_ascii_lowercase())),
        Some(_) => {
            return Err(HttpError::BadRequest(
                "\"name_color\" must be a colour like #1a2b3c, or null".into(),
            ))
        }
    };
    let bio = match body.get("bio") {
        None => None,
        Some(Json::Null) => Some(None),
        Some(Json::Str(b)) if b.chars().count() <= MAX_BIO_CHARS => Some(Some(b.clone())),
        Some(Json::Str(_)) => {
            return Err(HttpError::BadRequest(format!(
                "A bio can be at most {MAX_BIO_CHARS} characters"
            )))
        }
        Some(_) => return Err(HttpError::BadRequest("\"bio\" must be text or null".into())),
    };
    db::auth::update_profile(
        &*ctx.auth_db.get()?,
        user.name.as_str(),
        color.as_ref().map(Option::as_deref),
        bio.as_ref().map(Option::as_deref),
    )?;
    announce_user(ctx, &user.name)?;
    Ok(Response::json(200, &me_json(ctx, &user)?))
}

fn is_color(text: &str) -> bool {
    text.strip_prefix('#')
        .is_some_and(|hex| hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Sends everyone the `user` event for `user`.
pub fn announce_user(ctx: &Ctx, user: &Username) -> Result<(), HttpError> {
    let profile = db::auth::profile(&*ctx.auth_db.get()?, user.as_str())?;
    let event = Json::obj([
        ("type", "user".into()),
        ("user", user_json(ctx, user.as_str(), profile)),
    ]);
    ctx.hub.broadcast(&Arc::from(event.to_json_string()));
    Ok(())
}

/// PUT /api/me/avatar — raw jpeg/png/gif/webp bytes; replaces (and deletes) the old file.
pub fn put_avatar(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    super::require_room(ctx)?;
    let user = require_user(ctx, req)?;
    let max_mb = u64::from(ctx.settings.max_avatar_size_mb);
    if req.body_len() > max_mb << 20 {
        return Err(HttpError::TooLarge(format!(
            "The image is larger than the {max_mb} MB avatar limit"
        )));
    }
    let bytes = req.read_body(max_mb << 20)?;
    let ext = crate::files::uploads::sniff_image(&bytes).ok_or_else(|| {
        HttpError::BadRequest("An avatar must be a JPEG, PNG, GIF or WebP image".into())
    })?;
    let name = avatars::store(&ctx.data_dir, &bytes, ext)?;
    let old = {
        let conn = ctx.auth_db.get()?;
        let old = db::auth::profile(&conn, user.name.as_str())?.avatar_file;
        if let Err(e) = db::auth::set_avatar_file(&conn, user.name.as_str(), Some(&name)) {
            avatars::remove(&ctx.data_dir, Some(&name));
            return Err(e.into());
        }
        old
    };
    avatars::remove(&ctx.data_dir, old.as_deref());
    announce_user(ctx, &user.name)?;
    let url = super::avatar_url(user.name.as_str(), Some(&name));
    Ok(Response::json(
        200,
        &Json::obj([("avatar_url", Json::opt_str(url))]),
    ))
}

/// DELETE /api/me/avatar
pub fn delete_avatar(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let conn = ctx.auth_db.get()?;
    let old = db::auth::profile(&conn, user.name.as_str())?.avatar_file;
    db::auth::set_avatar_file(&conn, user.name.as_str(), None)?;
    drop(conn);
    avatars::remove(&ctx.data_dir, old.as_deref());
    announce_user(ctx, &user.name)?;
    Ok(Response::no_content())
}

/// GET /avatars/{username}
pub fn get_avatar(ctx: &Ctx, req: &mut Request, username: &str) -> Result<Response, HttpError> {
    require_user(ctx, req)?;
    let name = Username::parse_existing(username).map_err(|_| HttpError::NotFound)?;
    let file = db::auth::profile(&*ctx.auth_db.get()?, name.as_str())?
        .avatar_file
        .ok_or(HttpError::NotFound)?;
    let path = avatars::path(&ctx.data_dir, &file).ok_or(HttpError::NotFound)?;
    let bytes = std::fs::read(path).map_err(|_| HttpError::NotFound)?;
    Ok(Response {
        status: 200,
        headers: vec![
            (
                "Content-Type",
                crate::base::assets::content_type(&file).to_owned(),
            ),
            ("Cache-Control", "private, max-age=86400".to_owned()),
        ],
        body: Body::Bytes(bytes),
    })
}
