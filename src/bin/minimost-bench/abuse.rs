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
//! The attacker is one thread driving non-blocking sockets with epoll(7), not a thread per
//! connection, so the bench's own cost stays small beside the server's.

use crate::client::{cpu_seconds, peak_rss_kib, rss_kib, tcp_from, thread_count, Server};
use crate::{ms, percentile, Options};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// The whole deadline for a TLS handshake plus request head that the server is meant to
/// enforce (the default of `MINIMOST_HEAD_TIMEOUT_MS`).
const HEAD_DEADLINE: Duration = Duration::from_secs(10);
/// A body gets the head deadline again as grace, then must average 1 KiB/s; a trickled one
/// falls below that rate as soon as the grace ends, 10 s after its head (itself at most 10 s).
const BODY_CLOSE_BUDGET: Duration = Duration::from_secs(20);
/// The server's own limits, with only the per-address login and signup rate limits lifted
/// (the flood logs in from few addresses); the per-address connection limit stays at its
/// default, since it is under test.
const ABUSE_SETTINGS: &str =
    r#"{"channels": ["general"], "rate_limits": {"login": [1000000, 1], "signup": [1000000, 1]}}"#;
/// Thousands of connection threads share two cores with the bench: a close may come this
/// much after its deadline and still count as on time.
const CLOSE_SLACK: Duration = Duration::from_secs(1);
/// The per-address connection limit the server is meant to enforce by default
/// (`max_connections_per_ip`).
const PER_ADDRESS_LIMIT: usize = 64;
/// A connection closed this soon after it was opened was refused, not timed out: less than
/// the time between two trickled bytes.
const REFUSED_WITHIN: Duration = Duration::from_secs(1);
/// Slow connections are opened in batches, so the listen backlog does not overflow and
/// delay connects by a SYN retransmission (1 s).
const OPEN_BATCH: usize = 50;
const OPEN_EVERY: Duration = Duration::from_millis(50);
/// How long the attacker sleeps in epoll_wait when no connection has anything to say: trickled
/// bytes that fall due meanwhile go out together, so thousands of connections cost the
/// attacker about a hundred wake-ups a second, not one per byte.
const TICK: Duration = Duration::from_millis(10);
/// How long the normal client waits for an answer before it counts an error.
const NORMAL_TIMEOUT: Duration = Duration::from_secs(10);
/// Content-Length of the trickled body: a login body must fit under the server's 64 KiB cap
/// on JSON bodies, or the server answers 413 before reading it and the trickle tests nothing.
const BODY_LENGTH: usize = 60_000;
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

/// How a slow connection misbehaves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// TCP connected, then the first 5 bytes of a ClientHello (its record header), then nothing.
    StalledHello,
    /// A ClientHello sent one byte at a time.
    TrickledHello,
    /// A complete TLS handshake, then a request head one byte (in its own record) at a time.
    TrickledHead,
    /// A complete handshake and request head (a login with a large body), then the body one
    /// byte at a time.
    TrickledBody,
    /// Like `StalledHello`, but all from one address: past the per-address limit the server
    /// should refuse them at once.
    OneAddress,
}

impl Kind {
    /// The kinds spread over many addresses.
    const TRICKLED: [Kind; 4] = [
        Kind::StalledHello,
        Kind::TrickledHello,
        Kind::TrickledHead,
        Kind::TrickledBody,
    ];

    fn describe(self) -> &'static str {
        match self {
            Kind::StalledHello => "(a) TLS stalled after 5 bytes",
            Kind::TrickledHello => "(b) ClientHello trickled",
            Kind::TrickledHead => "(c) head trickled after TLS",
            Kind::TrickledBody => "(d) body trickled after head",
            Kind::OneAddress => "(a) from one address",
        }
    }

    /// Longest the server should take to close one.
    fn budget(self) -> Duration {
        match self {
            Kind::TrickledBody => BODY_CLOSE_BUDGET,
            _ => HEAD_DEADLINE + CLOSE_SLACK,
        }
    }
}

/// What the slow connections send, made once for all of them.
struct Script {
    /// A ClientHello for the server (any session's will do: the server never gets far enough
    /// to care whose it is).
    hello: Vec<u8>,
    /// The request head trickled by `TrickledHead`: longer than a minute of trickling.
    slow_head: Vec<u8>,
    /// The head `TrickledBody` sends whole, and the start of its body.
    body_head: Vec<u8>,
    body_start: Vec<u8>,
}

