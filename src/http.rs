//! The HTTP/1.1 layer: the connection stream (plain or rustls), strict request-head parsing
//! with httparse, capped bodies, responses with the security headers every response carries,
//! and `HttpError`, the one mapping from failures to status codes and JSON.
//!
//! No routing and no product logic here.

use crate::json::{self, Json};
use std::io::{self, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest request head (request line + headers) accepted.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most headers accepted in one request.
const MAX_HEADERS: usize = 64;
/// Largest JSON body accepted by API endpoints.
pub const MAX_JSON_BYTES: u64 = 64 * 1024;
/// An unread request body up to this size is drained to keep the connection alive.
const MAX_DRAIN_BYTES: u64 = 64 * 1024;

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; \
     font-src 'self'; manifest-src 'self'; worker-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'; object-src 'none'";

/// A client's TCP socket, with the deadline its reads must meet. A deadline bounds the whole
/// phase it covers (a TLS handshake and request head, or a body), not each read: a peer that
/// trickles one byte at a time, even inside one TLS record, is cut off when it passes.
pub struct Socket {
    /// Shared with the server's list of open connections, which shuts sockets down at exit; the
    /// descriptor closes when both have let go, so it is never reused while listed.
    tcp: Arc<TcpStream>,
    deadline: Option<Instant>,
}

impl Socket {
    pub fn new(tcp: Arc<TcpStream>) -> Socket {
        Socket {
            tcp,
            deadline: None,
        }
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(deadline) = self.deadline {
            let left = deadline
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())
                .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "read deadline passed"))?;
            self.tcp.set_read_timeout(Some(left))?;
        }
        (&*self.tcp).read(buf)
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.tcp).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self.tcp).flush()
    }
}

/// A client connection, with or without TLS.
pub enum Stream {
    Plain(Socket),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, Socket>>),
}

impl Stream {
    pub fn tcp(&self) -> &TcpStream {
        &self.socket().tcp
    }

    fn socket(&self) -> &Socket {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }

    /// Every read from now on must finish by `deadline` (`None`: each read waits as long as
    /// the socket's own timeout, or forever on a non-blocking socket's terms).
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        match self {
            Stream::Plain(s) => s.deadline = deadline,
            Stream::Tls(s) => s.sock.deadline = deadline,
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// How long a client may take over each part of a request.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// Silence allowed between requests on a kept-alive connection.
    pub idle: Duration,
    /// A new connection's TLS handshake and first request head together, and each later head
    /// from its first byte.
    pub head: Duration,
    /// A body may take `head` plus one second per `body_min_rate` bytes received so far, so a
    /// client must keep sending at least that fast on average.
    pub body_min_rate: u64,
}

impl Deadlines {
    pub const DEFAULT: Deadlines = Deadlines {
        idle: Duration::from_secs(30),
        head: Duration::from_secs(10),
        body_min_rate: 1024,
    };
}

/// A stream plus the bytes read past the end of the last request head.
pub struct Conn {
    pub stream: Stream,
    pub buffered: Vec<u8>,
    pub peer: IpAddr,
}

impl Conn {
    fn read_more(&mut self, deadline: Instant) -> io::Result<usize> {
        self.stream.set_deadline(Some(deadline));
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk)?;
        self.buffered.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Sends a response head and body. `head_only` is for HEAD requests.
    pub fn write_response(
        &mut self,
        response: &Response,
        head_only: bool,
        keep_alive: bool,
    ) -> io::Result<()> {
        let body: &[u8] = match &response.body {
            Body::Empty | Body::WebSocket(_) | Body::File { .. } => &[],
            Body::Bytes(b) => b,
            Body::Static(b) => b,
        };
        let body_len = match &response.body {
            Body::File { len, .. } => *len,
            _ => body.len() as u64,
        };
        let mut head = format!(
            "HTTP/1.1 {} {}\r\n",
            response.status,
            reason(response.status)
        );
        for (name, value) in &response.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!(
            "Date: {}\r\n",
            crate::util::http_date(crate::util::now() as i64)
        ));
        head.push_str(&format!(
            "Content-Security-Policy: {CONTENT_SECURITY_POLICY}\r\n"
        ));
        head.push_str(
            "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n\
             X-Frame-Options: DENY\r\n\
             Permissions-Policy: camera=(self), microphone=(self), display-capture=(self), geolocation=()\r\n",
        );
        if self.stream.is_tls() {
            head.push_str("Strict-Transport-Security: max-age=31536000\r\n");
        }
        if response.status != 101 {
            if response.status != 204 && response.status != 304 {
                head.push_str(&format!("Content-Length: {body_len}\r\n"));
            }
            head.push_str(if keep_alive {
                "Connection: keep-alive\r\n"
            } else {
                "Connection: close\r\n"
            });
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        if !head_only {
            out.extend_from_slice(body);
        }
        self.stream.write_all(&out)?;
        if let (Body::File { file, len }, false) = (&response.body, head_only) {
            let copied = io::copy(&mut Read::take(file, *len), &mut self.stream)?;
            if copied != *len {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file shrank while being sent",
                ));
            }
        }
        self.stream.flush()
    }
}

