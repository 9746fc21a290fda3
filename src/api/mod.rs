//! HTTP handlers grouped by resource. Each reads the request, checks access, calls the store,
//! the model or `db`, and returns a `Response`. What several handlers share lives here: field
//! readers, the same-origin check, and the conversion of the model's refusals into
//! `HttpError`. Handlers never call each other's private helpers.

pub mod account;
pub mod auth;
pub mod calls;
pub mod channels;
pub mod credentials;
pub mod ctx;
pub mod files;
pub mod join;
pub mod mentions;
pub mod messages;
pub mod notifications;
pub mod pages;
pub mod pins;
pub mod private_channels;
pub mod profile;
pub mod reset;
pub mod search;
pub mod socket;
pub mod users;

use crate::base::json::Json;
use crate::base::names::Username;
use crate::base::sessions::{self, COOKIE_NAME};
use crate::db;
use crate::db::auth::Profile;
use crate::http::{Body, HttpError, Request, Response};
use crate::model::channels::ChannelId;
use ctx::Ctx;

/// Messages in one page unless the client asks for another size.
pub const DEFAULT_PAGE: u32 = 100;

/// A request's authenticated user.
pub struct AuthUser {
    pub name: Username,
    pub session_id: String,
}

/// How stale `sessions.last_seen_ts` may get before a request refreshes it.
const TOUCH_EVERY_SECS: f64 = 60.0;
/// The logged-in user, or 401. Rejects bad signatures, revoked or idle sessions, and sessions
/// whose account no longer exists.
pub fn require_user(ctx: &Ctx, req: &Request) -> Result<AuthUser, HttpError> {
    let cookie = req
        .header("cookie")
        .and_then(|h| sessions::cookie_value(h, COOKIE_NAME))
        .ok_or(HttpError::Unauthorized)?;
    let session_id = ctx
        .session_key
        .verify(cookie)
        .ok_or(HttpError::Unauthorized)?;
    let conn = ctx.auth_db.get()?;
    let row = db::auth::session(&conn, &session_id)?.ok_or(HttpError::Unauthorized)?;
    let now = crate::base::util::now();
    if now - row.last_seen_ts > f64::from(ctx.live_settings.get().session_idle_days) * 86_400.0 {
        db::auth::delete_session(&conn, &session_id)?;
        return Err(HttpError::Unauthorized);
    }
    if now - row.last_seen_ts > TOUCH_EVERY_SECS {
        db::auth::touch_session(&conn, &session_id, now)?;
    }
    let name = Username::parse_existing(&row.username).map_err(|_| HttpError::Unauthorized)?;
    Ok(AuthUser { name, session_id })
}

/// Parses the `{ch}` segment and checks the caller may read it.
pub fn open_channel(ctx: &Ctx, user: &AuthUser, text: &str) -> Result<ChannelId, HttpError> {
    let channel = ChannelId::parse(text)?;
    crate::model::channels::require_access(
        &ctx.settings.channels,
        &*ctx.presence_db.get()?,
        user.name.as_str(),
        &channel,
    )?;
    Ok(channel)
}

/// The caller's own database (every account has one).
pub fn own_db<'a>(ctx: &'a Ctx, user: &AuthUser) -> Result<db::UserConnection<'a>, HttpError> {
    ctx.user_dbs
        .get(&user.name)?
        .ok_or_else(|| HttpError::Internal(anyhow::anyhow!("users/{}.db is missing", user.name)))
}

/// A required string field of a JSON object body.
pub fn str_field<'a>(body: &'a Json, name: &str) -> Result<&'a str, HttpError> {
    if !matches!(body, Json::Obj(_)) {
        return Err(HttpError::BadRequest(
            "The request body must be a JSON object".into(),
        ));
    }
    match body.get(name) {
        Some(Json::Str(s)) => Ok(s),
        Some(_) => Err(HttpError::BadRequest(format!(
            "\"{name}\" must be a string"
        ))),
        None => Err(HttpError::BadRequest(format!("\"{name}\" is required"))),
    }
}

/// CSRF defence: the request's `Origin` (or, when absent, `Sec-Fetch-Site:
/// same-origin`) must name the host it was sent to. The scheme is not compared, so a
/// TLS-terminating proxy that keeps `Host` works.
pub fn check_same_origin(req: &Request) -> Result<(), HttpError> {
    let refused = |why: &str| {
        Err(HttpError::Forbidden(format!(
            "Cross-origin request refused: {why}"
        )))
    };
    let Some(host) = req.header("host") else {
        return refused("no Host header");
    };
    match req.header("origin") {
        Some(origin) => {
            let authority = origin
                .split_once("://")
                .map_or("", |(_, a)| a.trim_end_matches('/'));
            if without_default_port(authority).eq_ignore_ascii_case(without_default_port(host)) {
                Ok(())
            } else {
                refused("the page's origin does not match this server")
            }
        }
        None if req.header("sec-fetch-site") == Some("same-origin") => Ok(()),
        None => refused("the request has no Origin header"),
    }
}

