//! The HTTP/1.1 layer: strict request-head parsing with httparse, framing checks, requests
//! with capped bodies and their deadlines, responses. The connection and response writing live
//! in `conn`, `HttpError` (the one mapping from failures to status codes and JSON) in `error`.
//!
//! No routing and no product logic here.

mod conn;
mod error;

pub use conn::{Conn, Deadlines, Socket, Stream};
pub use error::HttpError;

use crate::base::json::{self, Json};
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Largest request head (request line + headers) accepted.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most headers accepted in one request.
const MAX_HEADERS: usize = 64;
/// Largest JSON body accepted by API endpoints.
pub const MAX_JSON_BYTES: u64 = 64 * 1024;
/// An unread request body up to this size is drained to keep the connection alive.
const MAX_DRAIN_BYTES: u64 = 64 * 1024;

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
    /// Hand the connection over to another protocol after the 101 head; what the handler
    /// put here tells the new protocol's owner what was agreed (the HTTP layer never looks).
    Upgrade(Box<dyn std::any::Any + Send>),
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
