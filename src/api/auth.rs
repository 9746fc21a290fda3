//! Signup, login, logout and `GET /api/me`. The session check every handler starts with
//! (`require_user`) is in `api/mod.rs`; password checks and sessions in `credentials`.

use super::credentials::{
    acquire_hasher, check_password, hash_password, secure_cookie, start_session,
};
use super::ctx::Ctx;
use super::{require_user, str_field};
use crate::base::json::Json;
use crate::base::limits::Bucket;
use crate::base::names::{check_new_password, Username};
use crate::base::sessions;
use crate::db;
use crate::http::{HttpError, Request, Response};
use std::time::Instant;

/// POST /api/signup
pub fn post_signup(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    super::require_room(ctx)?;
    rate_limit(ctx, req, Bucket::Signup)?;
    let body = req.json()?;
    let username = Username::parse(str_field(&body, "username")?).map_err(HttpError::BadRequest)?;
    let password = str_field(&body, "password")?;
    check_new_password(password, str_field(&body, "confirm_password")?)
        .map_err(|m| HttpError::BadRequest(m.to_owned()))?;
    // Refuse a taken name before paying for a hash; `create` checks again atomically.
    if db::auth::find_user(&*ctx.auth_db.get()?, username.as_str())?.is_some() {
        return Err(taken());
    }
    let hash = hash_password(ctx, password)?;
    let new_name = username.clone();
    if !ctx.store.run(move |w| w.create_account(&new_name, &hash))? {
        return Err(taken());
    }
    let cookie = start_session(ctx, req, username.as_str())?;
    Ok(
        Response::json(201, &Json::obj([("username", username.as_str().into())]))
            .with_header("Set-Cookie", cookie),
    )
}

fn taken() -> HttpError {
    HttpError::Conflict("That username is already taken (names are case-insensitive)".into())
}

/// POST /api/login
pub fn post_login(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    rate_limit(ctx, req, Bucket::Login)?;
    let body = req.json()?;
    let name = str_field(&body, "username")?;
    let password = str_field(&body, "password")?;
    let account = db::auth::find_user(&*ctx.auth_db.get()?, name)?;
    let Some(account) = account else {
        // Unknown users cost the same as wrong passwords, so names cannot be probed by timing.
        let _permit = acquire_hasher(ctx)?;
        crate::base::password::verify(password, ctx.dummy_hash());
        return Err(HttpError::BadCredentials);
    };
    if !check_password(ctx, &account.username, password, &account.password_hash)? {
        return Err(HttpError::BadCredentials);
    }
    if crate::base::password::needs_rehash(&account.password_hash) {
        let hash = hash_password(ctx, password)?;
        db::auth::set_password_hash(&*ctx.auth_db.get()?, &account.username, &hash)?;
    }
    let cookie = start_session(ctx, req, &account.username)?;
    Ok(Response::json(
        200,
        &Json::obj([("username", account.username.as_str().into())]),
    )
    .with_header("Set-Cookie", cookie))
}

/// POST /api/logout — ends this session (and its sockets); always clears the cookie.
pub fn post_logout(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    if let Ok(user) = require_user(ctx, req) {
        db::auth::delete_session(&*ctx.auth_db.get()?, &user.session_id)?;
        ctx.hub.revoke(user.name.as_str(), Some(&user.session_id));
    }
    Ok(Response::no_content().with_header(
        "Set-Cookie",
        sessions::clear_cookie(secure_cookie(ctx, req)),
    ))
}

/// GET /api/me
pub fn get_me(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    Ok(Response::json(200, &super::me_json(ctx, &user)?))
}

fn rate_limit(ctx: &Ctx, req: &Request, bucket: Bucket) -> Result<(), HttpError> {
    ctx.limiter
        .check(bucket, req.peer, Instant::now())
        .map_err(|wait| {
            let secs = wait.as_secs_f64().ceil() as u64;
            HttpError::TooMany {
                retry_after_secs: secs,
                message: format!(
                    "Too many attempts from your address; try again in {secs} seconds"
                ),
            }
        })
}
