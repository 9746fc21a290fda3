//! The `abuse` scenario: what hostile or broken clients cost the server, and whether honest
//! ones are still served meanwhile.
//!
//! Part 1, slow connections: thousands of connections that never finish — a TLS handshake
//! stalled after its first bytes, a ClientHello trickled, a request head trickled, a body
//! trickled — each kind from many loopback addresses (so a per-address connection limit does
//! not refuse them and it is the server's deadlines that must close them), plus one address
//! opening more connections than a per-address limit allows. Meanwhile a normal client checks
//! `/healthz`, logs in and posts. Reported: the normal client's latencies and errors, and per
//! kind how long until the server closed every slow connection.
//!
//! Part 2, a login flood: many logins at once, and the server's resident memory before, at
//! its peak and after, since every password hash needs 19 MiB.
//!
//! The slow connections themselves (their scripts and the epoll-driven attacker) are in
//! `slow.rs`; this file runs the scenario, the normal traffic and the flood, and reports.

use crate::client::{cpu_seconds, peak_rss_kib, rss_kib, thread_count, Server};
use crate::slow::{attack, outcome, Kind, Outcome, Script, REFUSED_WITHIN};
use crate::{ms, percentile, Options};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// The server's own limits, with only the per-address login and signup rate limits lifted
/// (the flood logs in from few addresses); the per-address connection limit stays at its
/// default, since it is under test.
const ABUSE_SETTINGS: &str =
    r#"{"channels": ["general"], "rate_limits": {"login": [1000000, 1], "signup": [1000000, 1]}}"#;
/// The per-address connection limit the server is meant to enforce by default
/// (`max_connections_per_ip`).
const PER_ADDRESS_LIMIT: usize = 64;
/// How long the normal client waits for an answer before it counts an error.
const NORMAL_TIMEOUT: Duration = Duration::from_secs(10);
/// Logins of the flood per source address: under the per-address connection limit.
const FLOOD_PER_ADDRESS: usize = 25;

/// The scenario's size: the full run, or a few seconds for the smoke test.
struct Size {
    /// Slow connections of each kind, and the addresses they are spread over.
    per_kind: usize,
    addresses_per_kind: usize,
    /// Connections opened from one single address.
    one_address: usize,
    /// How long after the last slow connection opened the attacker gives up waiting.
    limit: Duration,
    /// Normal traffic measured before the attack, for comparison.
    quiet: Duration,
    logins: usize,
    /// How long the server idles before and after the flood when its memory is read.
    settle: Duration,
}

impl Size {
    fn new(quick: bool) -> Size {
        if quick {
            Size {
                per_kind: 20,
                addresses_per_kind: 4,
                one_address: 80,
                limit: Duration::from_secs(3),
                quiet: Duration::from_secs(1),
                logins: 20,
                settle: Duration::from_millis(500),
            }
        } else {
            Size {
                per_kind: 1000,
                addresses_per_kind: 40,
                one_address: 200,
                limit: Duration::from_secs(60),
                quiet: Duration::from_secs(5),
                logins: 200,
                settle: Duration::from_secs(3),
            }
        }
    }
}

pub fn run(o: &Options) -> anyhow::Result<()> {
    let size = Size::new(o.quick);
    raise_fd_limit(size.per_kind * Kind::TRICKLED.len() + size.one_address + size.logins + 256)?;
    slow_connections(o, &size)?;
    login_flood(o, &size)
}

/// Latencies and errors of one kind of normal request.
#[derive(Default)]
struct Series {
    ms: Vec<f64>,
    errors: u64,
}

impl Series {
    fn line(&mut self) -> String {
        self.ms.sort_by(f64::total_cmp);
        format!(
            "p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}/{}",
            percentile(&self.ms, 0.5),
            percentile(&self.ms, 0.99),
            self.errors,
            self.ms.len() as u64 + self.errors
        )
    }
}

