//! The ONLY place mapping (method, path) to handlers: one `match` on percent-decoded path
//! segments. Also the same-origin check every state-changing request passes first.

use crate::api::{auth, pages, users};
use crate::ctx::Ctx;
use crate::http::{percent_decode, HttpError, Request, Response};

/// Answers `req` with `$handler` when its method is listed; 405 naming the allowed ones
/// otherwise. HEAD is answered like GET (the connection loop drops the body).
macro_rules! methods {
    ($req:expr, $($method:literal => $handler:expr),+ $(,)?) => {{
        const ALLOWED: &[&str] = &[$($method),+];
        let method = if $req.method == "HEAD" { "GET" } else { $req.method.as_str() };
        match method {
            $($method => $handler,)+
            _ => Err(HttpError::MethodNotAllowed(ALLOWED)),
        }
    }};
}

pub fn route(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    if matches!(req.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") {
        check_same_origin(req)?;
    }
    let decoded: Option<Vec<String>> = req.path[1..].split('/').map(percent_decode).collect();
    let segments = decoded
        .ok_or_else(|| HttpError::BadRequest("Malformed percent-encoding in the path".into()))?;
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segments.as_slice() {
        [""] => methods!(req, "GET" => pages::get_app(ctx, req)),
        ["login"] => methods!(req, "GET" => pages::get_public_page(ctx, req, "login.html")),
        ["signup"] => methods!(req, "GET" => pages::get_public_page(ctx, req, "signup.html")),
        ["forgot-password"] => {
            methods!(req, "GET" => pages::get_public_page(ctx, req, "forgot-password.html"))
        }
        ["healthz"] => methods!(req, "GET" => pages::get_health()),
        ["ca.pem"] => methods!(req, "GET" => pages::get_ca(ctx)),
        ["api", "signup"] => methods!(req, "POST" => auth::post_signup(ctx, req)),
        ["api", "login"] => methods!(req, "POST" => auth::post_login(ctx, req)),
        ["api", "logout"] => methods!(req, "POST" => auth::post_logout(ctx, req)),
        ["api", "me"] => methods!(req, "GET" => auth::get_me(ctx, req)),
        ["api", "users"] => methods!(req, "GET" => users::get_users(ctx, req)),
        ["api", "ws"] => methods!(req, "GET" => crate::ws::upgrade(ctx, req)),
        [dir @ ("css" | "js" | "icons" | "img"), file] => {
            methods!(req, "GET" => pages::get_asset(ctx, req, &format!("{dir}/{file}")))
        }
        _ => Err(HttpError::NotFound),
    }
}

/// CSRF defence (SPEC §6.2): the request's `Origin` (or, when absent, `Sec-Fetch-Site:
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
