//! Joining from a phone: `/join` (no login) explains how to trust this server's certificate
//! authority on each kind of device, `/join/qr.svg` is a code to scan that opens this server with
//! the CA's fingerprint attached (so the phone can check it downloads the right one), and
//! `/api/join` gives the page what it shows. Nothing here needs or reveals an account.

use super::ctx::Ctx;
use super::host_name;
use crate::base::json::Json;
use crate::http::{Body, HttpError, Request, Response};
use qrcodegen::{QrCode, QrCodeEcc};

/// GET /join
pub fn get_page(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    super::asset(ctx, req, "join.html")
}

/// GET /api/join — `{url, fingerprint, ca_url}` (`fingerprint` and `ca_url` null when the admin
/// brought their own certificate).
pub fn get_info(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    let url = server_url(ctx, req)?;
    Ok(Response::json(
        200,
        &Json::obj([
            ("url", Json::str(&url)),
            ("fingerprint", Json::opt_str(ctx.ca_fingerprint.clone())),
            (
                "ca_url",
                Json::opt_str(ctx.ca_pem.as_ref().map(|_| format!("{url}/ca.pem"))),
            ),
        ]),
    ))
}

/// GET /join/qr.svg — the code for `<url>/join#sha256=<fingerprint>`.
pub fn get_qr(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    let mut target = format!("{}/join", server_url(ctx, req)?);
    if let Some(fingerprint) = &ctx.ca_fingerprint {
        target.push_str("#sha256=");
        target.push_str(&fingerprint.replace(':', ""));
    }
    let code = QrCode::encode_text(&target, QrCodeEcc::Medium)
        .map_err(|_| HttpError::BadRequest("This address is too long for a code".into()))?;
    Ok(Response {
        status: 200,
        headers: vec![
            ("Content-Type", "image/svg+xml".to_owned()),
            ("Cache-Control", "no-store".to_owned()),
        ],
        body: Body::Bytes(svg(&code).into_bytes()),
    })
}

/// The address the page was loaded from: the scheme this server (or the proxy in front of it)
/// speaks, and the `Host` the browser used.
fn server_url(ctx: &Ctx, req: &Request) -> Result<String, HttpError> {
    let authority = req.header("host").unwrap_or("");
    host_name(authority).ok_or_else(|| {
        HttpError::BadRequest("A Host header naming this server is needed".into())
    })?;
    let port_ok = authority
        .rsplit_once(':')
        .filter(|(h, _)| !h.ends_with(':') && (!authority.starts_with('[') || h.ends_with(']')))
        .is_none_or(|(_, p)| p.parse::<u16>().is_ok());
    if !port_ok {
        return Err(HttpError::BadRequest(
            "A Host header naming this server is needed".into(),
        ));
    }
    let https = ctx.tls
        || req
            .header("x-forwarded-proto")
            .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    Ok(format!(
        "{}://{authority}",
        if https { "https" } else { "http" }
    ))
}

/// The code as an SVG: one path of unit squares, a 4-module quiet zone, black on white.
fn svg(code: &QrCode) -> String {
    let size = code.size();
    let border = 4;
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if code.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    let side = size + 2 * border;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" \
         shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\
         <path d=\"{path}\" fill=\"#000\"/></svg>"
    )
}
