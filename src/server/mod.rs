//! `minimost serve`: first boot, bind, TLS, the accept loop with one small-stack thread per
//! connection (capped, with timeouts), `catch_unwind` around every request, systemd
//! notifications, and graceful shutdown on SIGTERM/SIGINT that ends with every WAL
//! checkpointed.

mod accept;
mod connection;
mod signals;
mod stun;
pub mod tls;

use crate::api::ctx::{Ctx, CtxParts};
use crate::base::config;
use crate::db;
use crate::http::{self};
use accept::{accept_loop, bind, Admission, Connections};
use anyhow::Context;
use connection::handle_connection;
use signals::{
    block_shutdown_signals, raise_fd_limit, wait_for_signal, watchdog, watchdog_interval,
};
use std::io::Write;
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
    let stun_sockets = stun::bind(ctx.settings.stun_port);
    if let Some(port) = stun_sockets.as_deref().and_then(stun::port_of) {
        let _ = ctx.stun_port.set(port);
    }
    let tls_config = if args.tls {
        Some(crate::server::tls::server_config(&ctx.data_dir)?)
    } else {
        None
    };
    let addr = listener.local_addr()?;
    let scheme = if args.tls { "https" } else { "http" };
    let local = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            std::net::SocketAddr::from(([127, 0, 0, 1], addr.port()))
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port()))
        }
        _ => addr,
    };
    let _ = ctx.local_url.set(format!("{scheme}://{local}"));
    let _ = ctx.listen.set(addr);
    println!("listening on {scheme}://{addr}");
    welcome(&ctx, scheme, addr);
    let _ = std::io::stdout().flush();
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
        if let Some(sockets) = stun_sockets.as_deref() {
            std::thread::Builder::new()
                .name("stun".into())
                .spawn_scoped(scope, move || stun::serve(sockets, &ctx.stop))?;
        }
        let ring_timeout = ring_timeout()?;
        std::thread::Builder::new()
            .name("calls".into())
            .spawn_scoped(scope, move || {
                crate::store::calls::run_timer(ctx, ring_timeout, &ctx.call_timer)
            })?;
        // How long without writes before the WAL files written lately are emptied.
        let wal_quiet = secs("MINIMOST_WAL_QUIET_SECS", 30)?;
        std::thread::Builder::new()
            .name("checkpoint".into())
            .spawn_scoped(scope, move || {
                ctx.checkpoints.run(wal_quiet, &|| {
                    // Shutting down otherwise: the waiting jobs resume at the next start.
                    let _ = ctx.store.spawn_background(|w| w.resume_parked());
                })
            })?;
        std::thread::Builder::new()
            .name("trim".into())
            .spawn_scoped(scope, move || {
                ctx.trimmer.run(crate::base::memory::release_freed_heap)
            })?;
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
                    crate::base::memory::release_after_thread(&ctx.trimmer);
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
                            let user = socket.user.clone();
                            crate::live::socket::serve(&ctx.live(), conn, socket);
                            left_calls_if_gone(ctx, user);
                            crate::base::memory::release_after_thread(&ctx.trimmer);
                        });
                    if let Err(e) = spawned {
                        crate::log!("warning: cannot start a WebSocket thread: {e}");
                        crate::live::socket::leave(&ctx.live(), &client);
                    }
                })
                .map(drop)
        });
        drop(listener);
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
        // Whatever ended the accept loop, every thread waiting on `stop` ends too.
        ctx.stop.stop();
        ctx.call_timer.stop();
        ctx.checkpoints.stop();
        ctx.trimmer.stop();
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
    let mut settings = config::load_settings(&data_dir, &mut |w| crate::log!("warning: {w}"))?;
    if let Some(port) = stun_port_from_env()? {
        settings.stun_port = port;
    }
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
        ca_fingerprint: ca_pem.as_deref().and_then(tls::fingerprint),
        ca_pem,
        deadlines,
    });
    let repaired = crate::store::repair(&ctx).context("cannot complete interrupted deliveries")?;
    if repaired > 0 {
        crate::log!("completed {repaired} deliveries interrupted by the last shutdown");
    }
    Ok(ctx)
}