impl Conn {
    /// Closes after answering a request whose body was not read (e.g. 413): stop sending, then
    /// read and discard what the client still sends for a moment, so its TCP stack does not
    /// reset the connection and throw away our answer before the client reads it.
    pub fn linger_close(&mut self) {
        if let Stream::Tls(tls) = &mut self.stream {
            tls.conn.send_close_notify();
            let _ = tls.conn.complete_io(&mut tls.sock);
        }
        let tcp = self.stream.tcp();
        let _ = tcp.shutdown(std::net::Shutdown::Write);
        let deadline = Instant::now() + LINGER;
        let mut sink = [0u8; 16 * 1024];
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let _ = tcp.set_read_timeout(Some(left.max(Duration::from_millis(1))));
            match (&*tcp).read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
}

/// How long `linger_close` keeps draining a client.
const LINGER: Duration = Duration::from_secs(2);

/// Why a request head could not be read.
pub enum HeadError {
    /// The peer closed the connection (or went silent) before a request began: nothing to answer.
    Closed,
    /// A request began but is unusable: answer with this error and close.
    Bad(HttpError),
}

/// The parts of a request head a handler needs, owned.
pub struct Head {
    pub method: String,
    pub target: String,
    pub http11: bool,
    pub headers: Vec<(String, String)>,
}

/// Reads one request head; the bytes after it stay in `conn.buffered`. Its first byte must
/// arrive by `wait_until`, and the whole head by `wait_until` or `head_time` after that first
/// byte, whichever is sooner.
pub fn read_head(
    conn: &mut Conn,
    wait_until: Instant,
    head_time: Duration,
) -> Result<Head, HeadError> {
    let mut deadline = wait_until;
    let mut started = false;
    let mut scanned = 0;
    loop {
        let window = &conn.buffered[..conn.buffered.len().min(MAX_HEAD_BYTES + 4)];
        match find_head_end(window, scanned) {
            Ok(Some(end)) => {
                let head = parse_head(&conn.buffered[..end]).map_err(HeadError::Bad)?;
                conn.buffered.drain(..end);
                return Ok(head);
            }
            Ok(None) => scanned = window.len(),
            Err(e) => return Err(HeadError::Bad(e)),
        }
        if conn.buffered.len() > MAX_HEAD_BYTES {
            return Err(HeadError::Bad(HttpError::HeaderTooLarge));
        }
        let blank = conn.buffered.iter().all(|b| b.is_ascii_whitespace());
        if !started && !blank {
            started = true;
            deadline = deadline.min(Instant::now() + head_time);
        }
        match conn.read_more(deadline) {
            Ok(0) | Err(_) if blank => return Err(HeadError::Closed),
            Ok(0) => return Err(HeadError::Closed),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(HeadError::Bad(HttpError::Timeout))
            }
            Err(_) => return Err(HeadError::Closed),
            Ok(_) => {}
        }
    }
}

/// The length of the head at the start of `buf` (through its empty line), looking only at
/// bytes from `from` on (earlier ones were scanned before). Lines must end with CRLF: a bare
/// LF is refused rather than waited on.
pub(crate) fn find_head_end(buf: &[u8], from: usize) -> Result<Option<usize>, HttpError> {
    for i in from..buf.len() {
        if buf[i] != b'\n' {
            continue;
        }
        if i == 0 || buf[i - 1] != b'\r' {
            return Err(HttpError::BadRequest(
                "Malformed request: lines must end with CRLF".into(),
            ));
        }
        if i >= 3 && &buf[i - 3..=i] == b"\r\n\r\n" {
            return Ok(Some(i + 1));
        }
    }
    Ok(None)
}

