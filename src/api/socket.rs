//! GET /api/ws: the WebSocket handshake checks (same origin, session, protocol version) and
//! the 101 answer. The socket itself is served by `live::socket` once the 101 is sent.

use super::ctx::Ctx;
use crate::http::{Body, HttpError, Request, Response};
use crate::live::socket::Upgrade;

/// GET /api/ws — checks the handshake, the origin and the session; answers 101.
pub fn upgrade(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    super::check_same_origin(req)?;
    let user = super::require_user(ctx, req)?;
    let has_token = |name: &str, token: &str| {
        req.header(name)
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    if !has_token("upgrade", "websocket") || !has_token("connection", "upgrade") {
        return Err(HttpError::BadRequest(
            "This endpoint only speaks WebSocket".into(),
        ));
    }
    if req.header("sec-websocket-version") != Some("13") {
        return Err(HttpError::BadRequest(
            "Unsupported WebSocket version; use 13".into(),
        ));
    }
    let key = req
        .header("sec-websocket-key")
        .ok_or_else(|| HttpError::BadRequest("Missing Sec-WebSocket-Key".into()))?;
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    Ok(Response {
        status: 101,
        headers: vec![
            ("Upgrade", "websocket".to_owned()),
            ("Connection", "Upgrade".to_owned()),
            ("Sec-WebSocket-Accept", accept),
        ],
        body: Body::Upgrade(Box::new(Upgrade {
            user: user.name.to_string(),
            session_id: user.session_id,
        })),
    })
}
