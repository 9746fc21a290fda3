//! The sidebar and per-channel state: `GET /api/channels`, hiding DMs, marking read with
//! receipts, typing, and presence. Every handler checks the caller can read the channel.

use super::ctx::Ctx;
use super::require_user;
use super::str_field;
use super::{open_channel, own_db, DEFAULT_PAGE};
use crate::base::json::Json;
use crate::db;
use crate::http::{HttpError, Request, Response};
use crate::live::hub::Presence;
use crate::model::channels::ChannelId;
use crate::model::messages;
use std::sync::Arc;
use std::time::Instant;

/// GET /api/channels
pub fn get_channels(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let me = user.name.as_str();
    let conn = own_db(ctx, &user)?;
    let unread = db::user::unread_counts(&conn, me)?;
    let mentioned = db::user::unread_mention_counts(&conn, me)?;
    let unread_of = |id: &str| Json::Num(unread.get(id).copied().unwrap_or(0) as f64);
    let mentions_of = |id: &str| Json::Num(mentioned.get(id).copied().unwrap_or(0) as f64);
    let presence = ctx.presence_db.get()?;
    let pinned = db::presence::pin_counts(&presence)?;
    let pins_of = |id: &str| Json::Num(pinned.get(id).copied().unwrap_or(0) as f64);
    let levels = db::user::notification_levels(&conn)?;
    let level_of = |id: &str| Json::str(levels.get(id).map_or("all", String::as_str));
    let public = ctx
        .settings
        .channels
        .iter()
        .map(|name| {
            Json::obj([
                ("id", name.as_str().into()),
                ("name", name.as_str().into()),
                ("unread", unread_of(name)),
                ("mentions", mentions_of(name)),
                ("pins", pins_of(name)),
                ("level", level_of(name)),
            ])
        })
        .collect();
    let mut private = Vec::new();
    for channel in db::presence::private_channels_of(&presence, me)? {
        let id = format!("private:{}", channel.id);
        let mut json =
            crate::model::channels::private_channel_json(&presence, &channel, unread_of(&id))?;
        if let Json::Obj(fields) = &mut json {
            fields.push(("mentions".into(), mentions_of(&id)));
            fields.push(("pins".into(), pins_of(&id)));
            fields.push(("level".into(), level_of(&id)));
        }
        private.push(json);
    }
    let hidden = db::user::hidden_dms(&conn)?;
    let mut dms = Vec::new();
    for (id, last_ts) in db::user::dm_channels(&conn)? {
        if hidden
            .get(&id)
            .is_some_and(|hidden_ts| *hidden_ts >= last_ts)
        {
            continue;
        }
        let Ok(ChannelId::Dm(users)) = ChannelId::parse(&id) else {
            continue;
        };
        let users = users.into_iter().map(Json::Str).collect();
        dms.push(Json::obj([
            ("id", id.as_str().into()),
            ("users", Json::Arr(users)),
            ("unread", unread_of(&id)),
            ("mentions", mentions_of(&id)),
            ("pins", pins_of(&id)),
            ("level", level_of(&id)),
            ("last_ts", Json::Num(last_ts)),
        ]));
    }
    let body = Json::obj([
        ("public", Json::Arr(public)),
        ("private", Json::Arr(private)),
        ("dms", Json::Arr(dms)),
    ]);
    Ok(Response::json(200, &body))
}

