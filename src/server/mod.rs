//! `minimost serve`: first boot, bind, TLS, the accept loop with one small-stack thread per
//! connection (capped, with timeouts), `catch_unwind` around every request, systemd
//! notifications, and graceful shutdown on SIGTERM/SIGINT that ends with every WAL
//! checkpointed.

pub mod tls;

use crate::api::ctx::{Ctx, CtxParts};
use crate::base::config;
use crate::base::stop::Stop;
use crate::db;
use crate::http::{self, Body, Conn, HeadError, HttpError, Request, Stream};
use anyhow::Context;
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How `minimost serve` was asked to run.
#[derive(Debug, Clone)]
pub struct ServeArgs {
    pub data_dir: std::path::PathBuf,
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

/// Stack for connection threads: enough for rustls, SQLite and our handlers, small enough
/// that thousands of idle sockets stay cheap (untouched stack pages cost no memory). 64-bit
/// glibc builds reserve 1 MiB (address space is plentiful there): glibc keeps up to 40 MiB of
/// ended threads' stacks for reuse, each with a couple of resident pages, so larger stacks
/// mean 40 kept after a burst instead of 157.
const CONNECTION_STACK: usize = if cfg!(all(target_env = "gnu", target_pointer_width = "64")) {
    1 << 20
} else {
    256 * 1024
};
/// Stack for WebSocket threads: the socket loop and the occasional presence or typing query.
const WEBSOCKET_STACK: usize = 128 * 1024;
/// Most simultaneous connections (further ones are closed at once).
const MAX_CONNECTIONS: usize = 8192;
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// In-flight requests get this long to finish after SIGTERM before their sockets are cut.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Every thread inherits this mask, so only the signal thread sees SIGTERM/SIGINT.
    let signals = block_shutdown_signals();
    let fd_limit = raise_fd_limit();
    let _lock = config::DataDirLock::acquire(&args.data_dir)?;
    let ctx = boot(&args)?;
    let listener = bind(&args.host, args.port)?;
    let tls_config = if args.tls {
        Some(crate::server::tls::server_config(&ctx.data_dir)?)
    } else {
        None
    };
    let addr = listener.local_addr()?;
    let scheme = if args.tls { "https" } else { "http" };
    println!("listening on {scheme}://{addr}");
    std::io::stdout().flush()?;
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);

    let max_connections = MAX_CONNECTIONS.min(fd_limit.saturating_sub(64) / 2).max(16);
    let conns = Connections::default();
    let control = crate::admin::control::bind(&ctx.data_dir);
    let (cleanup_delay, cleanup_interval) = cleanup_schedule()?;
    let (ctx, conns, signals) = (&ctx, &conns, &signals);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        std::thread::Builder::new()
            .name("signals".into())
            .spawn_scoped(scope, move || wait_for_signal(signals, ctx))?;
        let writer = std::thread::Builder::new()
            .name("writer".into())
            .spawn_scoped(scope, move || crate::store::run(ctx))?;
        if let Some(listener) = control {
            std::thread::Builder::new()
                .name("control".into())
                .spawn_scoped(scope, move || crate::admin::control::serve(ctx, listener))?;
        }
        std::thread::Builder::new()
            .name("checkpoint".into())
            .spawn_scoped(scope, move || ctx.checkpoints.run())?;
        std::thread::Builder::new()
            .name("cleanup".into())
            .spawn_scoped(scope, move || {
                crate::admin::cleanup::run_thread(ctx, cleanup_delay, cleanup_interval, &ctx.stop)
            })?;
        if let Some(interval) = watchdog_interval() {
            std::thread::Builder::new()
                .name("watchdog".into())
                .spawn_scoped(scope, move || watchdog(&ctx.stop, interval))?;
        }
        let admission = Admission::new(ctx, max_connections);
        accept_loop(ctx, &listener, conns, &admission, |tracked, peer| {
            let tls_config = tls_config.clone();
            std::thread::Builder::new()
                .name("conn".into())
                .stack_size(CONNECTION_STACK)
                .spawn_scoped(scope, move || {
                    let accepted = Instant::now();
                    let socket = tracked.socket.clone();
                    let served = handle_connection(ctx, socket, peer, tls_config, accepted);
                    crate::base::memory::release_after_thread();
                    let Some((conn, upgrade)) = served else {
                        return;
                    };
                    // The socket lives on a fresh thread with a small stack: this one's stack
                    // pages, touched by the handshake and the request, are freed.
                    let Some(client) = crate::live::socket::join(&ctx.live(), upgrade) else {
                        return;
                    };
                    let socket = client.clone();
                    let spawned = std::thread::Builder::new()
                        .name("ws".into())
                        .stack_size(WEBSOCKET_STACK)
                        .spawn_scoped(scope, move || {
                            let _tracked = tracked;
                            crate::live::socket::serve(&ctx.live(), conn, socket);
                            crate::base::memory::release_after_thread();
                        });
                    if let Err(e) = spawned {
                        eprintln!("warning: cannot start a WebSocket thread: {e}");
                        crate::live::socket::leave(&ctx.live(), &client);
                    }
                })
                .map(drop)
        });
        drop(listener);
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
        // Whatever ended the accept loop, every thread waiting on `stop` ends too.
        ctx.stop.stop();
        ctx.checkpoints.stop();
        ctx.hub.close_all();
        conns.shutdown_all(std::net::Shutdown::Read);
        if !conns.wait_idle(SHUTDOWN_GRACE) {
            conns.shutdown_all(std::net::Shutdown::Both);
        }
        // Connections are done: let the writer finish what they queued, then stop.
        ctx.store.stop();
        let _ = writer.join();
        Ok(())
    })?;
    finish(ctx);
    Ok(())
}

