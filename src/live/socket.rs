//! The live socket `/api/ws`: the upgrade checks (same origin, session), then one loop per
//! socket that waits on the socket and its wake fd with poll(2), so a queued event goes out at
//! once even to a client that never sends anything. Owns nothing shared: the registry and
//! queues are in `hub`.

use crate::api::auth;
use crate::api::ctx::Ctx;
use crate::base::json::{self, Json};
use crate::http::{Body, Conn, HttpError, Request, Response};
use crate::live::hub::{Client, Kick, Presence};
use crate::model::channels::ChannelId;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::protocol::{frame::coding::CloseCode, CloseFrame, Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

/// A client frame larger than this closes the socket (client messages are small).
const MAX_CLIENT_MESSAGE: usize = 64 * 1024;
/// Send a ping after this long without hearing from the client…
const PING_AFTER: Duration = Duration::from_secs(30);
/// …and give up on it after this long.
const DEAD_AFTER: Duration = Duration::from_secs(75);
/// Frames written per batch before flushing and checking the socket again.
const BATCH: usize = 64;

/// What the 101 response carries to the connection loop.
pub struct Upgrade {
    user: String,
    session_id: String,
}

/// GET /api/ws — checks the handshake, the origin and the session; answers 101.
pub fn upgrade(ctx: &Ctx, req: &mut Request) -> Result<Response, HttpError> {
    crate::router::check_same_origin(req)?;
    let user = auth::require_user(ctx, req)?;
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
        body: Body::WebSocket(Upgrade {
            user: user.name.to_string(),
            session_id: user.session_id,
        }),
    })
}

/// Registers a new socket and announces its user's presence (after the 101).
pub fn join(ctx: &Ctx, upgrade: Upgrade) -> Option<Arc<Client>> {
    match ctx.hub.register(&upgrade.user, &upgrade.session_id) {
        Ok(client) => {
            publish_presence(ctx, &client.user);
            Some(client)
        }
        Err(e) => {
            eprintln!("warning: cannot create a wake-up fd for a WebSocket: {e}");
            None
        }
    }
}

/// Unregisters a socket and announces its user's presence.
pub fn leave(ctx: &Ctx, client: &Client) {
    ctx.hub.unregister(client);
    publish_presence(ctx, &client.user);
}

/// Runs one joined socket until it closes, then leaves.
pub fn serve(ctx: &Ctx, conn: Conn, client: Arc<Client>) {
    if let Err(e) = run(ctx, conn, &client) {
        if !matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof
        ) {
            eprintln!("websocket {}: {e}", client.user);
        }
    }
    leave(ctx, &client);
}

/// Announces (and records) the user's presence if it changed.
pub fn publish_presence(ctx: &Ctx, user: &str) {
    // One announcement at a time, so the last recorded and sent state is the true one.
    let _order = ctx.presence_order.lock().unwrap_or_else(|e| e.into_inner());
    let Some(state) = ctx.hub.presence_change(user) else {
        return;
    };
    match ctx.presence_db.get() {
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
    ctx.hub.broadcast(&Arc::from(event.to_json_string()));
}

fn run(ctx: &Ctx, conn: Conn, client: &Client) -> io::Result<()> {
    let Conn {
        mut stream,
        buffered,
        ..
    } = conn;
    if let crate::http::Stream::Tls(tls) = &mut stream {
        // The outgoing queue bounds what we hand rustls; do not let rustls refuse a batch.
        tls.conn.set_buffer_limit(None);
    }
    stream.tcp().set_nonblocking(true)?;
    let fd = stream.tcp().as_raw_fd();
    let config = WebSocketConfig {
        max_message_size: Some(MAX_CLIENT_MESSAGE),
        max_frame_size: Some(MAX_CLIENT_MESSAGE),
        // Frames of one batch collect here and leave in one TLS write at the flush.
        write_buffer_size: 64 * 1024,
        ..WebSocketConfig::default()
    };
    let mut ws = WebSocket::from_partially_read(stream, buffered, Role::Server, Some(config));
    let hello = Json::obj([
        ("type", "hello".into()),
        ("user", client.user.as_str().into()),
    ]);
    ws.write(Message::Text(hello.to_json_string()))
        .map_err(to_io)?;
    let mut want_write = !flush(&mut ws)?;
    let mut last_heard = Instant::now();
    let mut pinged = false;
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        // Read everything already available (including bytes rustls or tungstenite buffered).
        loop {
            match ws.read() {
                Ok(message) => {
                    last_heard = Instant::now();
                    pinged = false;
                    match message {
                        Message::Text(text) => handle_client_message(ctx, client, &text),
                        Message::Close(_) => {
                            let _ = flush(&mut ws);
                            return Ok(());
                        }
                        _ => {} // tungstenite answers pings itself; pongs only prove liveness.
                    }
                }
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return Ok(())
                }
                Err(tungstenite::Error::Io(e)) => return Err(e),
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
            }
        }
        match client.kicked() {
            Kick::None => {}
            why => return close(&mut ws, why),
        }
        client.wake.drain();
        if !want_write {
            batch.clear();
            client.take(BATCH, &mut batch);
            for frame in &batch {
                ws.write(Message::Text(frame.to_string())).map_err(to_io)?;
            }
        }
        want_write = !flush(&mut ws)?;

        let idle = last_heard.elapsed();
        if idle >= DEAD_AFTER {
            return close(&mut ws, Kick::TooSlow);
        }
        if idle >= PING_AFTER && !pinged {
            pinged = true;
            ws.write(Message::Ping(Vec::new())).map_err(to_io)?;
            want_write = !flush(&mut ws)?;
        }
        // A presence change held back by the throttle goes out when its window ends.
        let now = Instant::now();
        if client.take_due_presence(now) {
            publish_presence(ctx, &client.user);
        }
        let next_timer = if pinged { DEAD_AFTER } else { PING_AFTER };
        let mut timeout = next_timer.saturating_sub(idle);
        if let Some(due) = client.presence_due() {
            timeout = timeout.min(due.saturating_duration_since(now));
        }
        let timeout = timeout.max(Duration::from_millis(10));
        // Frames left over (more than a batch, or queued while the socket was full) were
        // already signalled, and that wake-up is spent: take them before sleeping.
        if !want_write && client.has_queued() {
            continue;
        }
        let events = libc::POLLIN | if want_write { libc::POLLOUT } else { 0 };
        client.wake.wait_with(fd, events, timeout)?;
    }
}

