//! Pages, static assets, `/healthz` and `/ca.pem`. Pages are files embedded from `www/`;
//! there is no catch-all, so unknown paths are 404.

use super::ctx::Ctx;
use super::require_user;
use crate::base::json::Json;
use crate::http::{Body, HttpError, Request, Response};

/// GET / — the app for a logged-in user; others go to /login.
pub fn get_app(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    match require_user(ctx, req) {
        Ok(_) => super::asset(ctx, req, "index.html"),
        Err(HttpError::Unauthorized) => Ok(Response::redirect("/login")),
        Err(e) => Err(e),
    }
}

/// GET /login, /signup, /forgot-password — a logged-in user goes straight to the app.
pub fn get_public_page(ctx: &Ctx, req: &mut Request, file: &str) -> Result<Response, HttpError> {
    if require_user(ctx, req).is_ok() {
        return Ok(Response::redirect("/"));
    }
    super::asset(ctx, req, file)
}

/// GET /manifest.webmanifest, /sw.js, /css/…, /js/…, /icons/…, /img/… — embedded files.
pub fn get_asset(ctx: &Ctx, req: &Request, path: &str) -> Result<Response, HttpError> {
    super::asset(ctx, req, path)
}

/// GET /healthz — no authentication.
pub fn get_health() -> Result<Response, HttpError> {
    let body = Json::obj([
        ("status", "ok".into()),
        ("version", crate::base::VERSION.into()),
    ]);
    Ok(Response::json(200, &body))
}

/// GET /ca.pem — the local CA, so users can trust it once (404 with an admin's own cert).
pub fn get_ca(ctx: &Ctx) -> Result<Response, HttpError> {
    let pem = ctx.ca_pem.as_ref().ok_or(HttpError::NotFound)?;
    Ok(Response {
        status: 200,
        headers: vec![
            ("Content-Type", "application/x-pem-file".to_owned()),
            (
                "Content-Disposition",
                "attachment; filename=\"minimost-ca.pem\"".to_owned(),
            ),
        ],
        body: Body::Bytes(pem.clone()),
    })
}