/// First boot and every boot: data dir, settings, keys, certificates, databases.
fn boot(args: &ServeArgs) -> anyhow::Result<Ctx> {
    let data_dir = config::prepare_data_dir(&args.data_dir)?;
    let settings = config::load_settings(&data_dir, &mut |w| eprintln!("warning: {w}"))?;
    let secret = config::load_or_create_secret(&data_dir)?;
    let mut ca_pem = None;
    if args.tls {
        crate::server::tls::ensure_files(&data_dir)?;
        if data_dir.join(crate::server::tls::CA_KEY_FILE).exists() {
            ca_pem = std::fs::read(data_dir.join(crate::server::tls::CA_FILE)).ok();
        }
    }
    let dbs = db::Databases::open(data_dir)?;
    db::presence::reset_after_restart(&*dbs.presence_db.get()?, crate::base::util::now())
        .context("cannot reset presence after restart")?;
    let deadlines = deadlines_from_env()?;
    let ctx = Ctx::new(CtxParts {
        dbs,
        settings,
        tls: args.tls,
        session_key: crate::base::sessions::SessionKey::new(secret),
        ca_pem,
        deadlines,
    });
    let repaired = crate::store::repair(&ctx).context("cannot complete interrupted deliveries")?;
    if repaired > 0 {
        eprintln!("completed {repaired} deliveries interrupted by the last shutdown");
    }
    Ok(ctx)
}

/// The request deadlines, with `MINIMOST_IDLE_TIMEOUT_MS`, `MINIMOST_HEAD_TIMEOUT_MS` and
/// `MINIMOST_BODY_MIN_RATE` (bytes per second) overriding the defaults (tests shorten them).
fn deadlines_from_env() -> anyhow::Result<http::Deadlines> {
    let number = |var: &str| -> anyhow::Result<Option<u64>> {
        match std::env::var(var) {
            Ok(text) => {
                Ok(Some(text.parse().with_context(|| {
                    format!("{var}={text:?} is not a whole number")
                })?))
            }
            Err(_) => Ok(None),
        }
    };
    let mut deadlines = http::Deadlines::DEFAULT;
    if let Some(ms) = number("MINIMOST_IDLE_TIMEOUT_MS")? {
        deadlines.idle = Duration::from_millis(ms);
    }
    if let Some(ms) = number("MINIMOST_HEAD_TIMEOUT_MS")? {
        deadlines.head = Duration::from_millis(ms);
    }
    if let Some(rate) = number("MINIMOST_BODY_MIN_RATE")? {
        deadlines.body_min_rate = rate.max(1);
    }
    Ok(deadlines)
}

/// When the cleanup thread first runs and how often: 5 minutes and 24 hours, unless
/// `MINIMOST_CLEANUP_DELAY_SECS` / `MINIMOST_CLEANUP_INTERVAL_SECS` say otherwise (for tests
/// and for admins who want another rhythm).
fn cleanup_schedule() -> anyhow::Result<(Duration, Duration)> {
    let secs = |var: &str, default: u64| -> anyhow::Result<Duration> {
        match std::env::var(var) {
            Ok(text) => text
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64)
                .with_context(|| format!("{var}={text:?} is not a number of seconds")),
            Err(_) => Ok(Duration::from_secs(default)),
        }
    };
    Ok((
        secs("MINIMOST_CLEANUP_DELAY_SECS", 300)?,
        secs("MINIMOST_CLEANUP_INTERVAL_SECS", 86_400)?.max(Duration::from_secs(1)),
    ))
}

fn bind(host: &str, port: u16) -> anyhow::Result<TcpListener> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve the listen address {host}"))?
        .collect();
    TcpListener::bind(&addrs[..]).with_context(|| {
        format!("cannot listen on {host}:{port} (is another server using the port? try --port)")
    })
}

