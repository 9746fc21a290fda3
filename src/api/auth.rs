//! Signup, login, logout, `GET /api/me`, and `require_user`, the session check every
//! authenticated handler starts with.

use crate::api::ctx::Ctx;
use crate::api::str_field;
use crate::base::json::Json;
use crate::base::limits::Bucket;
use crate::base::names::{check_new_password, Username};
use crate::base::sessions::{self, COOKIE_NAME};
use crate::db;
use crate::http::{HttpError, Request, Response};
use std::time::{Duration, Instant};

/// A request's authenticated user.
pub struct AuthUser {
    pub name: Username,
    pub session_id: String,
}

/// How stale `sessions.last_seen_ts` may get before a request refreshes it.
const TOUCH_EVERY_SECS: f64 = 60.0;
/// How long a request waits for a password-hashing slot before giving up with 503: long
/// enough for a Monday-morning rush (200 logins at once take about 7 s on two cores), and
/// waiting costs a thread but no hashing memory.
const HASH_PATIENCE: Duration = Duration::from_secs(30);

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

/// POST /api/signup
pub fn post_signup(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
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
    let profile = db::auth::profile(&*ctx.auth_db.get()?, user.name.as_str())?;
    let me = Json::obj([
        ("username", user.name.as_str().into()),
        ("name_color", Json::opt_str(profile.name_color)),
        ("bio", Json::opt_str(profile.bio)),
        (
            "avatar_url",
            Json::opt_str(crate::api::users::avatar_url(
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
    Ok(Response::json(200, &me))
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

/// Checks a password of an existing account, counting the check against its lockout before it
/// runs: at most `max_login_attempts` checks per lockout window, however many run at once.
/// Locked accounts get 423 without a check; a match clears the count.
pub fn check_password(
    ctx: &Ctx,
    username: &str,
    password: &str,
    stored_hash: &str,
) -> Result<bool, HttpError> {
    // The slot first: a request turned away as busy has not used up an attempt.
    let permit = acquire_hasher(ctx)?;
    claim_password_check(ctx, username)?;
    let matches = crate::base::password::verify(password, stored_hash);
    drop(permit);
    if matches {
        db::auth::clear_login_failures(&*ctx.auth_db.get()?, username)?;
    }
    Ok(matches)
}

/// Counts one password check as a failure in advance, in one write transaction, so parallel
/// checks cannot overwrite each other's counts: the `max_login_attempts`-th in a row sets the
/// lock, and while it holds every check is refused.
fn claim_password_check(ctx: &Ctx, username: &str) -> Result<(), HttpError> {
    let settings = ctx.live_settings.get();
    let now = crate::base::util::now();
    let mut conn = ctx.auth_db.get()?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let (failures, locked_until) = db::auth::login_failures(&tx, username)?;
    if let Some(until) = locked_until.filter(|until| *until > now) {
        let minutes = ((until - now) / 60.0).ceil().max(1.0) as u64;
        return Err(HttpError::Locked(format!(
            "This account is locked after too many wrong passwords; try again in {minutes} \
             minute{}",
            if minutes == 1 { "" } else { "s" }
        )));
    }
    let max = settings.max_login_attempts;
    if max == 0 {
        return Ok(());
    }
    // A lock that has passed starts a new count.
    let failures = if locked_until.is_some() {
        1
    } else {
        failures + 1
    };
    let lock = (failures >= max).then(|| now + f64::from(settings.lockout_duration_minutes) * 60.0);
    db::auth::set_login_failures(
        &tx,
        username,
        if lock.is_some() { 0 } else { failures },
        lock,
    )?;
    tx.commit()?;
    Ok(())
}

pub fn acquire_hasher(ctx: &Ctx) -> Result<crate::base::password::HashPermit<'_>, HttpError> {
    ctx.hash_gate
        .acquire(HASH_PATIENCE)
        .ok_or_else(|| HttpError::Unavailable("The server is busy; try again in a moment".into()))
}

pub fn hash_password(ctx: &Ctx, password: &str) -> Result<String, HttpError> {
    let _permit = acquire_hasher(ctx)?;
    Ok(crate::base::password::hash(password))
}

/// Whether the cookie should be `Secure`: under our TLS, or behind a proxy that says https.
pub fn secure_cookie(ctx: &Ctx, req: &Request) -> bool {
    ctx.tls
        || req
            .header("x-forwarded-proto")
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// Creates a session row and returns its `Set-Cookie` value.
fn start_session(ctx: &Ctx, req: &Request, username: &str) -> Result<String, HttpError> {
    let (id, value) = ctx.session_key.new_session();
    let user_agent: String = req
        .header("user-agent")
        .unwrap_or("")
        .chars()
        .take(256)
        .collect();
    db::auth::insert_session(
        &*ctx.auth_db.get()?,
        &db::auth::NewSession {
            id: &id,
            username,
            now: crate::base::util::now(),
            user_agent: &user_agent,
            ip: &req.peer.to_string(),
        },
    )?;
    let max_age = u64::from(ctx.live_settings.get().session_idle_days) * 86_400;
    Ok(sessions::set_cookie(
        &value,
        secure_cookie(ctx, req),
        max_age,
    ))
}
