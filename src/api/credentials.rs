//! Credentials shared by the account routes: every password check (counted against the
//! lockout before it runs), hashing within the bounded gate, and session cookies. Not a
//! handler module: no routes here.

use super::ctx::Ctx;
use crate::base::sessions;
use crate::db;
use crate::http::{HttpError, Request};
use std::time::Duration;

/// How long a request waits for a password-hashing slot before giving up with 503: long
/// enough for a Monday-morning rush (200 logins at once take about 7 s on two cores), and
/// waiting costs a thread but no hashing memory.
const HASH_PATIENCE: Duration = Duration::from_secs(30);

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
pub fn start_session(ctx: &Ctx, req: &Request, username: &str) -> Result<String, HttpError> {
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