/// Calls `request` every `every` until `stop`, timing the ones that succeed.
fn paced(stop: &AtomicBool, every: Duration, mut request: impl FnMut() -> bool) -> Series {
    let mut series = Series::default();
    let mut due = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait.min(Duration::from_millis(100)));
            continue;
        }
        let started = Instant::now();
        if request() {
            series.ms.push(ms(started.elapsed()));
        } else {
            series.errors += 1;
        }
        // A slow answer delays the next request rather than causing a burst.
        due = (due + every).max(Instant::now());
    }
    series
}

/// The normal client's traffic: `/healthz` on a fresh connection each time (as a monitor
/// would), and logins and posts on keep-alive connections (reopened after an error).
struct Traffic {
    healthz: Series,
    logins: Series,
    posts: Series,
}

fn normal_traffic(server: &Server, cookie: &str, stop: &AtomicBool) -> Traffic {
    std::thread::scope(|scope| {
        let healthz = scope.spawn(|| {
            paced(stop, Duration::from_millis(100), || {
                server
                    .client_from(None, "", NORMAL_TIMEOUT)
                    .and_then(|mut c| c.request("GET", "/healthz", None))
                    .is_ok_and(|(status, _, _)| status == 200)
            })
        });
        let logins = scope.spawn(|| {
            let mut client = None;
            paced(stop, Duration::from_millis(500), || {
                keep_alive(&mut client, server, "", |c| c.login("normal"), 200)
            })
        });
        let posts = scope.spawn(|| {
            let mut client = None;
            let mut n = 0u64;
            paced(stop, Duration::from_millis(100), || {
                n += 1;
                keep_alive(
                    &mut client,
                    server,
                    cookie,
                    |c| c.post("general", &format!("normal {n}")),
                    201,
                )
            })
        });
        let join = |h: std::thread::ScopedJoinHandle<Series>| {
            h.join().unwrap_or_else(|_| Series {
                ms: Vec::new(),
                errors: 1,
            })
        };
        Traffic {
            healthz: join(healthz),
            logins: join(logins),
            posts: join(posts),
        }
    })
}

/// One request on a kept-alive connection, opened if needed and dropped after any failure.
fn keep_alive(
    client: &mut Option<crate::client::Client>,
    server: &Server,
    cookie: &str,
    request: impl FnOnce(&mut crate::client::Client) -> anyhow::Result<u16>,
    expected: u16,
) -> bool {
    if client.is_none() {
        *client = server.client_from(None, cookie, NORMAL_TIMEOUT).ok();
    }
    let ok = client
        .as_mut()
        .is_some_and(|c| request(c).is_ok_and(|status| status == expected));
    if !ok {
        *client = None;
    }
    ok
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT MET"
    }
}

