//! Announcements that come from people rather than from stored messages: presence (recorded
//! in presence.db, sent to everyone) and typing (recorded, sent to those who can read the
//! channel). Callers apply the throttles in `hub`; nothing here writes a user's database.

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
                eprintln!("warning: cannot record presence of {user}: {e}");
            }
        }
        Err(e) => eprintln!("warning: cannot record presence of {user}: {e:#}"),
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