pub(crate) fn parse_head(bytes: &[u8]) -> Result<Head, HttpError> {
    // Tolerate blank lines before a request (RFC 9112 §2.2).
    let start = bytes
        .iter()
        .position(|b| *b != b'\r' && *b != b'\n')
        .unwrap_or(0);
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(&bytes[start..]) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(HttpError::BadRequest("Incomplete request head".into()))
        }
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::HeaderTooLarge),
        Err(e) => return Err(HttpError::BadRequest(format!("Malformed request: {e}"))),
    }
    let method = req.method.unwrap_or_default().to_owned();
    let target = req.path.unwrap_or_default().to_owned();
    if !target.starts_with('/') {
        return Err(HttpError::BadRequest(
            "The request target must be an absolute path".into(),
        ));
    }
    let mut owned = Vec::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        let value = std::str::from_utf8(h.value)
            .map_err(|_| HttpError::BadRequest(format!("Header {} is not valid UTF-8", h.name)))?;
        owned.push((h.name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok(Head {
        method,
        target,
        http11: req.version == Some(1),
        headers: owned,
    })
}

/// What a head's framing headers say, once `check_framing` has found them unambiguous.
pub(crate) struct Framing {
    /// The declared body length (`Content-Length`, 0 when absent).
    pub body_len: u64,
    pub expect_continue: bool,
    /// The target without the query, still percent-encoded.
    pub path: String,
    pub query: String,
}

/// The framing checks of `Request::new`, apart from the connection: refuses ambiguous bodies
/// and headers, and query strings with a malformed escape.
pub(crate) fn check_framing(head: &Head) -> Result<Framing, HttpError> {
    fn values<'h>(headers: &'h [(String, String)], name: &'h str) -> impl Iterator<Item = &'h str> {
        headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    let header = |name: &'static str| values(&head.headers, name);
    if header("transfer-encoding").next().is_some() {
        return Err(HttpError::LengthRequired);
    }
    let mut lengths = header("content-length");
    let body_len = match lengths.next() {
        None => 0,
        Some(first) => {
            if lengths.any(|other| other != first)
                || first.is_empty()
                || !first.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(HttpError::BadRequest("Invalid Content-Length".into()));
            }
            first
                .parse()
                .map_err(|_| HttpError::BadRequest("Invalid Content-Length".into()))?
        }
    };
    if head.http11 && header("host").next().is_none() {
        return Err(HttpError::BadRequest("Missing Host header".into()));
    }
    // Headers that decide who may do what must not be ambiguous.
    for name in ["host", "origin", "sec-fetch-site", "cookie"] {
        if header(name).nth(1).is_some() {
            return Err(HttpError::BadRequest(format!(
                "The request has more than one {name} header"
            )));
        }
    }
    let expect_continue = header("expect").any(|v| v.eq_ignore_ascii_case("100-continue"));
    let (path, query) = match head.target.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (head.target.clone(), String::new()),
    };
    if !query_is_well_formed(&query) {
        return Err(HttpError::BadRequest(
            "The query string has a malformed %-escape or is not UTF-8".into(),
        ));
    }
    Ok(Framing {
        body_len,
        expect_continue,
        path,
        query,
    })
}

/// One request: its head and a reader for its body, borrowed from the connection.
pub struct Request<'c> {
    pub method: String,
    /// The path without the query, still percent-encoded.
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub peer: IpAddr,
    pub http11: bool,
    conn: &'c mut Conn,
    body_left: u64,
    expect_continue: bool,
    deadlines: Deadlines,
    /// When the head was read: the body's deadline counts from here.
    body_start: Instant,
    body_read: u64,
}

