//! Calls over HTTP: start or join, answer, decline, leave, add a person, look one up — each a
//! writer job (`store::calls`) — and the ICE configuration a browser needs first: our own STUN
//! responder at the host name the page was loaded from, so nothing outside the LAN is ever
//! asked. Media never touches the server.

use super::ctx::Ctx;
use super::{host_name, open_channel, require_user, str_field};
use crate::base::json::Json;
use crate::db;
use crate::http::{HttpError, Request, Response};
use crate::model::calls::{call_json, may_see};
use crate::store::calls;

/// POST /api/calls {channel} — 201 with a new call, or 200 joining the one already live there.
pub fn post_call(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let body = req.json()?;
    let channel = open_channel(ctx, &user, str_field(&body, "channel")?)?;
    let me = user.name.to_string();
    let (call, new) = ctx.store.run(move |w| calls::start(w, &me, &channel))?;
    Ok(Response::json(if new { 201 } else { 200 }, &call))
}

/// GET /api/calls — the live calls the caller is in or may join (those of conversations they
/// can read), so a page that just loaded can show them.
pub fn get_calls(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let presence = ctx.presence_db.get()?;
    let mut visible = Vec::new();
    for call in db::calls::live_calls(&presence)? {
        if may_see(&ctx.settings.channels, &presence, &call, user.name.as_str())? {
            let participants = db::calls::participants(&presence, &call.call_id)?;
            visible.push(call_json(&call, &participants));
        }
    }
    Ok(Response::json(200, &Json::Arr(visible)))
}

/// GET /api/calls/{id} — 404 unless the caller is in it or may read its conversation.
pub fn get_call(ctx: &Ctx, req: &mut Request, id: &str) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let presence = ctx.presence_db.get()?;
    let call = db::calls::call(&presence, id)?.ok_or(HttpError::NotFound)?;
    if !may_see(&ctx.settings.channels, &presence, &call, user.name.as_str())? {
        return Err(HttpError::NotFound);
    }
    let participants = db::calls::participants(&presence, id)?;
    Ok(Response::json(200, &call_json(&call, &participants)))
}

/// POST /api/calls/{id}/accept | reject | leave
pub fn post_call_action(
    ctx: &Ctx,
    req: &mut Request,
    id: &str,
    action: &str,
) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let (id, me) = (id.to_owned(), user.name.to_string());
    let call = match action {
        "accept" => ctx.store.run(move |w| calls::accept(w, &id, &me))?,
        "reject" => ctx.store.run(move |w| calls::reject(w, &id, &me))?,
        "leave" => ctx.store.run(move |w| calls::leave(w, &id, &me))?,
        _ => return Err(HttpError::NotFound),
    };
    Ok(Response::json(200, &call))
}

/// POST /api/calls/{id}/invite {username}
pub fn post_invite(ctx: &Ctx, req: &mut Request, id: &str) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let body = req.json()?;
    let invitee = str_field(&body, "username")?.to_owned();
    let (id, me) = (id.to_owned(), user.name.to_string());
    let call = ctx
        .store
        .run(move |w| calls::invite(w, &id, &me, &invitee))?;
    Ok(Response::json(200, &call))
}

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
