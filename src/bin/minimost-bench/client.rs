//! The benchmark's client side: starting the real server, HTTPS requests on keep-alive
//! connections, accounts, and WebSocket clients — all over loopback, like browsers would.

use crate::json::{self, Json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

pub const PASSWORD: &str = "Bench-Passw0rd!";

pub trait Io: Read + Write + Send {}
impl<T: Read + Write + Send> Io for T {}

/// A running server on a fresh data dir, killed on drop.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// Whether dropping the server removes its data dir.
    owns_data_dir: bool,
    tls: Arc<rustls::ClientConfig>,
}

impl Server {
    /// Starts `binary` on a new data dir with rate limits and the per-address connection
    /// limit lifted (the benchmark plays many people from one address).
    pub fn start(binary: &Path) -> anyhow::Result<Server> {
        Server::start_with(
            binary,
            r#"{"channels": ["general"], "rate_limits": {"login": [1000000, 1], "signup": [1000000, 1]}, "max_connections_per_ip": 0}"#,
        )
    }

    /// Starts `binary` on a new data dir holding `settings` as its settings.json.
    pub fn start_with(binary: &Path, settings: &str) -> anyhow::Result<Server> {
        let data_dir = std::env::temp_dir().join(format!(
            "minimost-bench-{}-{}",
            std::process::id(),
            crate::unique()
        ));
        std::fs::create_dir_all(&data_dir)?;
        std::fs::write(data_dir.join("settings.json"), settings)?;
        let mut server = Server::start_on(binary, &data_dir)?;
        server.owns_data_dir = true;
        Ok(server)
    }

