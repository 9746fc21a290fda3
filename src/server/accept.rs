//! Taking connections: binding the port, the accept loop, and admission — the server-wide
//! connection cap and the per-client-address limit, checked before a thread starts. Each
//! admitted connection is tracked by a guard that owns a handle to its socket, so shutdown can
//! wake every connection thread and never touches a descriptor the kernel has reused.

use crate::api::ctx::Ctx;
use anyhow::Context;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub(super) fn bind(host: &str, port: u16) -> anyhow::Result<TcpListener> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve the listen address {host}"))?
        .collect();
    TcpListener::bind(&addrs[..]).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                "another program is using the port; stop it or pick another with --port".into()
            }
            std::io::ErrorKind::AddrNotAvailable => format!(
                "{host} is not an address of this machine; use one it has, or 0.0.0.0 for all"
            ),
            std::io::ErrorKind::PermissionDenied => "ports below 1024 need privileges; use \
                --port 5000, or give the binary CAP_NET_BIND_SERVICE"
                .into(),
            _ => e.to_string(),
        };
        anyhow::anyhow!("cannot listen on {host}:{port}: {why}")
    })
}

/// Accepts until `stop` is signalled, handing each admitted connection to `spawn`.
pub(super) fn accept_loop<'c>(
    ctx: &Ctx,
    listener: &TcpListener,
    conns: &'c Connections,
    admission: &Admission,
    mut spawn: impl FnMut(Tracked<'c>, SocketAddr) -> std::io::Result<()>,
) {
    if let Err(e) = listener.set_nonblocking(true) {
        crate::log!("error: cannot make the listener non-blocking: {e}");
        return;
    }
    while !ctx.stop.is_stopped() {
        let _ = ctx.stop.wait_fd(listener.as_raw_fd(), libc::POLLIN);
        loop {
            match listener.accept() {
                Ok((stream, peer)) => {
                    // Dropping a refused stream closes it.
                    let Some(tracked) = conns.admit(stream, peer.ip(), admission) else {
                        continue;
                    };
                    let _ = tracked.socket.set_nonblocking(false);
                    if let Err(e) = spawn(tracked, peer) {
                        crate::log!("warning: cannot start a connection thread: {e}");
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    // Out of file descriptors or memory: back off rather than spin.
                    crate::log!("warning: accept failed: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                    break;
                }
            }
        }
    }
}

/// Who may open a connection: the server-wide cap, and the per-client limit with the
/// addresses it spares.
pub(super) struct Admission {
    max_connections: usize,
    /// 0: no per-client limit.
    per_client: usize,
    exempt: Vec<IpAddr>,
    last_warning: Mutex<Option<Instant>>,
}

impl Admission {
    pub(super) fn new(ctx: &Ctx, max_connections: usize) -> Admission {
        Admission {
            max_connections,
            per_client: ctx.settings.max_connections_per_ip as usize,
            // Behind a reverse proxy every browser arrives from the proxy's address; with our
            // own TLS a client's address is its own, loopback included.
            exempt: if ctx.tls {
                Vec::new()
            } else {
                ctx.settings
                    .trusted_proxies
                    .iter()
                    .map(|ip| ip.to_canonical())
                    .collect()
            },
            last_warning: Mutex::new(None),
        }
    }

    /// Logs a refusal, at most once a minute so a flood cannot flood the log too.
    fn warn(&self, message: impl FnOnce() -> String) {
        let mut last = self.last_warning.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
            *last = Some(Instant::now());
            crate::log!(
                "warning: {} (further refusals this minute are not logged)",
                message()
            );
        }
    }
}

/// The key a client's connections are counted under: its address, or its /64 network for
/// IPv6, where one host can use any address of its network.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// The sockets of live connections, so shutdown can wake threads blocked reading them, and
/// how many each client holds.
#[derive(Default)]
pub(super) struct Connections {
    open: Mutex<Open>,
    next: std::sync::atomic::AtomicU64,
    closed: Condvar,
}

#[derive(Default)]
pub(super) struct Open {
    sockets: HashMap<u64, Arc<TcpStream>>,
    per_client: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it takes the connection off the list.
pub(super) struct Tracked<'a> {
    conns: &'a Connections,
    id: u64,
    client: Option<IpAddr>,
    pub(super) socket: Arc<TcpStream>,
}

impl Connections {
    /// Lists a new connection, or `None` when the server or this client is at its limit.
    pub(super) fn admit(
        &self,
        stream: TcpStream,
        peer: IpAddr,
        admission: &Admission,
    ) -> Option<Tracked<'_>> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.sockets.len() >= admission.max_connections {
            drop(open);
            admission.warn(|| {
                format!(
                    "{} connections are open, the most this server takes (raise the open-file \
                     limit to allow more); refusing new ones",
                    admission.max_connections
                )
            });
            return None;
        }
        let limited = admission.per_client > 0 && !admission.exempt.contains(&peer.to_canonical());
        let client = limited.then(|| client_key(peer));
        if let Some(key) = client {
            let held = open.per_client.entry(key).or_default();
            if *held >= admission.per_client {
                drop(open);
                admission.warn(|| {
                    format!(
                        "{key} already holds {} connections (max_connections_per_ip); refusing \
                         more from it",
                        admission.per_client
                    )
                });
                return None;
            }
            *held += 1;
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let socket = Arc::new(stream);
        open.sockets.insert(id, socket.clone());
        Some(Tracked {
            conns: self,
            id,
            client,
            socket,
        })
    }

    pub(super) fn shutdown_all(&self, how: std::net::Shutdown) {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        for socket in open.sockets.values() {
            let _ = socket.shutdown(how);
        }
    }

    /// Waits until every connection has ended; false if `limit` passed first.
    pub(super) fn wait_idle(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        while !open.sockets.is_empty() {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            open = self
                .closed
                .wait_timeout(open, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        let mut open = self.conns.open.lock().unwrap_or_else(|e| e.into_inner());
        open.sockets.remove(&self.id);
        if let Some(key) = self.client {
            if let Some(held) = open.per_client.get_mut(&key) {
                *held -= 1;
                if *held == 0 {
                    open.per_client.remove(&key);
                }
            }
        }
        drop(open);
        self.conns.closed.notify_all();
    }
}