impl Script {
    fn new(server: &Server) -> anyhow::Result<Script> {
        let mut tls = server.tls_client()?;
        let mut hello = Vec::new();
        while tls.wants_write() {
            tls.write_tls(&mut hello)?;
        }
        let host = server.origin().trim_start_matches("https://").to_owned();
        let slow_head = format!(
            "GET /healthz HTTP/1.1\r\nHost: {host}\r\nUser-Agent: minimost-bench slow client\r\n\
             Accept: */*\r\nX-Padding: {}\r\n\r\n",
            "a".repeat(400)
        );
        let body_head = format!(
            "POST /api/login HTTP/1.1\r\nHost: {host}\r\nOrigin: https://{host}\r\n\
             Content-Type: application/json\r\nContent-Length: {BODY_LENGTH}\r\n\r\n"
        );
        Ok(Script {
            hello,
            slow_head: slow_head.into_bytes(),
            body_head: body_head.into_bytes(),
            body_start: br#"{"username":"normal","password":""#.to_vec(),
        })
    }

    /// The `sent`-th byte a trickling connection sends, if it has one left.
    fn trickled_byte(&self, kind: Kind, sent: usize) -> Option<u8> {
        match kind {
            Kind::TrickledHello => self.hello.get(sent).copied(),
            Kind::TrickledHead => self.slow_head.get(sent).copied(),
            Kind::TrickledBody if sent < BODY_LENGTH => {
                Some(self.body_start.get(sent).copied().unwrap_or(b'x'))
            }
            _ => None,
        }
    }
}

/// Where a slow connection is in its misbehaviour.
enum Stage {
    /// The non-blocking connect has not completed.
    Connecting,
    /// The TLS handshake is under way (kinds that trickle inside TLS).
    Handshaking(Box<rustls::ClientConnection>),
    /// Sending raw bytes one at a time (a ClientHello).
    Raw { sent: usize },
    /// TLS established: sending plaintext bytes one at a time, each in a record of its own,
    /// so the server's HTTP layer sees every byte as it comes.
    Records {
        tls: Box<rustls::ClientConnection>,
        sent: usize,
    },
    /// Nothing more to send: waiting for the server to close.
    Waiting,
}

/// How a slow connection ended, as the attacker saw it.
#[derive(Clone, Copy)]
enum End {
    /// The server closed it (EOF or reset) this long after it was opened.
    Closed(Duration),
    /// The connection could not be made.
    ConnectFailed,
}

struct Slow {
    kind: Kind,
    stream: Option<TcpStream>,
    opened: Instant,
    /// Between two trickled bytes: 1–2 s, spread so the connections do not all send at once.
    interval: Duration,
    next_send: Instant,
    stage: Stage,
    end: Option<End>,
    /// The epoll events the socket is registered for (0: not registered yet).
    watching: u32,
}

impl Slow {
    fn open(kind: Kind, source: Ipv4Addr, server: &Server, number: usize) -> Slow {
        let opened = Instant::now();
        let interval = Duration::from_millis(1000 + (number as u64 * 7919) % 1000);
        let stream = tcp_from(source, server.addr, true).and_then(|s| {
            s.set_nodelay(true)?;
            Ok(s)
        });
        let (stream, end) = match stream {
            Ok(stream) => (Some(stream), None),
            Err(_) => (None, Some(End::ConnectFailed)),
        };
        Slow {
            kind,
            stream,
            opened,
            interval,
            next_send: opened + interval,
            stage: Stage::Connecting,
            end,
            watching: 0,
        }
    }

    fn closed(&mut self, now: Instant) {
        self.stream = None;
        self.end = Some(End::Closed(now.duration_since(self.opened)));
    }

    /// The events this connection waits for (errors and hang-ups are always reported).
    fn events(&self) -> u32 {
        let events = match &self.stage {
            Stage::Connecting => libc::EPOLLOUT,
            Stage::Handshaking(tls) if tls.wants_write() => libc::EPOLLIN | libc::EPOLLOUT,
            _ => libc::EPOLLIN,
        };
        events as u32
    }

    /// Registers the socket with `poller` for the events its stage needs, if they changed.
    fn watch(&mut self, poller: &Poller, key: usize) {
        let Some(stream) = &self.stream else {
            return;
        };
        let wanted = self.events();
        if wanted != self.watching
            && poller
                .watch(stream.as_raw_fd(), key, wanted, self.watching != 0)
                .is_ok()
        {
            self.watching = wanted;
        }
    }