/// Accepts until `stop` is signalled, handing each admitted connection to `spawn`.
fn accept_loop<'c>(
    ctx: &Ctx,
    listener: &TcpListener,
    conns: &'c Connections,
    admission: &Admission,
    mut spawn: impl FnMut(Tracked<'c>, SocketAddr) -> std::io::Result<()>,
) {
    if let Err(e) = listener.set_nonblocking(true) {
        eprintln!("error: cannot make the listener non-blocking: {e}");
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
                        eprintln!("warning: cannot start a connection thread: {e}");
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    // Out of file descriptors or memory: back off rather than spin.
                    eprintln!("warning: accept failed: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                    break;
                }
            }
        }
    }
}

/// Serves HTTP requests on one connection until it closes, or returns it when it becomes a
/// WebSocket (after the 101 is sent). The TLS handshake and first request head must be done
/// within the head deadline of `accepted`. Never inlined, so its deep frames are below the
/// caller's and `memory::release_after_thread` can give them back.
#[inline(never)]
fn handle_connection(
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
                eprintln!("warning: cannot start TLS: {e}");
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

/// Who may open a connection: the server-wide cap, and the per-client limit with the
/// addresses it spares.
struct Admission {
    max_connections: usize,
    /// 0: no per-client limit.
    per_client: usize,
    exempt: Vec<IpAddr>,
    last_warning: Mutex<Option<Instant>>,
}

impl Admission {
    fn new(ctx: &Ctx, max_connections: usize) -> Admission {
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
            eprintln!(
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
struct Connections {
    open: Mutex<Open>,
    next: std::sync::atomic::AtomicU64,
    closed: Condvar,
}

#[derive(Default)]
struct Open {
    sockets: HashMap<u64, Arc<TcpStream>>,
    per_client: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it takes the connection off the list.
struct Tracked<'a> {
    conns: &'a Connections,
    id: u64,
    client: Option<IpAddr>,
    socket: Arc<TcpStream>,
}

impl Connections {
    /// Lists a new connection, or `None` when the server or this client is at its limit.
    fn admit(&self, stream: TcpStream, peer: IpAddr, admission: &Admission) -> Option<Tracked<'_>> {
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

    fn shutdown_all(&self, how: std::net::Shutdown) {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        for socket in open.sockets.values() {
            let _ = socket.shutdown(how);
        }
    }

    /// Waits until every connection has ended; false if `limit` passed first.
    fn wait_idle(&self, limit: Duration) -> bool {
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

/// Closes the databases and checkpoints every WAL so a cold copy of the data dir is complete.
fn finish(ctx: &Ctx) {
    ctx.auth_db.close_idle();
    ctx.user_dbs.close_idle();
    ctx.presence_db.close_idle();
    let mut paths = vec![
        ctx.auth_db.path().to_owned(),
        ctx.presence_db.path().to_owned(),
    ];
    if let Ok(entries) = std::fs::read_dir(ctx.data_dir.join("users")) {
        paths.extend(
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "db")),
        );
    }
    for path in paths {
        if let Err(e) = db::checkpoint(&path) {
            eprintln!("warning: {e:#}");
        }
    }
}

fn block_shutdown_signals() -> libc::sigset_t {
    // SAFETY: plain libc calls on a local sigset_t.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Waits for SIGTERM/SIGINT, then starts the shutdown; returns early when `stop` is signalled
/// (the server is stopping for another reason). Sleeps in poll(2) meanwhile: no periodic
/// wake-ups.
fn wait_for_signal(set: &libc::sigset_t, ctx: &Ctx) {
    // SAFETY: set is a valid sigset_t; signalfd returns a new descriptor we own, or -1.
    let fd = unsafe { libc::signalfd(-1, set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) };
    if fd < 0 {
        eprintln!(
            "error: cannot wait for signals ({}); stop the server with SIGKILL",
            std::io::Error::last_os_error()
        );
        return;
    }
    // SAFETY: fd is a fresh descriptor owned by nothing else.
    let signals = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    while !ctx.stop.is_stopped() {
        let _ = ctx.stop.wait_fd(signals.as_raw_fd(), libc::POLLIN);
        // SAFETY: reads one signalfd_siginfo into a zeroed local of the right size.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        let n = unsafe {
            libc::read(
                signals.as_raw_fd(),
                (&mut info as *mut libc::signalfd_siginfo).cast(),
                size,
            )
        };
        let sig = i32::try_from(info.ssi_signo).unwrap_or(0);
        if usize::try_from(n) == Ok(size) && (sig == libc::SIGTERM || sig == libc::SIGINT) {
            eprintln!("shutting down");
            ctx.stop.stop();
        }
    }
}

/// Raises the soft open-file limit to the hard one (each WebSocket needs two descriptors).
fn raise_fd_limit() -> usize {
    // SAFETY: getrlimit/setrlimit on a local struct.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max.min(1 << 20);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        }
        usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
    }
}

fn watchdog_interval() -> Option<Duration> {
    let mut usec = 0;
    sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec / 2))
}

/// Pings systemd's watchdog at half its timeout until shutdown (the stop ends the wait).
fn watchdog(stop: &Stop, interval: Duration) {
    loop {
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
        if stop.sleep(interval) {
            return;
        }
    }
}
