//! Pinned messages: `GET /api/channels/{ch}/pins`, and pinning or unpinning one message with
//! `POST`/`DELETE /api/channels/{ch}/messages/{id}/pin`. Anyone who can read a conversation may
//! pin and unpin in it; the pins are shared by all its readers.

use super::ctx::Ctx;
use super::{open_channel, own_db, require_user};
use crate::base::json::Json;
use crate::db;
use crate::http::{HttpError, Request, Response};
use crate::model::messages;

/// Most pins one conversation may have, so the list stays a list of what matters.
pub const MAX_PINS: u64 = 100;

/// GET /api/channels/{ch}/pins — the pinned messages as the caller sees them, the most
/// recently pinned first, each with `pinned_by` and `pinned_ts`.
pub fn get_pins(ctx: &Ctx, req: &mut Request, channel: &str) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let channel = open_channel(ctx, &user, channel)?.to_string();
    let presence = ctx.presence_db.get()?;
    let pins = db::presence::pins_of(&presence, &channel)?;
    let keys: Vec<(String, f64)> = pins.iter().map(|p| (channel.clone(), p.msg_ts)).collect();
    let conn = own_db(ctx, &user)?;
    let rendered = crate::model::history::render_messages(ctx, &conn, &presence, &keys)?;
    let list = rendered
        .into_iter()
        .filter(|m| m.get("deleted") != Some(&Json::Bool(true)))
        .filter_map(|mut message| {
            let ts = message.get("ts").and_then(Json::as_f64)?;
            let pin = pins.iter().find(|p| p.msg_ts == ts)?;
            if let Json::Obj(fields) = &mut message {
                fields.push(("pinned_by".into(), pin.pinned_by.as_str().into()));
                fields.push(("pinned_ts".into(), Json::Num(pin.pinned_ts)));
            }
            Some(message)
        })
        .collect();
    Ok(Response::json(200, &Json::Arr(list)))
}

/// POST (pin) or DELETE (unpin) /api/channels/{ch}/messages/{id}/pin — answers
/// `{"pinned": bool, "count": n}`; doing what is already done is not an error.
pub fn set_pin(
    ctx: &Ctx,
    req: &mut Request,
    channel: &str,
    id: &str,
    pinned: bool,
) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    if pinned {
        super::require_room(ctx)?;
    }
    let channel = open_channel(ctx, &user, channel)?;
    let ts = messages::parse_id(id).ok_or(HttpError::NotFound)?;
    let rows = db::user::message_rows(&*own_db(ctx, &user)?, &channel.to_string(), ts)?;
    let Some(first) = rows.first().filter(|r| !r.deleted) else {
        return Err(HttpError::NotFound);
    };
    if pinned && first.content_type.as_deref() == Some("system") {
        return Err(HttpError::BadRequest(
            "Notices cannot be pinned; pin a message someone wrote".into(),
        ));
    }
    let sender = first.sender.clone();
    let by = user.name.as_str().to_owned();
    let count = ctx.store.run(move |w| {
        if pinned {
            let count = db::presence::pin_count(&w.presence, &channel.to_string())?;
            if count >= MAX_PINS {
                return Err(crate::model::Refusal::Conflict(format!(
                    "A conversation can have at most {MAX_PINS} pins; unpin one first"
                )));
            }
        }
        w.set_pinned(&channel, ts, &sender, &by, pinned)
    })?;
    let body = Json::obj([
        ("pinned", Json::Bool(pinned)),
        ("count", Json::Num(count as f64)),
    ]);
    Ok(Response::json(200, &body))
}