/// POST /api/dms/{ch}/hide — until a newer message arrives.
pub fn post_hide_dm(ctx: &Ctx, req: &mut Request, channel: &str) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let channel = open_channel(ctx, &user, channel)?;
    if !channel.is_dm() {
        return Err(HttpError::BadRequest(
            "Only direct conversations can be hidden".into(),
        ));
    }
    let conn = own_db(ctx, &user)?;
    let id = channel.to_string();
    let last = db::user::max_ts(&conn, &id)?.unwrap_or(0.0);
    db::user::hide_dm(&conn, &id, last.max(crate::base::util::now()))?;
    ctx.hub
        .send_to([user.name.as_str()], &Arc::from(r#"{"type":"channels"}"#));
    Ok(Response::no_content())
}

/// POST /api/channels/{ch}/read?up_to=<id> — marks read everything, or what was sent up to
/// and including message `up_to` (what the reader has had on screen), and tells the senders.
pub fn post_read(ctx: &Ctx, req: &mut Request, channel: &str) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let channel = open_channel(ctx, &user, channel)?.to_string();
    let up_to = match req.query_param("up_to") {
        Some(id) => Some(
            messages::parse_id(&id)
                .ok_or_else(|| HttpError::BadRequest("\"up_to\" must be a message id".into()))?,
        ),
        None => None,
    };
    // On the writer, so it comes after every copy announced to this reader is committed.
    let (reader, read_channel) = (user.name.clone(), channel.clone());
    let newly_read = ctx.store.run(move |w| {
        let conn = w.database(reader.as_str())?.ok_or_else(|| {
            crate::model::Refusal::Failed(anyhow::anyhow!("users/{reader}.db is missing"))
        })?;
        Ok(db::user::mark_read(
            conn,
            &read_channel,
            reader.as_str(),
            up_to,
        )?)
    })?;
    if newly_read.is_empty() {
        return Ok(Response::no_content());
    }
    let timestamps: Vec<f64> = newly_read.iter().map(|(ts, _)| *ts).collect();
    db::presence::add_receipts(
        &*ctx.presence_db.get()?,
        &channel,
        &timestamps,
        user.name.as_str(),
    )?;
    let mut senders: Vec<&str> = newly_read.iter().map(|(_, s)| s.as_str()).collect();
    senders.sort_unstable();
    senders.dedup();
    for sender in senders {
        let ids = newly_read
            .iter()
            .filter(|(_, s)| s == sender)
            .map(|(ts, _)| Json::str(messages::id_of(*ts)))
            .collect();
        let event = Json::obj([
            ("type", "receipts".into()),
            ("channel", channel.as_str().into()),
            ("reader", user.name.as_str().into()),
            ("ids", Json::Arr(ids)),
        ]);
        ctx.hub
            .send_to([sender], &Arc::from(event.to_json_string()));
    }
    Ok(Response::no_content())
}

/// GET /api/channels/{ch}/receipts?since=&before= — who read each message the caller sent,
/// for the messages shown: ids from `since` (the oldest shown; by default the first of the
/// newest page) up to `before` (excluded; by default none).
pub fn get_receipts(ctx: &Ctx, req: &mut Request, channel: &str) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let channel = open_channel(ctx, &user, channel)?.to_string();
    let id_param = |name: &str| match req.query_param(name) {
        Some(id) => messages::parse_id(&id)
            .map(Some)
            .ok_or_else(|| HttpError::BadRequest(format!("\"{name}\" must be a message id"))),
        None => Ok(None),
    };
    let (since, before) = (id_param("since")?, id_param("before")?);
    let conn = own_db(ctx, &user)?;
    let since = match since {
        Some(since) => since,
        None => match db::user::page_start(&conn, &channel, before, DEFAULT_PAGE)? {
            Some(start) => start,
            None => return Ok(Response::json(200, &Json::Obj(Vec::new()))),
        },
    };
    let before = before.unwrap_or(f64::INFINITY);
    let mine: std::collections::HashSet<u64> =
        db::user::sent_ts(&conn, &channel, user.name.as_str(), since, before)?
            .into_iter()
            .map(f64::to_bits)
            .collect();
    drop(conn);
    let mut by_message: Vec<(String, Json)> = Vec::new();
    // Receipts come ordered by message, so each message's readers are consecutive.
    let mut last_ts = None;
    for (ts, reader) in db::presence::receipts(&*ctx.presence_db.get()?, &channel, since, before)? {
        if !mine.contains(&ts.to_bits()) {
            continue;
        }
        match by_message.last_mut() {
            Some((_, Json::Arr(readers))) if last_ts == Some(ts) => readers.push(Json::Str(reader)),
            _ => by_message.push((messages::id_of(ts), Json::Arr(vec![Json::Str(reader)]))),
        }
        last_ts = Some(ts);
    }
    Ok(Response::json(200, &Json::Obj(by_message)))
}

/// POST /api/channels/{ch}/typing — announced at most once per channel per user in the typing
/// throttle window; repeats inside it are accepted and dropped.
pub fn post_typing(ctx: &Ctx, req: &mut Request, channel: &str) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let channel = open_channel(ctx, &user, channel)?;
    let me = user.name.as_str();
    if ctx
        .hub
        .may_announce_http_typing(me, &channel.to_string(), Instant::now())
    {
        crate::live::announce::typing(&ctx.live(), me, &channel)?;
    }
    Ok(Response::no_content())
}

/// POST /api/presence {state} — sets the state of all the caller's open tabs (a user without
/// an open socket is offline whatever they report).
pub fn post_presence(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    let user = require_user(ctx, req)?;
    let body = req.json()?;
    let state = str_field(&body, "state")?;
    let state = Presence::parse_client_state(state)
        .ok_or_else(|| HttpError::BadRequest("\"state\" must be active, idle or hidden".into()))?;
    // Through each socket's presence throttle: a change inside its window is published by
    // that socket's loop when the window ends.
    if ctx
        .hub
        .report_user_state(user.name.as_str(), state, Instant::now())
    {
        crate::live::announce::presence(&ctx.live(), user.name.as_str());
    }
    Ok(Response::no_content())
}
