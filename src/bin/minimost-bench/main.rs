//! `minimost-bench`: the project's load generator. It starts the real `minimost` binary on a
//! fresh data dir and drives it over HTTPS/WSS on loopback with real accounts, printing each
//! figure beside its budget and beside a floor measured in the same run (raw SQLite
//! commits, a raw TLS WebSocket round trip), so a figure can be judged on a noisy machine.
//!
//! Usage: minimost-bench [idle|delivery|throughput|crowd|startup|calls|abuse|history|floors|smoke|all] [--quick]
//!                       [--server PATH] [--sizes N,…,wide]
//! `--sizes` runs `history` for just these history sizes, and the wide channels if it lists
//! `wide` (default: 10000,100000,1000000,wide).
//! `--quick` shrinks every scenario to a smoke test (CI runs it); it asserts nothing.
//! `smoke` (not part of `all`) is the exception: it checks one binary boots and serves a chat,
//! and fails when it does not; the release script runs it on every binary it builds.

#[path = "../../base/json.rs"]
#[allow(dead_code)]
mod json;

mod abuse;
mod calls;
mod client;
mod floors;
mod history;
mod slow;
mod smoke;

use client::{anon_kib, cpu_seconds, rss_kib, thread_cpu_ns, Server};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn unique() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

struct Options {
    quick: bool,
    server: PathBuf,
    /// `history` only: the history sizes to build (10 k, 100 k and 1 M when not given).
    sizes: Option<Vec<u64>>,
    /// `history` only: whether to measure the wide channels (when `--sizes` is not given, or
    /// lists `wide`).
    wide: bool,
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let mut args = pico_args::Arguments::from_env();
    if args.contains(["-h", "--help"]) {
        println!("usage: minimost-bench [idle|delivery|throughput|crowd|startup|calls|abuse|history|floors|smoke|all] [--quick] [--server PATH] [--sizes N,…,wide]");
        return Ok(());
    }
    let quick = args.contains("--quick");
    let server: Option<PathBuf> = args.opt_value_from_str("--server")?;
    let sizes: Option<String> = args.opt_value_from_str("--sizes")?;
    let wide = sizes
        .as_deref()
        .is_none_or(|list| list.split(',').any(|n| n.trim() == "wide"));
    let sizes = sizes
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|n| *n != "wide")
                .map(|n| n.replace('_', "").parse::<u64>())
                .collect::<Result<Vec<u64>, _>>()
        })
        .transpose()
        .map_err(|e| {
            anyhow::anyhow!("--sizes takes numbers (and `wide`) separated by commas: {e}")
        })?;
    let scenario: String = args.opt_free_from_str()?.unwrap_or_else(|| "all".into());
    let server = match server {
        Some(path) => path,
        None => std::env::current_exe()?.with_file_name("minimost"),
    };
    anyhow::ensure!(
        server.exists(),
        "no server binary at {} (build it, or pass --server)",
        server.display()
    );
    let options = Options {
        quick,
        server,
        sizes,
        wide,
    };
    println!(
        "minimost-bench {} — server {}{}",
        env!("CARGO_PKG_VERSION"),
        options.server.display(),
        if quick { " (quick)" } else { "" }
    );
    if scenario == "smoke" {
        return smoke::run(&options);
    }
    let floors = match scenario.as_str() {
        "idle" | "startup" | "abuse" | "calls" | "history" => None,
        _ => Some(floors::measure(quick)?),
    };
    if let Some(f) = &floors {
        println!(
            "floor     sqlite commits, 50 WAL files, 1 thread   {:>10.0} commits/s",
            f.sqlite_commits_per_sec
        );
        println!(
            "floor     TLS WebSocket round trip (loopback)      {:>10.3} ms p50",
            f.ws_round_trip_ms
        );
    }
    let all = scenario == "all";
    if all || scenario == "idle" {
        idle(&options)?;
    }
    if all || scenario == "delivery" {
        delivery(&options, floors.as_ref())?;
    }
    if all || scenario == "throughput" {
        throughput(&options, floors.as_ref())?;
    }
    if all || scenario == "crowd" {
        crowd(&options)?;
    }
    if all || scenario == "startup" {
        startup(&options)?;
    }
    if all || scenario == "calls" {
        calls::run(&options)?;
    }
    if all || scenario == "abuse" {
        abuse::run(&options)?;
    }
    if all || scenario == "history" {
        history::run(&options)?;
    }
    anyhow::ensure!(
        [
            "all",
            "idle",
            "delivery",
            "throughput",
            "crowd",
            "startup",
            "abuse",
            "calls",
            "history",
            "floors"
        ]
        .contains(&scenario.as_str()),
        "unknown scenario {scenario}"
    );
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Idle memory with 0, 100 and 1,000 idle authenticated sockets, and idle CPU.
fn idle(o: &Options) -> anyhow::Result<()> {
    let server = Server::start(&o.server)?;
    std::thread::sleep(Duration::from_millis(500));
    let base = rss_kib(server.pid());
    println!(
        "idle      rss, no clients                           {:>10.1} MB        budget ≤ 5 MB  (anonymous {:.1} MB; the rest is mapped code: the binary and any shared libraries)",
        base as f64 / 1024.0,
        anon_kib(server.pid()) as f64 / 1024.0
    );
    let client = server.signup("idler")?;
    let steps: &[usize] = if o.quick { &[20, 50] } else { &[100, 1000] };
    let mut sockets = Vec::new();
    for &n in steps {
        while sockets.len() < n {
            sockets.push(server.websocket(&client.cookie)?);
        }
        std::thread::sleep(Duration::from_millis(1000));
        let rss = rss_kib(server.pid());
        let per = (rss.saturating_sub(base)) as f64 / n as f64;
        println!(
            "idle      rss, {n:>4} idle sockets                    {:>10.1} MB  {per:>6.1} KB/socket  budget ≤ 48 KB",
            rss as f64 / 1024.0
        );
    }
    let wait = if o.quick { 1.0 } else { 5.0 };
    let before = thread_cpu_ns(server.pid());
    std::thread::sleep(Duration::from_secs_f64(wait));
    let after = thread_cpu_ns(server.pid());
    // Threads that ran in the window, by name (a thread that ended is not counted).
    let mut busy: std::collections::BTreeMap<String, u64> = Default::default();
    for (tid, (name, ns)) in &after {
        let was = before.get(tid).map_or(0, |(_, ns)| *ns);
        if *ns > was {
            *busy.entry(name.clone()).or_default() += ns - was;
        }
    }
    let used_ns: u64 = busy.values().sum();
    let used = used_ns as f64 / 1e9 / wait * 100.0;
    let who: Vec<String> = busy
        .iter()
        .map(|(name, ns)| format!("{name} {:.2} ms", *ns as f64 / 1e6))
        .collect();
    println!(
        "idle      cpu with {} idle sockets, {wait} s            {used:>10.3} %         budget 0 %  ({})",
        sockets.len(),
        if who.is_empty() { "no thread ran".to_owned() } else { who.join(", ") }
    );
    Ok(())
}

