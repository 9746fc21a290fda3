//! Private-channel membership on the writer thread, in order with message fan-out: create,
//! rename, add and remove members. Each change posts a system notice and sends a `channels`
//! event to the members (and to whoever just left). Callers check that the actor is a member.

use super::Writer;
use crate::base::json::Json;
use crate::db;
use crate::model::channels::{private_channel_json, ChannelId};
use crate::model::Refusal;
use std::sync::Arc;

/// Creates the channel with `creator` and the `requested` members (registered names; unknown
/// ones are refused together) and returns it as its members see it.
pub fn create(
    w: &mut Writer,
    creator: &str,
    name: &str,
    requested: &[String],
) -> Result<Json, Refusal> {
    let mut members = vec![creator.to_owned()];
    let mut unknown = Vec::new();
    for wanted in requested {
        match w.registered_name(wanted)? {
            Some(member) if !members.contains(&member) => members.push(member),
            Some(_) => {}
            None => unknown.push(wanted.as_str()),
        }
    }
    if !unknown.is_empty() {
        return Err(Refusal::unknown_users(&unknown));
    }
    let now = crate::base::util::now();
    let tx = w.presence.transaction()?;
    let id = db::presence::create_private_channel(&tx, name, creator, now)?;
    for member in &members {
        db::presence::add_member(&tx, id, member, now)?;
    }
    tx.commit()?;
    w.post_system(
        &ChannelId::Private(id),
        &format!("{creator} created the channel {name}"),
        Some(creator),
    )?;
    changed(w, id, &[])
}

/// Renames channel `id` (any member may).
pub fn rename(w: &mut Writer, id: i64, actor: &str, name: &str) -> Result<Json, Refusal> {
    db::presence::rename_private_channel(&w.presence, id, name)?;
    w.post_system(
        &ChannelId::Private(id),
        &format!("{actor} renamed the channel to {name}"),
        Some(actor),
    )?;
    changed(w, id, &[])
}

/// Adds the registered user `wanted` to channel `id`.
pub fn add_member(w: &mut Writer, id: i64, actor: &str, wanted: &str) -> Result<Json, Refusal> {
    let member = w.registered_name(wanted)?.ok_or(Refusal::NotFound)?;
    if !db::presence::add_member(&w.presence, id, &member, crate::base::util::now())? {
        return Err(Refusal::Conflict(format!("{member} is already a member")));
    }
    w.post_system(
        &ChannelId::Private(id),
        &format!("{actor} added {member}"),
        Some(actor),
    )?;
    changed(w, id, &[])
}

/// Removes `member` from channel `id`: themselves, or anyone when `actor` created it.
pub fn remove_member(w: &mut Writer, id: i64, actor: &str, member: &str) -> Result<(), Refusal> {
    let channel = db::presence::private_channel(&w.presence, id)?.ok_or(Refusal::NotFound)?;
    if member != actor && channel.created_by != actor {
        return Err(Refusal::Forbidden(
            "Only the channel's creator can remove other members".into(),
        ));
    }
    if !db::presence::remove_member(&w.presence, id, member)? {
        return Err(Refusal::NotFound);
    }
    let notice = if member == actor {
        format!("{actor} left")
    } else {
        format!("{actor} removed {member}")
    };
    w.post_system(&ChannelId::Private(id), &notice, Some(actor))?;
    changed(w, id, &[member])?;
    Ok(())
}

/// `actor` leaves channel `id` (a notice with no sender: nobody's own copy is skipped).
pub fn leave(w: &mut Writer, id: i64, actor: &str) -> Result<(), Refusal> {
    db::presence::remove_member(&w.presence, id, actor)?;
    w.post_system(&ChannelId::Private(id), &format!("{actor} left"), None)?;
    changed(w, id, &[actor])?;
    Ok(())
}

/// The channel as its members now see it, and a `channels` event to `also` and every member.
fn changed(w: &mut Writer, id: i64, also: &[&str]) -> Result<Json, Refusal> {
    let channel = db::presence::private_channel(&w.presence, id)?.ok_or(Refusal::NotFound)?;
    let members = db::presence::private_members(&w.presence, id)?;
    let frame: Arc<str> = Arc::from(r#"{"type":"channels"}"#);
    w.core.hub.send_to(
        members
            .iter()
            .map(String::as_str)
            .chain(also.iter().copied()),
        &frame,
    );
    private_channel_json(&w.presence, &channel, Json::Num(0.0))
}