/// Tells the admin, after the `listening on` line, where the data went, the addresses people
/// can open, and which certificate authority their devices must trust.
fn welcome(ctx: &Ctx, scheme: &str, addr: std::net::SocketAddr) {
    // Whoever started us may read only the first line and close the pipe: never fail on that.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "data dir: {}", ctx.data_dir.display());
    let port = addr.port();
    let mut urls = Vec::new();
    if let Some(url) = &ctx.settings.public_url {
        urls.push(url.clone());
    }
    if addr.ip().is_unspecified() {
        if let Some(host) = crate::base::util::hostname() {
            // With an mDNS responder running, `<name>.local` is the address phones resolve.
            let mut names = tls::local_names(&host);
            if mdns_announces() {
                names.reverse();
            }
            urls.extend(names.iter().map(|n| format!("{scheme}://{n}:{port}")));
        }
        for ip in tls::interface_addresses() {
            if !ip.is_loopback()
                && !matches!(ip, std::net::IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80)
            {
                urls.push(format!(
                    "{scheme}://{}",
                    std::net::SocketAddr::new(ip, port)
                ));
            }
        }
    } else {
        urls.push(format!("{scheme}://{addr}"));
    }
    let _ = writeln!(out, "open:     {}", urls.join("  "));
    if addr.ip().is_loopback() {
        let _ = writeln!(
            out,
            "          (this machine only; --host 0.0.0.0 opens it to the network)"
        );
    }
    let first = urls.first().cloned().unwrap_or_default();
    let _ = writeln!(
        out,
        "phones:   open {first}/join for a code to scan and how to trust this server"
    );
    if let Some(fingerprint) = &ctx.ca_fingerprint {
        let _ = writeln!(
            out,
            "trust:    the local certificate authority, SHA-256 {fingerprint}"
        );
        let _ = writeln!(
            out,
            "          download {first}/ca.pem once on each device and trust it"
        );
    }
}

/// Whether this machine announces its name over mDNS (avahi's socket is there).
fn mdns_announces() -> bool {
    ["/run/avahi-daemon/socket", "/var/run/avahi-daemon/socket"]
        .iter()
        .any(|p| std::path::Path::new(p).exists())
}

/// A user whose last socket just closed leaves every call they were in.
fn left_calls_if_gone(ctx: &Ctx, user: String) {
    if ctx.hub.presence_of(&user) != crate::live::hub::Presence::Offline {
        return;
    }
    if let Err(e) = ctx
        .store
        .run(move |w| crate::store::calls::disconnected(w, &user))
    {
        crate::log!("warning: cannot take a disconnected user out of their calls: {e}");
    }
}

/// How long a call rings before it ends unanswered: 30 s, or `MINIMOST_RING_TIMEOUT_SECS`.
fn ring_timeout() -> anyhow::Result<Duration> {
    match std::env::var("MINIMOST_RING_TIMEOUT_SECS") {
        Ok(text) if !text.is_empty() => text
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(Duration::from_secs_f64)
            .with_context(|| {
                format!("MINIMOST_RING_TIMEOUT_SECS={text:?} is not a number of seconds")
            }),
        _ => Ok(Duration::from_secs(30)),
    }
}

/// `MINIMOST_STUN_PORT` overrides settings.json's `stun_port` (0 turns STUN off).
fn stun_port_from_env() -> anyhow::Result<Option<u16>> {
    match std::env::var("MINIMOST_STUN_PORT") {
        Ok(text) if !text.is_empty() => text
            .parse()
            .map(Some)
            .with_context(|| format!("MINIMOST_STUN_PORT={text:?} is not a port number (0-65535)")),
        _ => Ok(None),
    }
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
    Ok((
        secs("MINIMOST_CLEANUP_DELAY_SECS", 300)?,
        secs("MINIMOST_CLEANUP_INTERVAL_SECS", 86_400)?.max(Duration::from_secs(1)),
    ))
}

/// A number of seconds from the environment variable `var`, or `default` seconds.
fn secs(var: &str, default: u64) -> anyhow::Result<Duration> {
    match std::env::var(var) {
        Ok(text) => text
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
            .with_context(|| format!("{var}={text:?} is not a number of seconds")),
        Err(_) => Ok(Duration::from_secs(default)),
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
            crate::log!("warning: {e:#}");
        }
    }
}
