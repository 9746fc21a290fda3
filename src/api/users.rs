//! `GET /api/users`: everyone's public profile and presence.

use super::ctx::Ctx;
use super::{require_user, user_json};
use crate::base::json::Json;
use crate::http::{HttpError, Request, Response};

/// GET /api/users
pub fn get_users(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    require_user(ctx, req)?;
    let users = crate::db::auth::list_profiles(&*ctx.auth_db.get()?)?;
    let list = users
        .into_iter()
        .map(|(username, profile)| user_json(ctx, &username, profile))
        .collect();
    Ok(Response::json(200, &Json::Arr(list)))
}
