//! Account self-service: change password, delete the account (soft or hard).

use super::credentials::{check_password, hash_password, secure_cookie};
use super::ctx::Ctx;
use super::require_user;
use super::str_field;
use crate::base::names::check_new_password;
use crate::db;
use crate::http::{HttpError, Request, Response};
use crate::store::accounts::DeleteMode;
use std::sync::Arc;

/// Checks the caller's current password (403 when wrong). It counts towards the account's
/// lockout like a login, so a stolen session cannot be used to guess the password.
fn verify_current(ctx: &Ctx, username: &str, password: &str) -> Result<(), HttpError> {
    let account =
        db::auth::find_user(&*ctx.auth_db.get()?, username)?.ok_or(HttpError::Unauthorized)?;
    if check_password(ctx, &account.username, password, &account.password_hash)? {
        Ok(())
    } else {
        Err(HttpError::Forbidden(
            "Your current password is not correct".into(),
        ))
    }
}

/// POST /api/account/password {current_password, new_password, confirm_password}
pub fn post_password(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let body = req.json()?;
    let current = str_field(&body, "current_password")?;
    let new = str_field(&body, "new_password")?;
    check_new_password(new, str_field(&body, "confirm_password")?)
        .map_err(|m| HttpError::BadRequest(m.to_owned()))?;
    verify_current(ctx, user.name.as_str(), current)?;
    let hash = hash_password(ctx, new)?;
    let conn = ctx.auth_db.get()?;
    db::auth::set_password_hash(&conn, user.name.as_str(), &hash)?;
    for session in db::auth::delete_sessions_of(&conn, user.name.as_str(), Some(&user.session_id))?
    {
        ctx.hub.revoke(user.name.as_str(), Some(&session));
    }
    Ok(Response::no_content())
}

/// POST /api/account/delete {mode: "soft"|"hard", password}
pub fn post_delete(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let body = req.json()?;
    let mode = match str_field(&body, "mode")? {
        "soft" => DeleteMode::Soft,
        "hard" => DeleteMode::Hard,
        _ => {
            return Err(HttpError::BadRequest(
                "\"mode\" must be \"soft\" or \"hard\"".into(),
            ))
        }
    };
    verify_current(ctx, user.name.as_str(), str_field(&body, "password")?)?;
    let name = user.name.clone();
    ctx.store
        .run(move |w| Ok(crate::store::accounts::delete_account(w, &name, mode)?))?;
    // Everyone's sidebars and member lists may have changed; they refetch.
    ctx.hub.broadcast(&Arc::from(r#"{"type":"channels"}"#));
    Ok(Response::no_content().with_header(
        "Set-Cookie",
        crate::base::sessions::clear_cookie(secure_cookie(ctx, req)),
    ))
}