    /// Handles what epoll reported.
    fn ready(&mut self, server: &Server, script: &Script, now: Instant) {
        let Some(stream) = &mut self.stream else {
            return;
        };
        match &mut self.stage {
            Stage::Connecting => match stream.take_error() {
                Ok(None) => self.connected(server, script, now),
                Ok(Some(_)) | Err(_) => {
                    self.stream = None;
                    self.end = Some(End::ConnectFailed);
                }
            },
            Stage::Handshaking(tls) => {
                match tls.read_tls(stream) {
                    Ok(0) => return self.closed(now),
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return self.closed(now),
                }
                if tls.process_new_packets().is_err() {
                    // The server sent an alert: it is about to close; wait for that.
                    self.stage = Stage::Waiting;
                    return;
                }
                if !flush(tls, stream) {
                    return self.closed(now);
                }
                if !tls.is_handshaking() {
                    self.established(script, now);
                }
            }
            Stage::Raw { .. } | Stage::Records { .. } | Stage::Waiting => {
                // Whatever the server sends (session tickets, an error response) is dropped:
                // only its closing matters.
                let mut sink = [0u8; 4096];
                loop {
                    match stream.read(&mut sink) {
                        Ok(0) => return self.closed(now),
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(_) => return self.closed(now),
                    }
                }
            }
        }
    }

    fn connected(&mut self, server: &Server, script: &Script, now: Instant) {
        match self.kind {
            Kind::StalledHello | Kind::OneAddress => {
                self.stage = Stage::Waiting;
                self.send_raw(&script.hello[..5], now);
            }
            Kind::TrickledHello => {
                self.stage = Stage::Raw { sent: 0 };
                self.trickle(script, now);
            }
            Kind::TrickledHead | Kind::TrickledBody => match server.tls_client() {
                Ok(tls) => {
                    self.stage = Stage::Handshaking(Box::new(tls));
                    self.ready(server, script, now);
                }
                Err(_) => {
                    self.stream = None;
                    self.end = Some(End::ConnectFailed);
                }
            },
        }
    }

    /// The handshake is done: start trickling (a body after its head, sent whole).
    fn established(&mut self, script: &Script, now: Instant) {
        let Stage::Handshaking(tls) = std::mem::replace(&mut self.stage, Stage::Waiting) else {
            return;
        };
        let mut tls = tls;
        if self.kind == Kind::TrickledBody {
            let _ = tls.writer().write_all(&script.body_head);
        }
        self.stage = Stage::Records { tls, sent: 0 };
        self.trickle(script, now);
    }

    /// Sends the next trickled byte.
    fn trickle(&mut self, script: &Script, now: Instant) {
        self.next_send = now + self.interval;
        let kind = self.kind;
        let Some(stream) = &mut self.stream else {
            return;
        };
        let alive = match &mut self.stage {
            Stage::Raw { sent } => match script.trickled_byte(kind, *sent) {
                Some(byte) => {
                    *sent += 1;
                    write_raw(stream, &[byte])
                }
                None => true,
            },
            Stage::Records { tls, sent } => {
                if let Some(byte) = script.trickled_byte(kind, *sent) {
                    *sent += 1;
                    let _ = tls.writer().write_all(&[byte]);
                }
                flush(tls, stream)
            }
            _ => true,
        };
        if !alive {
            self.closed(now);
        }
    }

    fn send_raw(&mut self, bytes: &[u8], now: Instant) {
        if let Some(stream) = &mut self.stream {
            if !write_raw(stream, bytes) {
                self.closed(now);
            }
        }
    }
}

/// Writes a few bytes; false when the server has closed the connection. A full socket buffer
/// (the server not reading) is no reason to stop.
fn write_raw(stream: &mut TcpStream, bytes: &[u8]) -> bool {
    match stream.write_all(bytes) {
        Ok(()) => true,
        Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
    }
}

/// Sends the TLS records rustls has ready, as far as the socket takes them; false when the
/// server has closed the connection.
fn flush(tls: &mut rustls::ClientConnection, stream: &mut TcpStream) -> bool {
    while tls.wants_write() {
        match tls.write_tls(stream) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(_) => return false,
        }
    }
    true
}

/// The attacker's sockets in an epoll(7) set. Unlike poll(2), a wait costs nothing per quiet
/// socket: polling 4,200 sockets a hundred times a second took half a core of the two.
struct Poller(OwnedFd);

