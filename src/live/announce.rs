//! Announcements that come from people rather than from stored messages: presence (recorded
//! in presence.db, sent to everyone), typing (recorded, sent to those who can read the
//! channel) and call signals (relayed to the one participant they name, never stored).
//! Callers apply the throttles in `hub`; nothing here writes a user's database.

use super::Live;
use crate::base::json::Json;
use crate::db;
use crate::model::channels::ChannelId;
use std::sync::Arc;

/// Announces (and records) the user's presence if it changed.
pub fn presence(live: &Live, user: &str) {
    // One announcement at a time, so the last recorded and sent state is the true one.
    let _order = live
        .hub
        .presence_order
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let Some(state) = live.hub.presence_change(user) else {
        return;
    };
    match live.presence_db.get() {
        Ok(db) => {
            if let Err(e) = crate::db::presence::set_state(
                &db,
                user,
                state.as_str(),
                crate::base::util::now() as i64,
            ) {
                crate::log!("warning: cannot record presence of {user}: {e}");
            }
        }
        Err(e) => crate::log!("warning: cannot record presence of {user}: {e:#}"),
    }
    let event = Json::obj([
        ("type", "presence".into()),
        ("user", user.into()),
        ("state", state.as_str().into()),
    ]);
    live.hub.broadcast(&Arc::from(event.to_json_string()));
}

/// Records that `user` is typing in `channel` (which they may read) and tells the others who
/// can read it. Callers apply the typing throttle.
pub fn typing(live: &Live, user: &str, channel: &ChannelId) -> anyhow::Result<()> {
    let presence = live.presence_db.get()?;
    db::presence::set_typing(
        &presence,
        user,
        &channel.to_string(),
        crate::base::util::now() as i64,
    )?;
    let event = Json::obj([
        ("type", "typing".into()),
        ("channel", Json::str(channel.to_string())),
        ("user", user.into()),
    ]);
    let frame: Arc<str> = Arc::from(event.to_json_string());
    match channel {
        // Everyone can read a public channel: tell every connected user, no query needed.
        ChannelId::Public(_) => live.hub.broadcast_except(user, &frame),
        ChannelId::Private(id) => {
            let members = db::presence::private_members(&presence, *id)?;
            live.hub.send_to(
                members.iter().map(String::as_str).filter(|u| *u != user),
                &frame,
            );
        }
        ChannelId::Dm(users) => live.hub.send_to(
            users.iter().map(String::as_str).filter(|u| *u != user),
            &frame,
        ),
    }
    Ok(())
}

/// Relays a `call_signal {call_id, to, data}` from `from` to `to`'s sockets only, when the call
/// is live, `from` is in it and `to` is in it or being called; otherwise tells the sender why
/// with `call_signal_refused {call_id, to, reason}`.
pub fn call_signal(live: &Live, client: &super::hub::Client, message: &Json) {
    let call_id = message.get("call_id").and_then(Json::as_str).unwrap_or("");
    let to = message.get("to").and_then(Json::as_str).unwrap_or("");
    let data = message.get("data").cloned().unwrap_or(Json::Null);
    // The throttle first, so a flood costs no database work.
    if !client.may_signal(std::time::Instant::now()) {
        return refuse(client, call_id, to, "Too many call signals; slow down");
    }
    let allowed = !call_id.is_empty()
        && to != client.user
        && live.presence_db.get().is_ok_and(|presence| {
            db::calls::may_signal(&presence, call_id, &client.user, to).unwrap_or(false)
        });
    if allowed {
        let event = Json::obj([
            ("type", "call_signal".into()),
            ("call_id", call_id.into()),
            ("from", client.user.as_str().into()),
            ("data", data),
        ]);
        live.hub.send_to([to], &Arc::from(event.to_json_string()));
    } else {
        refuse(
            client,
            call_id,
            to,
            "Only people in a live call can signal each other",
        );
    }
}

fn refuse(client: &super::hub::Client, call_id: &str, to: &str, reason: &str) {
    let refusal = Json::obj([
        ("type", "call_signal_refused".into()),
        ("call_id", call_id.into()),
        ("to", to.into()),
        ("reason", reason.into()),
    ]);
    client.push(Arc::from(refusal.to_json_string()));
}