impl<'c> Request<'c> {
    /// Validates framing headers and wraps the head; refuses ambiguous bodies.
    pub fn new(
        head: Head,
        conn: &'c mut Conn,
        deadlines: Deadlines,
    ) -> Result<Request<'c>, HttpError> {
        let Framing {
            body_len: body_left,
            expect_continue,
            path,
            query,
        } = check_framing(&head)?;
        Ok(Request {
            method: head.method,
            path,
            query,
            headers: head.headers,
            peer: conn.peer,
            http11: head.http11,
            conn,
            body_left,
            expect_continue,
            deadlines,
            body_start: Instant::now(),
            body_read: 0,
        })
    }

    /// The first value of a header (names are compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the client asked to close the connection after this request.
    pub fn wants_close(&self) -> bool {
        let connection = self.header("connection").unwrap_or("").to_ascii_lowercase();
        let tokens: Vec<&str> = connection.split(',').map(str::trim).collect();
        if self.http11 {
            tokens.contains(&"close")
        } else {
            !tokens.contains(&"keep-alive")
        }
    }

    /// A query parameter, percent-decoded (`+` means space).
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(&k.replace('+', " "))? == name)
                .then(|| percent_decode(&v.replace('+', " ")))?
        })
    }

    /// The declared body length (`Content-Length`).
    pub fn body_len(&self) -> u64 {
        self.body_left
    }

    /// Reads the whole body, refusing (413) one larger than `cap` before reading it.
    pub fn read_body(&mut self, cap: u64) -> Result<Vec<u8>, HttpError> {
        if self.body_left > cap {
            return Err(HttpError::TooLarge(format!(
                "The request body is larger than {cap} bytes"
            )));
        }
        let mut body = Vec::with_capacity(self.body_left as usize);
        self.read_to_end(&mut body)
            .map_err(|e| HttpError::BadRequest(format!("Could not read the request body: {e}")))?;
        Ok(body)
    }

    /// Reads a JSON body (`Content-Type: application/json`, at most 64 KiB).
    pub fn json(&mut self) -> Result<Json, HttpError> {
        let content_type = self.header("content-type").unwrap_or("");
        let mime = content_type.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/json") {
            return Err(HttpError::UnsupportedMediaType);
        }
        let body = self.read_body(MAX_JSON_BYTES)?;
        let text = std::str::from_utf8(&body)
            .map_err(|_| HttpError::BadRequest("The request body is not valid UTF-8".into()))?;
        json::parse(text).map_err(HttpError::BadRequest)
    }

    /// Drains a small unread body so the connection can serve the next request; returns false
    /// when the connection must close instead.
    pub fn finish_body(&mut self) -> bool {
        if self.body_left == 0 {
            return true;
        }
        if self.body_left > MAX_DRAIN_BYTES || self.expect_continue {
            return false;
        }
        io::copy(self, &mut io::sink()).is_ok() && self.body_left == 0
    }
}

impl Read for Request<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.body_left == 0 || buf.is_empty() {
            return Ok(0);
        }
        if self.expect_continue {
            self.expect_continue = false;
            self.conn
                .stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            self.conn.stream.flush()?;
        }
        let want = buf
            .len()
            .min(usize::try_from(self.body_left).unwrap_or(usize::MAX));
        let n = if !self.conn.buffered.is_empty() {
            let n = want.min(self.conn.buffered.len());
            buf[..n].copy_from_slice(&self.conn.buffered[..n]);
            self.conn.buffered.drain(..n);
            n
        } else {
            let earned = Duration::from_secs_f64(
                self.body_read as f64 / self.deadlines.body_min_rate.max(1) as f64,
            );
            let deadline = (self.body_start + self.deadlines.head + earned)
                .min(Instant::now() + self.deadlines.idle);
            self.conn.stream.set_deadline(Some(deadline));
            let n = self.conn.stream.read(&mut buf[..want])?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the body ended early",
                ));
            }
            n
        };
        self.body_left -= n as u64;
        self.body_read += n as u64;
        Ok(n)
    }
}

/// Whether every name and value of a query string decodes, so no parameter is silently
/// dropped as absent.
fn query_is_well_formed(query: &str) -> bool {
    query.split('&').all(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        percent_decode(k).is_some() && percent_decode(v).is_some()
    })
}

/// Decodes `%XX` escapes; `None` for a bad escape or a result that is not UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // Two hex digits exactly: `from_str_radix` alone would also take `+1`.
            let hex = text
                .get(i + 1..i + 3)
                .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

pub enum Body {
    Empty,
    Bytes(Vec<u8>),
    Static(&'static [u8]),
    /// `len` bytes of a file, from its current position.
    File {
        file: std::fs::File,
        len: u64,
    },
    /// Switch the connection to the WebSocket protocol for this user after the 101 head.
    WebSocket(crate::ws::Upgrade),
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body,
}

impl Response {
    pub fn json(status: u16, value: &Json) -> Response {
        Response {
            status,
            headers: vec![
                ("Content-Type", "application/json".to_owned()),
                ("Cache-Control", "no-store".to_owned()),
            ],
            body: Body::Bytes(value.to_json_string().into_bytes()),
        }
    }

    pub fn no_content() -> Response {
        Response {
            status: 204,
            headers: vec![("Cache-Control", "no-store".to_owned())],
            body: Body::Empty,
        }
    }

