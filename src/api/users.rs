//! `GET /api/users`: everyone's public profile and presence.

use crate::api::auth::require_user;
use crate::api::ctx::Ctx;
use crate::base::json::Json;
use crate::db::auth::Profile;
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

/// The user object of `GET /api/users` and of the `user` event.
pub fn user_json(ctx: &Ctx, username: &str, profile: Profile) -> Json {
    let presence = ctx.hub.presence_of(username);
    Json::obj([
        ("username", username.into()),
        ("name_color", Json::opt_str(profile.name_color)),
        ("bio", Json::opt_str(profile.bio)),
        (
            "avatar_url",
            Json::opt_str(avatar_url(username, profile.avatar_file.as_deref())),
        ),
        ("presence", presence.as_str().into()),
    ])
}

/// The URL of a user's avatar (with the stored name as a cache-buster), if they have one.
pub fn avatar_url(username: &str, avatar_file: Option<&str>) -> Option<String> {
    let file = avatar_file?;
    let version = file.split('.').next().unwrap_or(file);
    Some(format!("/avatars/{username}?v={version}"))
}