impl Poller {
    fn new() -> std::io::Result<Poller> {
        // SAFETY: epoll_create1 has no preconditions; a non-negative result is a descriptor
        // we own.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is the fresh descriptor above, owned by nothing else.
        Ok(Poller(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Waits on `fd` for `events`, reported with `key`; `registered` says whether the socket
    /// is in the set already (closing a socket takes it out).
    fn watch(&self, fd: RawFd, key: usize, events: u32, registered: bool) -> std::io::Result<()> {
        let mut event = libc::epoll_event {
            events,
            u64: key as u64,
        };
        let op = if registered {
            libc::EPOLL_CTL_MOD
        } else {
            libc::EPOLL_CTL_ADD
        };
        // SAFETY: both descriptors are open and event is a valid epoll_event.
        if unsafe { libc::epoll_ctl(self.0.as_raw_fd(), op, fd, &mut event) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits up to `timeout`; returns the keys of the sockets that are ready.
    fn wait(&self, events: &mut [libc::epoll_event], timeout: Duration) -> Vec<usize> {
        let capacity = libc::c_int::try_from(events.len()).unwrap_or(libc::c_int::MAX);
        let timeout = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: events is a writable array of at least `capacity` epoll_event structs.
        let n =
            unsafe { libc::epoll_wait(self.0.as_raw_fd(), events.as_mut_ptr(), capacity, timeout) };
        let ready = usize::try_from(n).unwrap_or(0);
        events[..ready].iter().map(|e| e.u64 as usize).collect()
    }
}

/// Opens every slow connection (in batches) and drives them until the server has closed them
/// all, or until `limit` after the last one opened.
fn attack(
    server: &Server,
    script: &Script,
    schedule: &[(Kind, Ipv4Addr)],
    limit: Duration,
) -> anyhow::Result<Vec<Slow>> {
    let start = Instant::now();
    let mut slow: Vec<Slow> = Vec::with_capacity(schedule.len());
    let mut give_up = None;
    let poller = Poller::new()?;
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    loop {
        let now = Instant::now();
        let batches = (now.duration_since(start).as_millis() / OPEN_EVERY.as_millis()) as usize;
        let due = ((batches + 1) * OPEN_BATCH).min(schedule.len());
        while slow.len() < due {
            let (kind, source) = schedule[slow.len()];
            let number = slow.len();
            slow.push(Slow::open(kind, source, server, number));
        }
        if slow.len() == schedule.len() && give_up.is_none() {
            give_up = Some(now + limit);
        }
        let all_ended = slow.iter().all(|s| s.end.is_some());
        if (all_ended && slow.len() == schedule.len()) || give_up.is_some_and(|g| now >= g) {
            return Ok(slow);
        }
        for (key, s) in slow.iter_mut().enumerate() {
            if s.end.is_none() && s.next_send <= now {
                s.trickle(script, now);
            }
            s.watch(&poller, key);
        }
        let ready = poller.wait(&mut events, TICK);
        let now = Instant::now();
        for key in ready {
            if let Some(s) = slow.get_mut(key) {
                s.ready(server, script, now);
                s.watch(&poller, key);
            }
        }
    }
}

/// What happened to one kind of slow connection.
struct Outcome {
    opened: usize,
    /// Seconds from open to the server's close, sorted.
    closed: Vec<f64>,
    refused_at_once: usize,
    not_closed: usize,
    connect_failed: usize,
    /// Still open at the end but never got as far as misbehaving (connecting, or in the TLS
    /// handshake): the attack did not do what it says for these.
    not_started: usize,
}

fn outcome(slow: &[Slow], kind: Kind) -> Outcome {
    let mine: Vec<&Slow> = slow.iter().filter(|s| s.kind == kind).collect();
    let mut closed: Vec<f64> = mine
        .iter()
        .filter_map(|s| match s.end {
            Some(End::Closed(after)) => Some(after.as_secs_f64()),
            _ => None,
        })
        .collect();
    closed.sort_by(f64::total_cmp);
    let count = |wanted: fn(&Option<End>) -> bool| mine.iter().filter(|s| wanted(&s.end)).count();
    Outcome {
        opened: mine.len(),
        refused_at_once: closed
            .iter()
            .filter(|s| **s <= REFUSED_WITHIN.as_secs_f64())
            .count(),
        closed,
        not_closed: count(Option::is_none),
        connect_failed: count(|e| matches!(e, Some(End::ConnectFailed))),
        not_started: mine
            .iter()
            .filter(|s| {
                s.end.is_none() && matches!(s.stage, Stage::Connecting | Stage::Handshaking(_))
            })
            .count(),
    }
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