    /// A 302 to a same-site path.
    pub fn redirect(location: &str) -> Response {
        Response {
            status: 302,
            headers: vec![
                ("Location", location.to_owned()),
                ("Cache-Control", "no-store".to_owned()),
            ],
            body: Body::Empty,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Response {
        self.headers.push((name, value));
        self
    }
}

/// Every way a request can fail, with one mapping to status and `{"error": …}`.
#[derive(Debug)]
pub enum HttpError {
    BadRequest(String),
    Unauthorized,
    BadCredentials,
    Forbidden(String),
    NotFound,
    /// 404 with a specific message.
    NotFoundWith(String),
    MethodNotAllowed(&'static [&'static str]),
    Conflict(String),
    LengthRequired,
    TooLarge(String),
    UnsupportedMediaType,
    Locked(String),
    TooMany {
        retry_after_secs: u64,
        message: String,
    },
    HeaderTooLarge,
    Timeout,
    Unavailable(String),
    Internal(anyhow::Error),
}

impl HttpError {
    pub fn status(&self) -> u16 {
        match self {
            HttpError::BadRequest(_) => 400,
            HttpError::Unauthorized | HttpError::BadCredentials => 401,
            HttpError::Forbidden(_) => 403,
            HttpError::NotFound | HttpError::NotFoundWith(_) => 404,
            HttpError::MethodNotAllowed(_) => 405,
            HttpError::Timeout => 408,
            HttpError::Conflict(_) => 409,
            HttpError::LengthRequired => 411,
            HttpError::TooLarge(_) => 413,
            HttpError::UnsupportedMediaType => 415,
            HttpError::Locked(_) => 423,
            HttpError::TooMany { .. } => 429,
            HttpError::HeaderTooLarge => 431,
            HttpError::Internal(_) => 500,
            HttpError::Unavailable(_) => 503,
        }
    }

    pub fn message(&self) -> String {
        match self {
            HttpError::BadRequest(m)
            | HttpError::Forbidden(m)
            | HttpError::Conflict(m)
            | HttpError::TooLarge(m)
            | HttpError::Locked(m)
            | HttpError::Unavailable(m)
            | HttpError::NotFoundWith(m)
            | HttpError::TooMany { message: m, .. } => m.clone(),
            HttpError::Unauthorized => "Not logged in".into(),
            HttpError::BadCredentials => "Invalid credentials".into(),
            HttpError::NotFound => "Not found".into(),
            HttpError::MethodNotAllowed(allowed) => {
                format!("Method not allowed; use {}", allowed.join(" or "))
            }
            HttpError::LengthRequired => {
                "Chunked request bodies are not supported; send a Content-Length".into()
            }
            HttpError::UnsupportedMediaType => {
                "Send the body as Content-Type: application/json".into()
            }
            HttpError::HeaderTooLarge => "The request headers are too large".into(),
            HttpError::Timeout => "The request took too long to arrive".into(),
            HttpError::Internal(_) => {
                "Internal server error; the details are in the server log".into()
            }
        }
    }

    pub fn into_response(self) -> Response {
        if let HttpError::Internal(e) = &self {
            eprintln!("error: {e:#}");
        }
        let mut response = Response::json(
            self.status(),
            &Json::obj([("error", Json::str(self.message()))]),
        );
        match self {
            HttpError::TooMany {
                retry_after_secs, ..
            } => {
                response
                    .headers
                    .push(("Retry-After", retry_after_secs.max(1).to_string()));
            }
            HttpError::MethodNotAllowed(allowed) => {
                response.headers.push(("Allow", allowed.join(", ")))
            }
            _ => {}
        }
        response
    }
}

impl From<anyhow::Error> for HttpError {
    fn from(e: anyhow::Error) -> HttpError {
        HttpError::Internal(e)
    }
}

impl From<rusqlite::Error> for HttpError {
    fn from(e: rusqlite::Error) -> HttpError {
        HttpError::Internal(e.into())
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        423 => "Locked",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_heads_strictly() {
        let head = parse_head(b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-A:  v \r\n\r\n").unwrap();
        assert_eq!(
            (head.method.as_str(), head.target.as_str(), head.http11),
            ("GET", "/a?b=1", true)
        );
        assert_eq!(head.headers[1], ("x-a".to_owned(), "v".to_owned()));
        assert!(parse_head(b"GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n").is_err());
        assert!(parse_head(b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n").is_err());
        assert!(parse_head(b"GET / HTTP/2.0\r\n\r\n").is_err());
        let many: String = (0..70).map(|i| format!("X-{i}: v\r\n")).collect();
        let err = parse_head(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes())
            .err()
            .unwrap();
        assert_eq!(err.status(), 431);
    }

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(
            percent_decode("dm%3Aalice%3Abob").as_deref(),
            Some("dm:alice:bob")
        );
        assert_eq!(percent_decode("%E2%9C%93").as_deref(), Some("✓"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%FF"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%+1"), None);
        assert_eq!(percent_decode("a%+fb"), None);
    }
}
