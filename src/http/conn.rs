//! The connection: its socket with read deadlines, TLS or plain, the bytes buffered past a
//! head, and the one place responses are serialised (with the security headers every response
//! carries). No parsing of requests and no product logic here.

use super::{Body, Response};
use std::io::{self, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
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
    pub(super) fn read_more(&mut self, deadline: Instant) -> io::Result<usize> {
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
            Body::Empty | Body::Upgrade(_) | Body::File { .. } => &[],
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
            crate::base::util::http_date(crate::base::util::now() as i64)
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
