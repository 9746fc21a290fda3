//! Calls on the writer, in order with everything else: starting one (or joining the one already
//! live in the channel), accepting, declining, leaving, inviting, and ending calls nobody
//! answered. Each change sends the call object to the channel's members and everyone in the
//! call; a call's start and end leave a system notice in its channel. Signalling between the
//! browsers is relayed by the live layer; media never reaches the server.

use super::Writer;
use crate::base::json::Json;
use crate::base::stop::Stop;
use crate::db::calls as sql;
use crate::model::calls::{call_json, end_notice, is_live, may_see, require_callable, MAX_IN_CALL};
use crate::model::channels::ChannelId;
use crate::model::Refusal;
use crate::store::core::Core;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Starts a call in `channel` (which `user` may read), or joins the one already live there.
/// Returns the call and whether it is new.
pub fn start(w: &mut Writer, user: &str, channel: &ChannelId) -> Result<(Json, bool), Refusal> {
    require_callable(channel)?;
    let channel_text = channel.to_string();
    if let Some(call_id) = sql::live_call_in(&w.presence, &channel_text)? {
        return Ok((accept(w, &call_id, user)?, false));
    }
    let members = w.recipients(channel)?;
    if members.len() < 2 {
        return Err(Refusal::Invalid(
            "There is nobody else in this conversation to call".into(),
        ));
    }
    let now = crate::base::util::now();
    let call_id = crate::base::util::hex(&crate::base::util::random_bytes::<12>());
    let tx = w.presence.transaction()?;
    sql::insert_call(&tx, &call_id, &channel_text, user, now)?;
    sql::set_participant(&tx, &call_id, user, "initiator", "accepted", now)?;
    for member in members.iter().filter(|m| *m != user) {
        sql::set_participant(&tx, &call_id, member, "participant", "pending", now)?;
    }
    tx.commit()?;
    w.post_system(channel, &format!("{user} started a call"), Some(user))?;
    w.core.call_timer.nudge();
    Ok((announce(w, &call_id)?, true))
}

/// `user` answers (or joins a live call of a channel they can read).
pub fn accept(w: &mut Writer, call_id: &str, user: &str) -> Result<Json, Refusal> {
    let call = live_call(w, call_id)?;
    if !may_see(&w.core.settings.channels, &w.presence, &call, user)? {
        return Err(Refusal::NotFound);
    }
    let state = sql::participant_state(&w.presence, call_id, user)?;
    if state.as_deref() != Some("accepted") {
        let in_call = sql::participants(&w.presence, call_id)?
            .iter()
            .filter(|p| p.state == "accepted")
            .count();
        if in_call >= MAX_IN_CALL {
            return Err(Refusal::Conflict(format!(
                "This call is full: at most {MAX_IN_CALL} people can be in a call"
            )));
        }
        let now = crate::base::util::now();
        let role = if user == call.initiator {
            "initiator"
        } else {
            "participant"
        };
        sql::set_participant(&w.presence, call_id, user, role, "accepted", now)?;
        if call.state == "ringing" && user != call.initiator {
            sql::set_call_state(&w.presence, call_id, "active", Some(now), None)?;
        }
    }
    announce(w, call_id)
}

/// `user` declines a call ringing for them. A call nobody else can answer any more ends:
/// `rejected` when its one callee declined, `ended` otherwise.
pub fn reject(w: &mut Writer, call_id: &str, user: &str) -> Result<Json, Refusal> {
    let call = live_call(w, call_id)?;
    match sql::participant_state(&w.presence, call_id, user)?.as_deref() {
        Some("pending") => {}
        Some(_) => {
            return Err(Refusal::Conflict(
                "You are not being called; leave the call instead".into(),
            ))
        }
        None => return Err(Refusal::NotFound),
    }
    let now = crate::base::util::now();
    sql::set_participant(&w.presence, call_id, user, "participant", "rejected", now)?;
    let participants = sql::participants(&w.presence, call_id)?;
    let waiting = participants.iter().any(|p| p.state == "pending");
    let talking = participants
        .iter()
        .filter(|p| p.state == "accepted")
        .count();
    if call.state == "ringing" && !waiting && talking <= 1 {
        let state = if participants.len() == 2 {
            "rejected"
        } else {
            "ended"
        };
        let declined_by = (participants.len() == 2).then_some(user);
        return end(w, &call, state, declined_by);
    }
    announce(w, call_id)
}

/// `user` leaves; the last one out ends the call.
pub fn leave(w: &mut Writer, call_id: &str, user: &str) -> Result<Json, Refusal> {
    let call = live_call(w, call_id)?;
    match sql::participant_state(&w.presence, call_id, user)?.as_deref() {
        Some("accepted") => {}
        Some(_) => return Err(Refusal::Conflict("You are not in this call".into())),
        None => return Err(Refusal::NotFound),
    }
    let now = crate::base::util::now();
    let role = if user == call.initiator {
        "initiator"
    } else {
        "participant"
    };
    sql::set_participant(&w.presence, call_id, user, role, "left", now)?;
    let still_in = sql::participants(&w.presence, call_id)?
        .iter()
        .any(|p| p.state == "accepted");
    if !still_in {
        return end(w, &call, "ended", None);
    }
    announce(w, call_id)
}