    pub fn start_on(binary: &Path, data_dir: &Path) -> anyhow::Result<Server> {
        let mut child = Command::new(binary)
            .args(["--port", "0", "--data-dir"])
            .arg(data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
        let addr: SocketAddr = line
            .trim()
            .strip_prefix("listening on https://")
            .ok_or_else(|| anyhow::anyhow!("the server did not start: {line:?}"))?
            .parse()?;
        Ok(Server {
            child,
            addr,
            data_dir: data_dir.to_owned(),
            owns_data_dir: false,
            tls: client_config(&data_dir.join("ca.pem"))?,
        })
    }

    /// Stops the server as an admin would (SIGTERM) and waits for it to exit.
    pub fn terminate(mut self) -> anyhow::Result<()> {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait()?;
        anyhow::ensure!(status.success(), "the server exited with {status}");
        Ok(())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn connect(&self) -> anyhow::Result<Box<dyn Io>> {
        self.connect_with_timeout(Duration::from_secs(60))
    }

    fn connect_with_timeout(&self, read_timeout: Duration) -> anyhow::Result<Box<dyn Io>> {
        self.connect_from(None, read_timeout)
    }

    /// A TLS connection from `source` (another loopback address, so the server sees another
    /// client), or from the default address when `None`.
    pub fn connect_from(
        &self,
        source: Option<Ipv4Addr>,
        read_timeout: Duration,
    ) -> anyhow::Result<Box<dyn Io>> {
        let tcp = match source {
            Some(source) => tcp_from(source, self.addr, false)?,
            // Bounded like the reads: a server whose listen backlog is full would otherwise
            // leave a connect retrying SYNs for two minutes.
            None => TcpStream::connect_timeout(&self.addr, read_timeout)?,
        };
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(read_timeout))?;
        Ok(Box::new(rustls::StreamOwned::new(self.tls_client()?, tcp)))
    }

    /// A fresh client side of a TLS session with the server, for callers that drive the
    /// handshake and records themselves.
    pub fn tls_client(&self) -> anyhow::Result<rustls::ClientConnection> {
        Ok(rustls::ClientConnection::new(
            self.tls.clone(),
            "localhost".try_into()?,
        )?)
    }

    pub fn origin(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// Creates an account and returns a logged-in client.
    pub fn signup(&self, name: &str) -> anyhow::Result<Client> {
        let mut client = Client {
            conn: self.connect()?,
            cookie: String::new(),
            origin: self.origin(),
        };
        let body = Json::obj([
            ("username", name.into()),
            ("password", PASSWORD.into()),
            ("confirm_password", PASSWORD.into()),
        ]);
        let (status, _, cookie) = client.request("POST", "/api/signup", Some(&body))?;
        anyhow::ensure!(status == 201, "signup {name}: {status}");
        client.cookie = cookie.ok_or_else(|| anyhow::anyhow!("no session cookie"))?;
        Ok(client)
    }

    /// A second connection for a client's session (e.g. one per sender thread).
    pub fn client_for(&self, cookie: &str) -> anyhow::Result<Client> {
        Ok(Client {
            conn: self.connect()?,
            cookie: cookie.to_owned(),
            origin: self.origin(),
        })
    }

    /// A client on a connection from `source` (see `connect_from`) whose reads give up after
    /// `read_timeout`; `cookie` may be empty (not logged in).
    pub fn client_from(
        &self,
        source: Option<Ipv4Addr>,
        cookie: &str,
        read_timeout: Duration,
    ) -> anyhow::Result<Client> {
        Ok(Client {
            conn: self.connect_from(source, read_timeout)?,
            cookie: cookie.to_owned(),
            origin: self.origin(),
        })
    }

    /// Opens the live socket for a session and waits for `hello`.
    pub fn websocket(&self, cookie: &str) -> anyhow::Result<tungstenite::WebSocket<Box<dyn Io>>> {
        use tungstenite::client::IntoClientRequest;
        let mut request =
            format!("wss://localhost:{}/api/ws", self.addr.port()).into_client_request()?;
        request
            .headers_mut()
            .insert("Origin", self.origin().parse()?);
        request
            .headers_mut()
            .insert("Cookie", format!("minimost_session={cookie}").parse()?);
        // A short read timeout lets reader threads notice when to stop.
        let conn = self.connect_with_timeout(Duration::from_millis(250))?;
        let (mut ws, _) = tungstenite::client::client(request, conn)
            .map_err(|e| anyhow::anyhow!("websocket: {e}"))?;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match ws.read() {
                Ok(tungstenite::Message::Text(t)) if t.contains("\"hello\"") => return Ok(ws),
                Ok(other) => anyhow::bail!("expected hello, got {other:?}"),
                Err(tungstenite::Error::Io(e))
                    if std::time::Instant::now() < deadline
                        && matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                Err(e) => anyhow::bail!("websocket: {e}"),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.owns_data_dir {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

fn client_config(ca: &Path) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca)? {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// One keep-alive HTTPS connection with a session.
pub struct Client {
    conn: Box<dyn Io>,
    pub cookie: String,
    origin: String,
}

impl Client {
    /// Sends a request; returns (status, body, new session cookie if set).
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Json>,
    ) -> anyhow::Result<(u16, Vec<u8>, Option<String>)> {
        let body = body.map(Json::to_json_string).unwrap_or_default();
        let host = self.origin.trim_start_matches("https://");
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nOrigin: {}\r\n",
            self.origin
        );
        if !self.cookie.is_empty() {
            head.push_str(&format!("Cookie: minimost_session={}\r\n", self.cookie));
        }
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        ));
        head.push_str(&body);
        self.conn.write_all(head.as_bytes())?;
        self.conn.flush()?;
        read_response(&mut *self.conn)
    }

    /// Logs in with the benchmark's password; returns the status (the session replaces this
    /// client's on 200).
    pub fn login(&mut self, name: &str) -> anyhow::Result<u16> {
        let body = Json::obj([("username", name.into()), ("password", PASSWORD.into())]);
        let (status, _, cookie) = self.request("POST", "/api/login", Some(&body))?;
        if let (200, Some(cookie)) = (status, cookie) {
            self.cookie = cookie;
        }
        Ok(status)
    }

    /// Posts a message; returns the status.
    pub fn post(&mut self, channel: &str, text: &str) -> anyhow::Result<u16> {
        let path = format!("/api/channels/{}/messages", channel.replace(':', "%3A"));
        Ok(self
            .request("POST", &path, Some(&Json::obj([("text", text.into())])))?
            .0)
    }

    pub fn json(&mut self, method: &str, path: &str, body: Option<&Json>) -> anyhow::Result<Json> {
        let (status, body, _) = self.request(method, path, body)?;
        anyhow::ensure!(
            (200..300).contains(&status),
            "{method} {path}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        json::parse(&String::from_utf8_lossy(&body)).map_err(anyhow::Error::msg)
    }
}

fn read_response(conn: &mut dyn Io) -> anyhow::Result<(u16, Vec<u8>, Option<String>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut res = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(n) = res.parse(&buf)? {
            let status = res.code.unwrap_or(0);
            let mut len = 0usize;
            let mut cookie = None;
            for h in res.headers.iter() {
                if h.name.eq_ignore_ascii_case("content-length") {
                    len = std::str::from_utf8(h.value)?.parse()?;
                } else if h.name.eq_ignore_ascii_case("set-cookie") {
                    let value = std::str::from_utf8(h.value)?;
                    cookie = value
                        .split(';')
                        .next()
                        .and_then(|c| c.strip_prefix("minimost_session="))
                        .map(str::to_owned);
                }
            }
            let mut body = buf.split_off(n);
            while body.len() < len {
                let got = conn.read(&mut chunk)?;
                anyhow::ensure!(got > 0, "connection closed mid-body");
                body.extend_from_slice(&chunk[..got]);
            }
            return Ok((status, body, cookie));
        }
        let got = conn.read(&mut chunk)?;
        anyhow::ensure!(got > 0, "connection closed");
        buf.extend_from_slice(&chunk[..got]);
    }
}

/// A TCP connection to `target` from `source`, which must be one of this machine's addresses
/// (any of 127.0.0.0/8 on Linux). std cannot bind a client socket before connecting, hence
/// libc. With `nonblocking` the connection may still be in progress when this returns: wait
/// until the socket is writable, then `take_error` says how it went.
pub fn tcp_from(
    source: Ipv4Addr,
    target: SocketAddr,
    nonblocking: bool,
) -> std::io::Result<TcpStream> {
    let SocketAddr::V4(target) = target else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "an IPv4 server address is needed to connect from an IPv4 source",
        ));
    };
    let flags =
        libc::SOCK_STREAM | libc::SOCK_CLOEXEC | if nonblocking { libc::SOCK_NONBLOCK } else { 0 };
    // SAFETY: socket(2) has no preconditions; a non-negative result is a descriptor we own.
    let fd = unsafe { libc::socket(libc::AF_INET, flags, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is the fresh descriptor above, owned by nothing else.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let local = sockaddr_in(SocketAddrV4::new(source, 0));
    // SAFETY: local is a valid sockaddr_in and len is its size.
    if unsafe { libc::bind(fd, (&local as *const libc::sockaddr_in).cast(), len) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let remote = sockaddr_in(target);
    // SAFETY: as for bind.
    if unsafe { libc::connect(fd, (&remote as *const libc::sockaddr_in).cast(), len) } != 0 {
        let error = std::io::Error::last_os_error();
        if !(nonblocking && error.raw_os_error() == Some(libc::EINPROGRESS)) {
            return Err(error);
        }
    }
    Ok(TcpStream::from(socket))
}

fn sockaddr_in(addr: SocketAddrV4) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain data; all zeroes is a valid value of it.
    let mut raw: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    raw.sin_family = libc::AF_INET as libc::sa_family_t;
    raw.sin_port = addr.port().to_be();
    raw.sin_addr.s_addr = u32::from(*addr.ip()).to_be();
    raw
}

/// Resident memory of a process, in KiB (from /proc).
pub fn rss_kib(pid: u32) -> u64 {
    status_value(pid, "VmRSS:")
}

/// The anonymous part of it (heap, stacks): what the process itself allocated, as opposed to
/// mapped files such as the binary and shared libraries.
pub fn anon_kib(pid: u32) -> u64 {
    status_value(pid, "RssAnon:")
}

/// How many threads a process has.
pub fn thread_count(pid: u32) -> u64 {
    status_value(pid, "Threads:")
}

/// The most resident memory the process has had (since it started, or since its peak was
/// last reset through `/proc/PID/clear_refs`), in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    status_value(pid, "VmHWM:")
}

/// A numeric field of `/proc/PID/status` (memory fields are in KiB), 0 if unreadable.
fn status_value(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU time a process has used (user + system), in seconds.
/// Nanoseconds on a CPU, per live thread of `pid` (thread id → name, ns), from each thread's
/// `schedstat`: exact, unlike the 10 ms ticks of `stat`.
pub fn thread_cpu_ns(pid: u32) -> std::collections::HashMap<String, (String, u64)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Default::default();
    };
    tasks
        .flatten()
        .filter_map(|task| {
            let path = task.path();
            let ns = std::fs::read_to_string(path.join("schedstat"))
                .ok()?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            let name = std::fs::read_to_string(path.join("comm")).ok()?;
            let tid = task.file_name().to_string_lossy().into_owned();
            Some((tid, (name.trim().to_owned(), ns)))
        })
        .collect()
}

pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields
        .get(11)
        .and_then(|u| u.parse::<f64>().ok())
        .unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / hz.max(1.0)
}

/// Seconds since the Unix epoch, as the server's timestamps.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