/// Part 1: slow connections of every kind at once, with normal traffic beside them.
fn slow_connections(o: &Options, size: &Size) -> anyhow::Result<()> {
    let server = Server::start_with(&o.server, ABUSE_SETTINGS)?;
    anyhow::ensure!(
        server.addr.ip().is_loopback(),
        "the bench attacks loopback servers only"
    );
    let cookie = server.signup("normal")?.cookie;
    let script = Script::new(&server)?;
    // Each kind gets addresses of its own, from 127.0.0.2 up; the single address is apart.
    let one_address = Ipv4Addr::new(127, 0, 0, 250);
    anyhow::ensure!(
        2 + Kind::TRICKLED.len() * size.addresses_per_kind < 250,
        "not enough loopback addresses for the slow connections"
    );
    let mut schedule = Vec::new();
    for i in 0..size.per_kind.max(size.one_address) {
        for (k, kind) in Kind::TRICKLED.iter().enumerate() {
            if i < size.per_kind {
                let host = 2 + k * size.addresses_per_kind + i % size.addresses_per_kind;
                schedule.push((*kind, Ipv4Addr::new(127, 0, 0, host as u8)));
            }
        }
        if i < size.one_address {
            schedule.push((Kind::OneAddress, one_address));
        }
    }

    let stop = AtomicBool::new(false);
    let mut quiet = std::thread::scope(|scope| {
        let traffic = scope.spawn(|| normal_traffic(&server, &cookie, &stop));
        std::thread::sleep(size.quiet);
        stop.store(true, Ordering::Relaxed);
        traffic.join()
    })
    .map_err(|_| anyhow::anyhow!("the normal client panicked"))?;
    stop.store(false, Ordering::Relaxed);
    let pid = server.pid();
    let rss_before = rss_kib(pid);
    let peak_rss = AtomicU64::new(rss_before);
    let peak_threads = AtomicU64::new(0);
    let started = Instant::now();
    let server_cpu = cpu_seconds(pid);
    let bench_cpu = cpu_seconds(std::process::id());
    let (slow, busy) = std::thread::scope(|scope| {
        let traffic = scope.spawn(|| normal_traffic(&server, &cookie, &stop));
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                peak_rss.fetch_max(rss_kib(pid), Ordering::Relaxed);
                peak_threads.fetch_max(thread_count(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let slow = attack(&server, &script, &schedule, size.limit);
        stop.store(true, Ordering::Relaxed);
        (slow, traffic.join())
    });
    let slow = slow?;
    let mut busy = busy.map_err(|_| anyhow::anyhow!("the normal client panicked"))?;
    let attack_secs = started.elapsed().as_secs_f64();
    let server_cpu = (cpu_seconds(pid) - server_cpu) / attack_secs * 100.0;
    let bench_cpu = (cpu_seconds(std::process::id()) - bench_cpu) / attack_secs * 100.0;

    let peak_rss = peak_rss.load(Ordering::Relaxed);
    println!(
        "abuse     {} slow connections for {attack_secs:.0} s: server cpu {server_cpu:.0} %, rss {:.1} → peak {:.1} MB ({:.1} KB per slow connection), peak {} threads; bench cpu {bench_cpu:.0} %",
        schedule.len(),
        rss_before as f64 / 1024.0,
        peak_rss as f64 / 1024.0,
        peak_rss.saturating_sub(rss_before) as f64 / schedule.len() as f64,
        peak_threads.load(Ordering::Relaxed)
    );
    // Every slow connection has ended: what the server keeps of the 4,000 threads' memory.
    std::thread::sleep(Duration::from_secs(3));
    println!(
        "abuse     rss 3 s after the attack                   {:>10.1} MB        (before it {:.1} MB)",
        rss_kib(pid) as f64 / 1024.0,
        rss_before as f64 / 1024.0
    );
    println!(
        "abuse     normal traffic during the attack (and in brackets the {} s before it):",
        size.quiet.as_secs()
    );
    for (name, during, before) in [
        (
            "/healthz, fresh TLS each",
            &mut busy.healthz,
            &mut quiet.healthz,
        ),
        ("login, keep-alive", &mut busy.logins, &mut quiet.logins),
        ("post, keep-alive", &mut busy.posts, &mut quiet.posts),
    ] {
        let line = during.line();
        println!(
            "abuse     {name:<40} {line}  ({})  budget no errors  {}",
            before.line(),
            verdict(during.errors == 0)
        );
    }
    for kind in Kind::TRICKLED {
        let out = outcome(&slow, kind);
        let budget = kind.budget().as_secs_f64();
        let max = out.closed.last().copied();
        let met =
            out.not_closed == 0 && out.connect_failed == 0 && max.is_some_and(|m| m <= budget);
        println!(
            "abuse     {:<30} {} from {:>3} addresses  closed {:>4}  p50 {} s  max {} s  refused at once {:>4}  not closed after {} s {:>4}{}  budget all closed ≤ {budget:.0} s  {}",
            kind.describe(),
            out.opened,
            size.addresses_per_kind.min(out.opened),
            out.closed.len(),
            secs((!out.closed.is_empty()).then(|| percentile(&out.closed, 0.5))),
            secs(max),
            out.refused_at_once,
            size.limit.as_secs(),
            out.not_closed,
            attacker_trouble(&out),
            verdict(met)
        );
    }
    let out = outcome(&slow, Kind::OneAddress);
    let accepted: Vec<f64> = out
        .closed
        .iter()
        .copied()
        .filter(|s| *s > REFUSED_WITHIN.as_secs_f64())
        .collect();
    let max = accepted.last().copied();
    let refused_wanted = out.opened.saturating_sub(PER_ADDRESS_LIMIT);
    let met = out.refused_at_once >= refused_wanted
        && out.not_closed == 0
        && out.connect_failed == 0
        && max.is_none_or(|m| m <= Kind::OneAddress.budget().as_secs_f64());
    println!(
        "abuse     {:<30} {} from   1 address    refused at once {:>4}  accepted then closed {:>4} (max {} s)  not closed after {} s {:>4}{}  budget refused ≥ {refused_wanted}, the rest closed ≤ {:.0} s  {}",
        Kind::OneAddress.describe(),
        out.opened,
        out.refused_at_once,
        accepted.len(),
        secs(max),
        size.limit.as_secs(),
        out.not_closed,
        attacker_trouble(&out),
        Kind::OneAddress.budget().as_secs_f64(),
        verdict(met)
    );
    Ok(())
}

/// What went wrong on the attacker's side, if anything.
fn attacker_trouble(out: &Outcome) -> String {
    let mut trouble = String::new();
    if out.connect_failed > 0 {
        trouble.push_str(&format!("  could not connect {}", out.connect_failed));
    }
    if out.not_started > 0 {
        trouble.push_str(&format!(
            "  still connecting or in the handshake {}",
            out.not_started
        ));
    }
    trouble
}

/// Seconds, or a dash when there is no figure.
fn secs(value: Option<f64>) -> String {
    value.map_or_else(|| "    –".to_owned(), |s| format!("{s:>5.1}"))
}

/// Part 2: many logins at once, and the server's memory around them.
fn login_flood(o: &Options, size: &Size) -> anyhow::Result<()> {
    let server = Server::start_with(&o.server, ABUSE_SETTINGS)?;
    drop(server.signup("flood")?);
    std::thread::sleep(size.settle);
    let pid = server.pid();
    let fresh = rss_kib(pid);
    // The first burst warms the server up: its allocator arenas, connection pools and TLS
    // session cache grow to what a burst needs and stay that size, to be reused by the next
    // one. The budget is about what a burst leaves behind, so it is checked on a second burst;
    // the first one's cost is reported beside it.
    std::thread::scope(|scope| {
        for i in 0..size.logins {
            let source = Ipv4Addr::new(127, 0, 0, (2 + i / FLOOD_PER_ADDRESS) as u8);
            let server = &server;
            scope.spawn(move || {
                let _ = server
                    .client_from(Some(source), "", Duration::from_secs(60))
                    .and_then(|mut c| c.login("flood"));
            });
        }
    });
    std::thread::sleep(size.settle);
    let before = rss_kib(pid);
    println!(
        "abuse     rss of a fresh server {:>27.1} MB, after a first burst of {} logins {:.1} MB (warm: arenas, pools, TLS cache)",
        fresh as f64 / 1024.0,
        size.logins,
        before as f64 / 1024.0
    );
    // Resets VmHWM to the current RSS, so it shows the flood's peak rather than the sign-up's.
    let peak_reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
    let sampling = AtomicBool::new(true);
    let sampled_peak = AtomicU64::new(before);
    let results: Mutex<Vec<(Option<u16>, f64)>> = Mutex::new(Vec::with_capacity(size.logins));
    // The logins wait on this lock until every thread is ready, then start at once.
    let gate = RwLock::new(());
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let held = gate.write().unwrap_or_else(|e| e.into_inner());
        scope.spawn(|| {
            while sampling.load(Ordering::Relaxed) {
                sampled_peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        let mut logins = Vec::with_capacity(size.logins);
        for i in 0..size.logins {
            let source = Ipv4Addr::new(127, 0, 0, (2 + i / FLOOD_PER_ADDRESS) as u8);
            let (gate, results, server) = (&gate, &results, &server);
            let spawned = std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn_scoped(scope, move || {
                    drop(gate.read().unwrap_or_else(|e| e.into_inner()));
                    let t = Instant::now();
                    let status = server
                        .client_from(Some(source), "", Duration::from_secs(60))
                        .and_then(|mut c| c.login("flood"))
                        .ok();
                    let took = t.elapsed().as_secs_f64();
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((status, took));
                });
            match spawned {
                Ok(handle) => logins.push(handle),
                Err(e) => {
                    drop(held);
                    sampling.store(false, Ordering::Relaxed);
                    anyhow::bail!("cannot start login thread {i}: {e}");
                }
            }
        }
        drop(held);
        for login in logins {
            let _ = login.join();
        }
        // Every login's connection is closed by now (each thread dropped its own).
        std::thread::sleep(size.settle);
        sampling.store(false, Ordering::Relaxed);
        Ok(())
    })?;
    let peak_hwm = peak_rss_kib(pid);
    let after = rss_kib(pid);
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let ok = results.iter().filter(|(s, _)| *s == Some(200)).count();
    let busy = results.iter().filter(|(s, _)| *s == Some(503)).count();
    let other = size.logins - ok - busy;
    let mut took: Vec<f64> = results.iter().map(|(_, t)| *t).collect();
    took.sort_by(f64::total_cmp);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mb = |kib: u64| kib as f64 / 1024.0;
    let peak = if peak_reset {
        sampled_peak.load(Ordering::Relaxed).max(peak_hwm)
    } else {
        sampled_peak.load(Ordering::Relaxed)
    };
    let peak_budget = mb(before) + cores as f64 * 20.0 + 16.0;
    let after_budget = mb(before) * 1.1;
    let addresses = size.logins.div_ceil(FLOOD_PER_ADDRESS);
    println!(
        "abuse     login flood, {} at once from {addresses} address{}   ok {ok}  503 {busy}  other {other}  each p50 {:.2} s  max {:.2} s  budget all ok  {}",
        size.logins,
        if addresses == 1 { "" } else { "es" },
        percentile(&took, 0.5),
        took.last().copied().unwrap_or(f64::NAN),
        verdict(ok == size.logins)
    );
    println!(
        "abuse     rss before the second burst (idle, warm)      {:>10.1} MB",
        mb(before)
    );
    println!(
        "abuse     rss peak during the flood                    {:>10.1} MB        budget ≤ {peak_budget:.1} MB (before + {cores} cores × 20 + 16)  {}{}",
        mb(peak),
        verdict(mb(peak) <= peak_budget),
        if peak_reset {
            format!("  (sampled every 2 ms; VmHWM {:.1} MB)", mb(peak_hwm))
        } else {
            "  (sampled every 2 ms; VmHWM could not be reset, so it is not used)".to_owned()
        }
    );
    println!(
        "abuse     rss {:.1} s after the flood                   {:>10.1} MB        budget ≤ {after_budget:.1} MB (before + 10 %)  {}",
        size.settle.as_secs_f64(),
        mb(after),
        verdict(mb(after) <= after_budget)
    );
    Ok(())
}

/// Raises the bench's own open-file limit to the hard limit: every slow connection is a
/// descriptor. Fails early when even that is too low for `needed`.
fn raise_fd_limit(needed: usize) -> anyhow::Result<()> {
    // SAFETY: getrlimit/setrlimit on a local struct.
    let soft = unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        }
        limit.rlim_cur
    };
    anyhow::ensure!(
        usize::try_from(soft).unwrap_or(usize::MAX) >= needed,
        "the open-file limit ({soft}) is too low for {needed} connections; raise it (ulimit -n)"
    );
    Ok(())
}
