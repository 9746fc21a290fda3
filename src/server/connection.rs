//! One connection's life: the TLS handshake and request heads within their deadlines, each
//! request under `catch_unwind` (a panic is a 500 and the connection closes), keep-alive, and
//! the hand-over of a 101 to the live socket. Routing is `router`'s; nothing here knows a path.

use super::WRITE_TIMEOUT;
use crate::api::ctx::Ctx;
use crate::http::{self, Body, Conn, HeadError, HttpError, Request, Stream};
use std::net::{SocketAddr, TcpStream};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

/// Serves HTTP requests on one connection until it closes, or returns it when it becomes a
/// WebSocket (after the 101 is sent). The TLS handshake and first request head must be done
/// within the head deadline of `accepted`. Never inlined, so its deep frames are below the
/// caller's and `memory::release_after_thread` can give them back.
#[inline(never)]
pub(super) fn handle_connection(
    ctx: &Ctx,
    tcp: Arc<TcpStream>,
    peer: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    accepted: Instant,
) -> Option<(Conn, crate::live::socket::Upgrade)> {
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_write_timeout(Some(WRITE_TIMEOUT));
    let socket = http::Socket::new(tcp);
    let stream = match tls {
        Some(config) => match rustls::ServerConnection::new(config) {
            Ok(tls) => Stream::Tls(Box::new(rustls::StreamOwned::new(tls, socket))),
            Err(e) => {
                crate::log!("warning: cannot start TLS: {e}");
                return None;
            }
        },
        None => Stream::Plain(socket),
    };
    let mut conn = Conn {
        stream,
        buffered: Vec::new(),
        peer: peer.ip(),
    };
    let deadlines = ctx.deadlines;
    let mut wait_until = accepted + deadlines.head.min(deadlines.idle);
    loop {
        let head = match http::read_head(&mut conn, wait_until, deadlines.head) {
            Ok(head) => head,
            Err(HeadError::Closed) => return None,
            Err(HeadError::Bad(e)) => {
                let _ = conn.write_response(&e.into_response(), false, false);
                return None;
            }
        };
        let head_only = head.method == "HEAD";
        let (response, keep_alive, body_unread) = {
            let mut req = match Request::new(head, &mut conn, deadlines) {
                Ok(req) => req,
                Err(e) => {
                    let _ = conn.write_response(&e.into_response(), false, false);
                    return None;
                }
            };
            let mut keep_alive = !req.wants_close();
            let outcome =
                std::panic::catch_unwind(AssertUnwindSafe(|| crate::router::route(ctx, &mut req)));
            let response = match outcome {
                Ok(Ok(response)) => response,
                Ok(Err(e)) => e.into_response(),
                Err(_) => {
                    keep_alive = false;
                    HttpError::Internal(anyhow::anyhow!(
                        "a handler panicked on {} {}",
                        req.method,
                        req.path
                    ))
                    .into_response()
                }
            };
            let body_unread = !req.finish_body();
            keep_alive &= !body_unread && !ctx.stop.is_stopped();
            (response, keep_alive, body_unread)
        };
        if let Body::Upgrade(_) = &response.body {
            if conn.write_response(&response, false, true).is_err() {
                return None;
            }
            let Body::Upgrade(upgrade) = response.body else {
                unreachable!("matched above")
            };
            // The only protocol a handler switches to is the live socket.
            let upgrade = *upgrade.downcast::<crate::live::socket::Upgrade>().ok()?;
            // The socket loop waits on its own terms from now on.
            conn.stream.set_deadline(None);
            return Some((conn, upgrade));
        }
        if conn
            .write_response(&response, head_only, keep_alive)
            .is_err()
        {
            return None;
        }
        if body_unread {
            conn.linger_close();
            return None;
        }
        if !keep_alive {
            return None;
        }
        wait_until = Instant::now() + deadlines.idle;
    }
}
