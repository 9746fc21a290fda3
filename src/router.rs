//! The ONLY place mapping (method, path) to handlers: one `match` on percent-decoded path
//! segments. Also the same-origin check every state-changing request passes first.

use crate::api::ctx::Ctx;
use crate::api::{
    account, auth, calls, channels, files, join, mentions, messages, notifications, pages, pins,
    private_channels, profile, reset, search, users,
};
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
        crate::api::check_same_origin(req)?;
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
        ["reset-password", _token] => methods!(req, "GET" => reset::get_page(ctx, req)),
        ["api", "reset-password", token] => methods!(req,
            "GET" => reset::get_token(ctx, req, token),
            "POST" => reset::post_token(ctx, req, token),
        ),
        ["healthz"] => methods!(req, "GET" => pages::get_health()),
        ["join"] => methods!(req, "GET" => join::get_page(ctx, req)),
        ["join", "qr.svg"] => methods!(req, "GET" => join::get_qr(ctx, req)),
        ["api", "join"] => methods!(req, "GET" => join::get_info(ctx, req)),
        ["ca.pem"] => methods!(req, "GET" => pages::get_ca(ctx)),
        ["api", "signup"] => methods!(req, "POST" => auth::post_signup(ctx, req)),
        ["api", "login"] => methods!(req, "POST" => auth::post_login(ctx, req)),
        ["api", "logout"] => methods!(req, "POST" => auth::post_logout(ctx, req)),
        ["api", "me"] => methods!(req,
            "GET" => auth::get_me(ctx, req),
            "PATCH" => profile::patch_me(ctx, req),
        ),
        ["api", "me", "avatar"] => methods!(req,
            "PUT" => profile::put_avatar(ctx, req),
            "DELETE" => profile::delete_avatar(ctx, req),
        ),
        ["avatars", username] => methods!(req, "GET" => profile::get_avatar(ctx, req, username)),
        ["api", "account", "password"] => methods!(req, "POST" => account::post_password(ctx, req)),
        ["api", "account", "delete"] => methods!(req, "POST" => account::post_delete(ctx, req)),
        ["api", "uploads"] => methods!(req, "POST" => files::post_upload(ctx, req)),
        ["files", name] => methods!(req, "GET" => files::get_file(ctx, req, name)),
        ["api", "search"] => methods!(req, "GET" => search::get_search(ctx, req)),
        ["api", "mentions"] => methods!(req, "GET" => mentions::get_mentions(ctx, req)),
        ["api", "notifications"] => methods!(req,
            "GET" => notifications::get_notifications(ctx, req),
            "PUT" => notifications::put_notifications(ctx, req),
        ),
        ["api", "users"] => methods!(req, "GET" => users::get_users(ctx, req)),
        ["api", "ice-servers"] => methods!(req, "GET" => calls::get_ice_servers(ctx, req)),
        ["api", "calls"] => methods!(req,
            "GET" => calls::get_calls(ctx, req),
            "POST" => calls::post_call(ctx, req),
        ),
        ["api", "calls", id] => methods!(req, "GET" => calls::get_call(ctx, req, id)),
        ["api", "calls", id, "invite"] => methods!(req, "POST" => calls::post_invite(ctx, req, id)),
        ["api", "calls", id, action @ ("accept" | "reject" | "leave")] => {
            methods!(req, "POST" => calls::post_call_action(ctx, req, id, action))
        }
        ["api", "reactions"] => methods!(req, "GET" => messages::get_reactions(ctx, req)),
        ["api", "presence"] => methods!(req, "POST" => channels::post_presence(ctx, req)),
        ["api", "channels"] => methods!(req, "GET" => channels::get_channels(ctx, req)),
        ["api", "channels", ch, "messages"] => methods!(req,
            "GET" => messages::get_messages(ctx, req, ch),
            "POST" => messages::post_message(ctx, req, ch),
        ),
        ["api", "channels", ch, "messages", id] => methods!(req,
            "PATCH" => messages::patch_message(ctx, req, ch, id),
            "DELETE" => messages::delete_message(ctx, req, ch, id),
        ),
        ["api", "channels", ch, "messages", id, "pin"] => methods!(req,
            "POST" => pins::set_pin(ctx, req, ch, id, true),
            "DELETE" => pins::set_pin(ctx, req, ch, id, false),
        ),
        ["api", "channels", ch, "notifications"] => {
            methods!(req, "PUT" => notifications::put_channel_level(ctx, req, ch))
        }
        ["api", "channels", ch, "pins"] => methods!(req, "GET" => pins::get_pins(ctx, req, ch)),
        ["api", "channels", ch, "messages", id, "reactions"] => {
            methods!(req, "POST" => messages::post_reaction(ctx, req, ch, id))
        }
        ["api", "channels", ch, "read"] => {
            methods!(req, "POST" => channels::post_read(ctx, req, ch))
        }
        ["api", "channels", ch, "receipts"] => {
            methods!(req, "GET" => channels::get_receipts(ctx, req, ch))
        }
        ["api", "channels", ch, "typing"] => {
            methods!(req, "POST" => channels::post_typing(ctx, req, ch))
        }
        ["api", "dms", ch, "hide"] => methods!(req, "POST" => channels::post_hide_dm(ctx, req, ch)),
        ["api", "private-channels"] => {
            methods!(req, "POST" => private_channels::post_private_channel(ctx, req))
        }
        ["api", "private-channels", n] => {
            methods!(req, "PATCH" => private_channels::patch_private_channel(ctx, req, n))
        }
        ["api", "private-channels", n, "members"] => {
            methods!(req, "POST" => private_channels::post_member(ctx, req, n))
        }
        ["api", "private-channels", n, "members", member] => {
            methods!(req, "DELETE" => private_channels::delete_member(ctx, req, n, member))
        }
        ["api", "private-channels", n, "leave"] => {
            methods!(req, "POST" => private_channels::post_leave(ctx, req, n))
        }
        ["api", "ws"] => methods!(req, "GET" => crate::api::socket::upgrade(ctx, req)),
        // The web app manifest and the service worker live at the root (a worker's scope is
        // its own directory).
        [file @ ("manifest.webmanifest" | "sw.js")] => {
            methods!(req, "GET" => pages::get_asset(ctx, req, file))
        }
        [dir @ ("css" | "js" | "icons" | "img"), file] => {
            methods!(req, "GET" => pages::get_asset(ctx, req, &format!("{dir}/{file}")))
        }
        _ => Err(HttpError::NotFound),
    }
}