/// Flushes what tungstenite and rustls hold; `false` when the socket would block.
fn flush<S: io::Read + io::Write>(ws: &mut WebSocket<S>) -> io::Result<bool> {
    match ws.flush() {
        Ok(()) => Ok(true),
        Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
        Err(e) => Err(to_io(e)),
    }
}

fn to_io(e: tungstenite::Error) -> io::Error {
    match e {
        tungstenite::Error::Io(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

fn close<S: io::Read + io::Write>(ws: &mut WebSocket<S>, why: Kick) -> io::Result<()> {
    let (code, reason) = match why {
        Kick::SessionRevoked => {
            let event = Json::obj([("type", "session_revoked".into())]);
            let _ = ws.write(Message::Text(event.to_json_string()));
            (CloseCode::Policy, "session revoked")
        }
        Kick::ShuttingDown => (CloseCode::Away, "server shutting down"),
        Kick::TooSlow | Kick::None => (CloseCode::Again, "too slow; reconnect"),
    };
    let _ = ws.close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }));
    // Give the close frame a moment to leave; the peer's reply is not needed.
    let deadline = Instant::now() + Duration::from_millis(200);
    while !flush(ws).unwrap_or(true) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Client → server frames: `presence {state}`, `ping`; others are ignored.
fn handle_client_message(ctx: &Ctx, client: &Client, text: &str) {
    let Ok(message) = json::parse(text) else {
        return;
    };
    match message.get("type").and_then(Json::as_str) {
        Some("ping") => client.push(Arc::from(r#"{"type":"pong"}"#)),
        Some("typing") => {
            if let Some(channel) = message.get("channel").and_then(Json::as_str) {
                announce_typing(ctx, client, channel);
            }
        }
        Some("presence") => {
            if let Some(state) = message
                .get("state")
                .and_then(Json::as_str)
                .and_then(Presence::parse_client_state)
            {
                // Inside the throttle window the state is recorded, and the socket's loop
                // publishes it when the window ends.
                if client.report_state(state, Instant::now()) {
                    publish_presence(ctx, &client.user);
                }
            }
        }
        _ => {}
    }
}

/// A `typing` frame: announced unless this socket announced typing in the channel within the
/// throttle window. Unknown or forbidden channels are simply not announced.
fn announce_typing(ctx: &Ctx, client: &Client, channel: &str) {
    let Ok(channel) = ChannelId::parse(channel) else {
        return;
    };
    // The throttle comes first, so a flood of repeats costs no database work.
    if !client.may_announce_typing(&channel.to_string(), Instant::now()) {
        return;
    }
    let allowed = ctx.presence_db.get().is_ok_and(|presence| {
        crate::model::channels::require_access(ctx, &presence, &client.user, &channel).is_ok()
    });
    if allowed {
        if let Err(e) = crate::api::channels::announce_typing(ctx, &client.user, &channel) {
            eprintln!("warning: cannot announce typing of {}: {e:?}", client.user);
        }
    }
}
