//! `GET /api/users`: everyone's public profile and presence.

use crate::api::auth::require_user;
use crate::ctx::Ctx;
use crate::http::{HttpError, Request, Response};
use crate::hub::Presence;
use crate::json::Json;

/// GET /api/users
pub fn get_users(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    require_user(ctx, req)?;
    let online = ctx.hub.online();
    let users = crate::db::auth::list_profiles(&*ctx.auth_db.get()?)?;
    let list = users
        .into_iter()
        .map(|(username, profile)| {
            let presence = online
                .iter()
                .find(|(u, _)| *u == username)
                .map_or(Presence::Offline, |(_, p)| *p);
            Json::obj([
                (
                    "avatar_url",
                    Json::opt_str(avatar_url(&username, profile.avatar_file.as_deref())),
                ),
                ("username", username.into()),
                ("name_color", Json::opt_str(profile.name_color)),
                ("bio", Json::opt_str(profile.bio)),
                ("presence", presence.as_str().into()),
            ])
        })
        .collect();
    Ok(Response::json(200, &Json::Arr(list)))
}

/// The URL of a user's avatar (with the stored name as a cache-buster), if they have one.
pub fn avatar_url(username: &str, avatar_file: Option<&str>) -> Option<String> {
    let file = avatar_file?;
    let version = file.split('.').next().unwrap_or(file);
    Some(format!("/avatars/{username}?v={version}"))
}