/// An accepted participant rings `invitee` into the call (it gives no access to the channel).
pub fn invite(w: &mut Writer, call_id: &str, user: &str, invitee: &str) -> Result<Json, Refusal> {
    live_call(w, call_id)?;
    if sql::participant_state(&w.presence, call_id, user)?.as_deref() != Some("accepted") {
        return Err(Refusal::Forbidden(
            "Only someone in the call can add people to it".into(),
        ));
    }
    let invitee = w
        .registered_name(invitee)?
        .ok_or_else(|| Refusal::unknown_users(&[invitee]))?;
    let participants = sql::participants(&w.presence, call_id)?;
    if participants
        .iter()
        .any(|p| p.username == invitee && p.state == "accepted")
    {
        return Err(Refusal::Conflict(format!(
            "{invitee} is already in the call"
        )));
    }
    if participants
        .iter()
        .filter(|p| p.state == "accepted")
        .count()
        >= MAX_IN_CALL
    {
        return Err(Refusal::Conflict(format!(
            "This call is full: at most {MAX_IN_CALL} people can be in a call"
        )));
    }
    let now = crate::base::util::now();
    sql::set_participant(
        &w.presence,
        call_id,
        &invitee,
        "participant",
        "pending",
        now,
    )?;
    announce(w, call_id)
}

/// `user`'s last socket closed: they leave every call they were in.
pub fn disconnected(w: &mut Writer, user: &str) -> Result<(), Refusal> {
    for call_id in sql::live_calls_joined_by(&w.presence, user)? {
        leave(w, &call_id, user)?;
    }
    Ok(())
}

/// Ends the calls that rang for `timeout` without an answer; returns when the next one is due.
pub fn expire_ringing(w: &mut Writer, timeout: Duration) -> Result<Option<f64>, Refusal> {
    let now = crate::base::util::now();
    let mut next = None::<f64>;
    for (call_id, started) in sql::ringing(&w.presence)? {
        let due = started + timeout.as_secs_f64();
        if due <= now {
            if let Some(call) = sql::call(&w.presence, &call_id)? {
                end(w, &call, "ended", None)?;
            }
        } else {
            next = Some(next.map_or(due, |n| n.min(due)));
        }
    }
    Ok(next)
}

/// The thread that ends unanswered calls: sleeps until the next ringing call is due (or a new
/// one starts), then has the writer end what is due. Asleep while nothing rings.
pub fn run_timer(core: &Core, timeout: Duration, stop: &Stop) {
    loop {
        let ticket = stop.ticket();
        let next = match core.store.run(move |w| expire_ringing(w, timeout)) {
            Ok(next) => next,
            Err(e) => {
                crate::log!("warning: cannot end unanswered calls: {e}");
                None
            }
        };
        let stopped = match next {
            Some(due) => {
                let wait = Duration::from_secs_f64((due - crate::base::util::now()).max(0.0));
                stop.wait_until(ticket, Instant::now() + wait)
            }
            None => stop.wait(ticket),
        };
        if stopped {
            return;
        }
    }
}

fn live_call(w: &Writer, call_id: &str) -> Result<sql::CallRow, Refusal> {
    let call = sql::call(&w.presence, call_id)?.ok_or(Refusal::NotFound)?;
    if !is_live(&call.state) {
        return Err(Refusal::Conflict("This call has ended".into()));
    }
    Ok(call)
}

/// Ends a call with `state`, leaves its notice, and announces it.
fn end(
    w: &mut Writer,
    call: &sql::CallRow,
    state: &str,
    declined_by: Option<&str>,
) -> Result<Json, Refusal> {
    let now = crate::base::util::now();
    sql::set_call_state(&w.presence, &call.call_id, state, None, Some(now))?;
    let answered = sql::call(&w.presence, &call.call_id)?.ok_or(Refusal::NotFound)?;
    let notice = end_notice(&answered, declined_by, now);
    if let Ok(channel) = ChannelId::parse(&call.channel) {
        w.post_system(&channel, &notice, None)?;
    }
    announce(w, &call.call_id)
}

/// Sends the call object to the channel's members and everyone in the call; returns it.
fn announce(w: &mut Writer, call_id: &str) -> Result<Json, Refusal> {
    let call = sql::call(&w.presence, call_id)?.ok_or(Refusal::NotFound)?;
    let participants = sql::participants(&w.presence, call_id)?;
    let json = call_json(&call, &participants);
    let mut to: Vec<String> = match ChannelId::parse(&call.channel) {
        Ok(channel) => w.recipients(&channel)?,
        Err(_) => Vec::new(),
    };
    for p in &participants {
        if !to.contains(&p.username) {
            to.push(p.username.clone());
        }
    }
    let event = Json::obj([("type", "call".into()), ("call", json.clone())]);
    w.core.hub.send_to(
        to.iter().map(String::as_str),
        &Arc::from(event.to_json_string()),
    );
    Ok(json)
}
