//! The slow connections of the `abuse` scenario: each kind's script, and the attacker — one
//! thread driving thousands of non-blocking sockets with epoll(7), not a thread per connection,
//! so the bench's own cost stays small beside the server's — recording when the server closed
//! each one.

use crate::client::{tcp_from, Server};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// The whole deadline for a TLS handshake plus request head that the server is meant to
/// enforce (the default of `MINIMOST_HEAD_TIMEOUT_MS`).
const HEAD_DEADLINE: Duration = Duration::from_secs(10);
/// A body gets the head deadline again as grace, then must average 1 KiB/s; a trickled one
/// falls below that rate as soon as the grace ends, 10 s after its head (itself at most 10 s).
const BODY_CLOSE_BUDGET: Duration = Duration::from_secs(20);
/// Thousands of connection threads share two cores with the bench: a close may come this
/// much after its deadline and still count as on time.
const CLOSE_SLACK: Duration = Duration::from_secs(1);
/// A connection closed this soon after it was opened was refused, not timed out: less than
/// the time between two trickled bytes.
pub(crate) const REFUSED_WITHIN: Duration = Duration::from_secs(1);
/// Slow connections are opened in batches, so the listen backlog does not overflow and
/// delay connects by a SYN retransmission (1 s).
const OPEN_BATCH: usize = 50;
const OPEN_EVERY: Duration = Duration::from_millis(50);
/// How long the attacker sleeps in epoll_wait when no connection has anything to say: trickled
/// bytes that fall due meanwhile go out together, so thousands of connections cost the
/// attacker about a hundred wake-ups a second, not one per byte.
const TICK: Duration = Duration::from_millis(10);
/// Content-Length of the trickled body: a login body must fit under the server's 64 KiB cap
/// on JSON bodies, or the server answers 413 before reading it and the trickle tests nothing.
const BODY_LENGTH: usize = 60_000;

/// How a slow connection misbehaves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
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
    pub(crate) const TRICKLED: [Kind; 4] = [
        Kind::StalledHello,
        Kind::TrickledHello,
        Kind::TrickledHead,
        Kind::TrickledBody,
    ];

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Kind::StalledHello => "(a) TLS stalled after 5 bytes",
            Kind::TrickledHello => "(b) ClientHello trickled",
            Kind::TrickledHead => "(c) head trickled after TLS",
            Kind::TrickledBody => "(d) body trickled after head",
            Kind::OneAddress => "(a) from one address",
        }
    }

    /// Longest the server should take to close one.
    pub(crate) fn budget(self) -> Duration {
        match self {
            Kind::TrickledBody => BODY_CLOSE_BUDGET,
            _ => HEAD_DEADLINE + CLOSE_SLACK,
        }
    }
}

/// What the slow connections send, made once for all of them.
pub(crate) struct Script {
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
    pub(crate) fn new(server: &Server) -> anyhow::Result<Script> {
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

pub(crate) struct Slow {
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
pub(crate) fn attack(
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
pub(crate) struct Outcome {
    pub(crate) opened: usize,
    /// Seconds from open to the server's close, sorted.
    pub(crate) closed: Vec<f64>,
    pub(crate) refused_at_once: usize,
    pub(crate) not_closed: usize,
    pub(crate) connect_failed: usize,
    /// Still open at the end but never got as far as misbehaving (connecting, or in the TLS
    /// handshake): the attack did not do what it says for these.
    pub(crate) not_started: usize,
}

pub(crate) fn outcome(slow: &[Slow], kind: Kind) -> Outcome {
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
