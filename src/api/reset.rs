//! Password reset by link (`minimost reset-password` makes the link): the page, and the API
//! that shows whose password is being reset and sets the new one.

use super::credentials::hash_password;
use super::ctx::Ctx;
use super::str_field;
use crate::base::json::Json;
use crate::base::names::check_new_password;
use crate::db;
use crate::http::{HttpError, Request, Response};
use rusqlite::TransactionBehavior;

fn invalid() -> HttpError {
    HttpError::NotFoundWith("Link invalid or expired".into())
}

/// GET /reset-password/{token} — the page (it checks the token through the API).
pub fn get_page(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    super::asset(ctx, req, "reset-password.html")
}

/// GET /api/reset-password/{token}
pub fn get_token(ctx: &Ctx, _req: &mut Request, token: &str) -> Result<Response, HttpError> {
    let user = db::auth::reset_token_user(&*ctx.auth_db.get()?, token, crate::base::util::now())?
        .ok_or_else(invalid)?;
    Ok(Response::json(200, &Json::obj([("username", user.into())])))
}

/// POST /api/reset-password/{token} {password, confirm_password} — sets the password, uses up
/// the token, ends every session of the user (and their live sockets), lifts any lockout.
pub fn post_token(ctx: &Ctx, req: &mut Request, token: &str) -> Result<Response, HttpError> {
    let body = req.json()?;
    let user = db::auth::reset_token_user(&*ctx.auth_db.get()?, token, crate::base::util::now())?
        .ok_or_else(invalid)?;
    let password = str_field(&body, "password")?;
    check_new_password(password, str_field(&body, "confirm_password")?)
        .map_err(|m| HttpError::BadRequest(m.to_owned()))?;
    let hash = hash_password(ctx, password)?;
    let mut conn = ctx.auth_db.get()?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if !db::auth::use_reset_token(&tx, token)? {
        return Err(invalid());
    }
    db::auth::set_password_hash(&tx, &user, &hash)?;
    db::auth::clear_login_failures(&tx, &user)?;
    db::auth::delete_sessions_of(&tx, &user, None)?;
    tx.commit()?;
    ctx.hub.revoke(&user, None);
    Ok(Response::no_content())
}
