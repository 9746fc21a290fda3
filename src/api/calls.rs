//! Calls over HTTP. For now the ICE configuration a browser needs before it calls anyone: our
//! own STUN responder at the host name the page was loaded from, so nothing outside the LAN is
//! ever asked. Media never touches the server.

use super::ctx::Ctx;
use super::require_user;
use crate::base::json::Json;
use crate::http::{HttpError, Request, Response};

/// GET /api/ice-servers — `{"iceServers": [{"urls": ["stun:<host>:<port>"]}]}`, in the shape
/// `RTCPeerConnection` takes; empty when STUN is off or could not bind its port.
pub fn get_ice_servers(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    require_user(ctx, req)?;
    let servers = match (ctx.stun_port.get(), req.header("host").and_then(host_name)) {
        (Some(port), Some(host)) => vec![Json::obj([(
            "urls",
            Json::Arr(vec![Json::str(format!("stun:{host}:{port}"))]),
        )])],
        _ => Vec::new(),
    };
    Ok(Response::json(
        200,
        &Json::obj([("iceServers", Json::Arr(servers))]),
    ))
}

/// The host part of a `Host` header (`chat.lan:5000` → `chat.lan`, `[fe80::1]:5000` →
/// `[fe80::1]`), if it is a plain name or address literal.
fn host_name(header: &str) -> Option<&str> {
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
