//! Pages, static assets, `/healthz` and `/ca.pem`. Pages are files embedded from `www/`;
//! there is no catch-all, so unknown paths are 404.

use crate::api::auth;
use crate::api::ctx::Ctx;
use crate::base::json::Json;
use crate::http::{Body, HttpError, Request, Response};

/// GET / — the app for a logged-in user; others go to /login.
pub fn get_app(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    match auth::require_user(ctx, req) {
        Ok(_) => get_asset(ctx, req, "index.html"),
        Err(HttpError::Unauthorized) => Ok(Response::redirect("/login")),
        Err(e) => Err(e),
    }
}

/// GET /login, /signup, /forgot-password — a logged-in user goes straight to the app.
pub fn get_public_page(ctx: &Ctx, req: &mut Request, file: &str) -> Result<Response, HttpError> {
    if auth::require_user(ctx, req).is_ok() {
        return Ok(Response::redirect("/"));
    }
    get_asset(ctx, req, file)
}

/// An embedded file, revalidated by ETag on every use (so an upgrade is seen at once).
pub fn get_asset(ctx: &Ctx, req: &Request, path: &str) -> Result<Response, HttpError> {
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
