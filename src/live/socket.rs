//! A live socket after its upgrade (`api::socket` checks the handshake): one loop per
//! socket that waits on the socket and its wake fd with poll(2), so a queued event goes out at
//! once even to a client that never sends anything. Owns nothing shared: the registry and
//! queues are in `hub`.

use super::{announce, Live};
use crate::base::json::{self, Json};
use crate::http::Conn;
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
    pub user: String,
    pub session_id: String,
}

/// Registers a new socket and announces its user's presence (after the 101).
pub fn join(live: &Live, upgrade: Upgrade) -> Option<Arc<Client>> {
    match live.hub.register(&upgrade.user, &upgrade.session_id) {
        Ok(client) => {
            announce::presence(live, &client.user);
            Some(client)
        }
        Err(e) => {
            crate::log!("warning: cannot create a wake-up fd for a WebSocket: {e}");
            None
        }
    }
}

/// Unregisters a socket and announces its user's presence.
pub fn leave(live: &Live, client: &Client) {
    live.hub.unregister(client);
    announce::presence(live, &client.user);
}

/// Runs one joined socket until it closes, then leaves.
pub fn serve(live: &Live, conn: Conn, client: Arc<Client>) {
    if let Err(e) = run(live, conn, &client) {
        if !matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof
        ) {
            crate::log!("websocket {}: {e}", client.user);
        }
    }
    leave(live, &client);
}

fn run(live: &Live, conn: Conn, client: &Client) -> io::Result<()> {
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
                        Message::Text(text) => handle_client_message(live, client, &text),
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
            announce::presence(live, &client.user);
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

/// Client → server frames: `typing {channel}`, `presence {state}`, `call_signal {call_id, to,
/// data}`, `ping`; others are ignored.
fn handle_client_message(live: &Live, client: &Client, text: &str) {
    let Ok(message) = json::parse(text) else {
        return;
    };
    match message.get("type").and_then(Json::as_str) {
        Some("ping") => client.push(Arc::from(r#"{"type":"pong"}"#)),
        Some("typing") => {
            if let Some(channel) = message.get("channel").and_then(Json::as_str) {
                announce_typing(live, client, channel);
            }
        }
        Some("call_signal") => announce::call_signal(live, client, &message),
        Some("presence") => {
            if let Some(state) = message
                .get("state")
                .and_then(Json::as_str)
                .and_then(Presence::parse_client_state)
            {
                // Inside the throttle window the state is recorded, and the socket's loop
                // publishes it when the window ends.
                if client.report_state(state, Instant::now()) {
                    announce::presence(live, &client.user);
                }
            }
        }
        _ => {}
    }
}

/// A `typing` frame: announced unless this socket announced typing in the channel within the
/// throttle window. Unknown or forbidden channels are simply not announced.
fn announce_typing(live: &Live, client: &Client, channel: &str) {
    let Ok(channel) = ChannelId::parse(channel) else {
        return;
    };
    // The throttle comes first, so a flood of repeats costs no database work.
    if !client.may_announce_typing(&channel.to_string(), Instant::now()) {
        return;
    }
    let allowed = live.presence_db.get().is_ok_and(|presence| {
        crate::model::channels::require_access(
            live.public_channels,
            &presence,
            &client.user,
            &channel,
        )
        .is_ok()
    });
    if allowed {
        if let Err(e) = announce::typing(live, &client.user, &channel) {
            crate::log!("warning: cannot announce typing of {}: {e:?}", client.user);
        }
    }
}