/// Members of one channel: accounts, one live socket each, and a reader thread recording
/// when each `bench <seq>` message arrived.
struct Members {
    cookies: Vec<String>,
    arrivals: Arc<Mutex<Vec<(u64, Instant)>>>,
    received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Members {
    fn join(
        server: &Server,
        prefix: &str,
        n: usize,
        cookies: Option<Vec<String>>,
    ) -> anyhow::Result<Members> {
        let cookies = match cookies {
            Some(c) => c,
            None => (0..n)
                .map(|i| server.signup(&format!("{prefix}{i}")).map(|c| c.cookie))
                .collect::<anyhow::Result<_>>()?,
        };
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let received = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut readers = Vec::new();
        for cookie in &cookies {
            let mut ws = server.websocket(cookie)?;
            let (arrivals, received, stop) = (arrivals.clone(), received.clone(), stop.clone());
            readers.push(
                std::thread::Builder::new()
                    .stack_size(128 * 1024)
                    .spawn(move || {
                        let mut mine = Vec::new();
                        while !stop.load(Ordering::Relaxed) {
                            match ws.read() {
                                Ok(tungstenite::Message::Text(text)) => {
                                    let now = Instant::now();
                                    if let Some(seq) = text
                                        .split("\"text\":\"bench ")
                                        .nth(1)
                                        .and_then(|r| r.split('"').next())
                                        .and_then(|s| s.parse().ok())
                                    {
                                        if text.starts_with("{\"type\":\"message\"") {
                                            mine.push((seq, now));
                                            received.fetch_add(1, Ordering::Relaxed);
                                        }
                                    }
                                }
                                Ok(_) => {}
                                Err(tungstenite::Error::Io(e))
                                    if matches!(
                                        e.kind(),
                                        std::io::ErrorKind::WouldBlock
                                            | std::io::ErrorKind::TimedOut
                                    ) => {}
                                Err(_) => break,
                            }
                        }
                        arrivals
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .extend(mine);
                    })?,
            );
        }
        Ok(Members {
            cookies,
            arrivals,
            received,
            stop,
            readers,
        })
    }

    /// Waits until `expected` deliveries arrived (or `limit` passed), then stops the readers.
    fn finish(self, expected: u64, limit: Duration) -> Vec<(u64, Instant)> {
        let deadline = Instant::now() + limit;
        while self.received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop.store(true, Ordering::Relaxed);
        for r in self.readers {
            let _ = r.join();
        }
        let arrivals = self.arrivals.lock().unwrap_or_else(|e| e.into_inner());
        arrivals.clone()
    }
}

/// Delivery latency to 50 connected members from one sender at a steady rate.
fn delivery(o: &Options, floors: Option<&floors::Floors>) -> anyhow::Result<()> {
    let server = Server::start(&o.server)?;
    let members = Members::join(&server, "d", 50, None)?;
    let (count, rate) = if o.quick { (20u64, 20.0) } else { (400, 40.0) };
    let mut sender = server.client_for(&members.cookies[0])?;
    // Not measured: the first message makes the server open every member's database.
    anyhow::ensure!(
        sender.post("general", "warm-up")? == 201,
        "warm-up send failed"
    );
    std::thread::sleep(Duration::from_millis(300));
    let mut sent = Vec::with_capacity(count as usize);
    let mut acks = Vec::with_capacity(count as usize);
    let start = Instant::now();
    for seq in 0..count {
        let due = start + Duration::from_secs_f64(seq as f64 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let t = Instant::now();
        let status = sender.post("general", &format!("bench {seq}"))?;
        anyhow::ensure!(status == 201, "send failed: {status}");
        acks.push(ms(t.elapsed()));
        sent.push(t);
    }
    let arrivals = members.finish(count * 50, Duration::from_secs(10));
    let mut latencies: Vec<f64> = arrivals
        .iter()
        .map(|(seq, at)| ms(at.duration_since(sent[*seq as usize])))
        .collect();
    latencies.sort_by(f64::total_cmp);
    acks.sort_by(f64::total_cmp);
    let lost = count * 50 - latencies.len() as u64;
    let p50 = percentile(&latencies, 0.5);
    let ratio = floors.map_or(String::new(), |f| {
        format!("  ({:.1}× the raw round trip)", p50 / f.ws_round_trip_ms)
    });
    println!("delivery  to 50 members, {count} msgs at {rate}/s     p50 {p50:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  lost {lost}  budget p50 ≤ 2, p99 ≤ 10{ratio}",
        percentile(&latencies, 0.99), latencies.last().copied().unwrap_or(f64::NAN));
    println!("delivery  sender's 201                             p50 {:>7.2} ms  p99 {:>7.2} ms               budget p50 ≤ 2", percentile(&acks, 0.5), percentile(&acks, 0.99));
    Ok(())
}

/// Concurrent senders into a 50-member channel: messages/s, stored copies/s, errors, CPU.
fn throughput(o: &Options, floors: Option<&floors::Floors>) -> anyhow::Result<()> {
    let server = Server::start(&o.server)?;
    let members = Members::join(&server, "t", 50, None)?;
    let (senders, secs) = if o.quick { (4, 2.0) } else { (8, 20.0) };
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let seq = Arc::new(AtomicU64::new(0));
    let cpu_before = cpu_seconds(server.pid());
    let start = Instant::now();
    std::thread::scope(|scope| {
        for i in 0..senders {
            let (ok, errors, seq, server, cookie) = (
                ok.clone(),
                errors.clone(),
                seq.clone(),
                &server,
                members.cookies[i].clone(),
            );
            scope.spawn(move || {
                let Ok(mut client) = server.client_for(&cookie) else {
                    return;
                };
                while start.elapsed().as_secs_f64() < secs {
                    let n = seq.fetch_add(1, Ordering::Relaxed);
                    match client.post("general", &format!("bench {n}")) {
                        Ok(201) => ok.fetch_add(1, Ordering::Relaxed),
                        _ => errors.fetch_add(1, Ordering::Relaxed),
                    };
                }
            });
        }
    });
    let wall = start.elapsed().as_secs_f64();
    let cpu = (cpu_seconds(server.pid()) - cpu_before) / wall * 100.0;
    let sent = ok.load(Ordering::Relaxed);
    let arrivals = members.finish(sent * 50, Duration::from_secs(20));
    let rate = sent as f64 / wall;
    let ratio = floors.map_or(String::new(), |f| {
        format!(
            "  ({:.2}× the raw commit floor)",
            rate * 50.0 / f.sqlite_commits_per_sec
        )
    });
    println!(
        "throughput {senders} senders, 50 members, {secs} s          {rate:>8.0} msgs/s  {:>8.0} copies/s  errors {}  delivered {}/{}  server cpu {cpu:.0} %  budget ≥ 1000 msgs/s{ratio}",
        rate * 50.0,
        errors.load(Ordering::Relaxed),
        arrivals.len(),
        sent * 50
    );
    Ok(())
}

/// 1,000 connected clients in 20 private channels of 50, with 10 messages/s flowing.
fn crowd(o: &Options) -> anyhow::Result<()> {
    let server = Server::start(&o.server)?;
    let (users, per_channel, secs) = if o.quick {
        (100usize, 50usize, 2.0)
    } else {
        (1000, 50, 20.0)
    };
    let channels = users / per_channel;
    let mut cookies = Vec::with_capacity(users);
    for i in 0..users {
        cookies.push(server.signup(&format!("c{i}"))?.cookie);
    }
    let mut channel_ids = Vec::new();
    for c in 0..channels {
        let members: Vec<json::Json> = (1..per_channel)
            .map(|m| json::Json::str(format!("c{}", c * per_channel + m)))
            .collect();
        let mut owner = server.client_for(&cookies[c * per_channel])?;
        let created = owner.json(
            "POST",
            "/api/private-channels",
            Some(&json::Json::obj([
                ("name", json::Json::str(format!("team {c}"))),
                ("members", json::Json::Arr(members)),
            ])),
        )?;
        channel_ids.push(
            created
                .get("id")
                .and_then(json::Json::as_str)
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let members = Members::join(&server, "", users, Some(cookies.clone()))?;
    let rss = rss_kib(server.pid());
    let count = (secs * 10.0) as u64;
    let mut sent = Vec::new();
    let mut clients: Vec<_> = (0..channels)
        .map(|c| server.client_for(&cookies[c * per_channel]))
        .collect::<anyhow::Result<_>>()?;
    let start = Instant::now();
    for seq in 0..count {
        let due = start + Duration::from_secs_f64(seq as f64 / 10.0);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let c = seq as usize % channels;
        let t = Instant::now();
        let status = clients[c].post(&channel_ids[c], &format!("bench {seq}"))?;
        anyhow::ensure!(status == 201, "send failed: {status}");
        sent.push(t);
    }
    let arrivals = members.finish(count * per_channel as u64, Duration::from_secs(10));
    let mut latencies: Vec<f64> = arrivals
        .iter()
        .map(|(seq, at)| ms(at.duration_since(sent[*seq as usize])))
        .collect();
    latencies.sort_by(f64::total_cmp);
    let lost = count * per_channel as u64 - latencies.len() as u64;
    println!(
        "crowd     {users} clients, {channels} channels, 10 msgs/s    p50 {:>7.2} ms  p99 {:>7.2} ms  lost {lost}  rss {:.1} MB  budget p99 ≤ 50 ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        rss as f64 / 1024.0
    );
    Ok(())
}

/// Exec → /healthz answering on an existing data dir; the binary's size.
fn startup(o: &Options) -> anyhow::Result<()> {
    // A data dir after first boot, with an account, for the server to start on again.
    let first = Server::start(&o.server)?;
    drop(first.signup("someone")?);
    let keep = first.data_dir.with_extension("startup");
    let _ = std::process::Command::new("cp")
        .arg("-a")
        .arg(&first.data_dir)
        .arg(&keep)
        .status();
    drop(first);
    let runs = if o.quick { 3 } else { 20 };
    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let server = Server::start_on(&o.server, &keep)?;
        loop {
            if let Ok(mut conn) = server.connect() {
                use std::io::{Read, Write};
                let _ = conn.write_all(
                    b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                );
                let mut buf = [0u8; 32];
                if conn
                    .read(&mut buf)
                    .is_ok_and(|n| buf[..n].starts_with(b"HTTP/1.1 200"))
                {
                    break;
                }
            }
            anyhow::ensure!(
                start.elapsed() < Duration::from_secs(10),
                "the server did not answer /healthz"
            );
        }
        times.push(ms(start.elapsed()));
        drop(server);
    }
    let _ = std::fs::remove_dir_all(&keep);
    times.sort_by(f64::total_cmp);
    let size = std::fs::metadata(&o.server)?.len();
    println!("startup   exec → /healthz 200, existing data dir    p50 {:>7.2} ms  max {:>7.2} ms          budget ≤ 20 ms", percentile(&times, 0.5), times.last().copied().unwrap_or(0.0));
    println!("size      {}                         {:>10.2} MB        budget ≤ 5 MB (static x86_64 release)", o.server.display(), size as f64 / (1 << 20) as f64);
    Ok(())
}