fn without_default_port(authority: &str) -> &str {
    authority
        .strip_suffix(":443")
        .or_else(|| authority.strip_suffix(":80"))
        .unwrap_or(authority)
}

impl From<crate::model::Refusal> for HttpError {
    fn from(refusal: crate::model::Refusal) -> HttpError {
        use crate::model::Refusal;
        match refusal {
            Refusal::Invalid(why) => HttpError::BadRequest(why),
            Refusal::Forbidden(why) => HttpError::Forbidden(why),
            Refusal::NotFound => HttpError::NotFound,
            Refusal::Conflict(why) => HttpError::Conflict(why),
            Refusal::Unavailable(why) => HttpError::Unavailable(why),
            Refusal::Failed(e) => HttpError::Internal(e),
        }
    }
}

/// An embedded file, revalidated by ETag on every use (so an upgrade is seen at once).
pub fn asset(ctx: &Ctx, req: &Request, path: &str) -> Result<Response, HttpError> {
    let asset = ctx.assets.get(path).ok_or(HttpError::NotFound)?;
    let headers = vec![
        ("Content-Type", asset.content_type.to_owned()),
        ("ETag", asset.etag().to_owned()),
        ("Cache-Control", "no-cache".to_owned()),
    ];
    let fresh = req.header("if-none-match").is_some_and(|tags| {
        tags.split(',')
            .any(|t| t.trim() == asset.etag() || t.trim() == "*")
    });
    if fresh {
        return Ok(Response {
            status: 304,
            headers,
            body: Body::Empty,
        });
    }
    Ok(Response {
        status: 200,
        headers,
        body: Body::Static(asset.bytes),
    })
}

/// The object of `GET /api/me` (and of `PATCH /api/me`): the caller's profile and limits.
pub fn me_json(ctx: &Ctx, user: &AuthUser) -> Result<Json, HttpError> {
    let profile = db::auth::profile(&*ctx.auth_db.get()?, user.name.as_str())?;
    let me = Json::obj([
        ("username", user.name.as_str().into()),
        ("name_color", Json::opt_str(profile.name_color)),
        ("bio", Json::opt_str(profile.bio)),
        (
            "avatar_url",
            Json::opt_str(avatar_url(
                user.name.as_str(),
                profile.avatar_file.as_deref(),
            )),
        ),
        (
            "max_upload_mb",
            u64::from(ctx.settings.max_upload_size_mb).into(),
        ),
        (
            "max_avatar_mb",
            u64::from(ctx.settings.max_avatar_size_mb).into(),
        ),
        ("version", crate::base::VERSION.into()),
    ]);
    Ok(me)
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

/// The host part of a `Host` header (`chat.lan:5000` → `chat.lan`, `[fe80::1]:5000` →
/// `[fe80::1]`), if it is a plain name or address literal.
pub fn host_name(header: &str) -> Option<&str> {
    let host = if header.starts_with('[') {
        &header[..=header.find(']')?]
    } else {
        header.split(':').next()?
    };
    let plain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    plain.then_some(host)
}

/// Refuses what would fill the disk (messages, uploads, accounts) while the data dir's file
/// system has less free space than `min_free_disk_mb` (read live from settings.json).
/// The `limit` query parameter of a listing: 1 to `max`, `default` when absent.
pub fn limit_param(req: &Request, default: u32, max: u32) -> Result<u32, HttpError> {
    match req.query_param("limit") {
        Some(n) => n
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                HttpError::BadRequest(format!("\"limit\" must be a number from 1 to {max}"))
            }),
        None => Ok(default),
    }
}

/// The `before` query parameter of a listing: a message id, if given.
pub fn before_param(req: &Request) -> Result<Option<f64>, HttpError> {
    req.query_param("before")
        .map(|id| {
            crate::model::messages::parse_id(&id)
                .ok_or_else(|| HttpError::BadRequest("\"before\" must be a message id".into()))
        })
        .transpose()
}

pub fn require_room(ctx: &Ctx) -> Result<(), HttpError> {
    let floor = u64::from(ctx.live_settings.get().min_free_disk_mb) << 20;
    crate::base::disk::require_room(&ctx.data_dir, floor)
        .map_err(|message| HttpError::StorageFull(message.into()))
}

#[cfg(test)]
mod tests {
    use super::host_name;

    #[test]
    fn the_host_comes_from_the_host_header_without_its_port() {
        assert_eq!(host_name("chat.lan:5000"), Some("chat.lan"));
        assert_eq!(host_name("192.168.1.20"), Some("192.168.1.20"));
        assert_eq!(host_name("[fe80::1]:5000"), Some("[fe80::1]"));
        assert_eq!(host_name("[::1"), None);
        assert_eq!(host_name("evil\"}, x"), None);
        assert_eq!(host_name(""), None);
    }
}
