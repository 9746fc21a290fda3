//! Starts the real `minimost` binary on port 0 with a fresh temp data dir, and talks to it like
//! a browser: HTTPS (trusting the server's own `ca.pem`), cookies, and WebSockets.

use crate::json::{self, Json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "Passw0rd!";

/// A directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let path =
            std::env::temp_dir().join(format!("minimost-it-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How to start a server.
#[derive(Default, Clone)]
pub struct Options {
    pub settings: Option<String>,
    pub no_tls: bool,
    pub env: Vec<(String, String)>,
}

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub tls: bool,
    data_dir: PathBuf,
    _temp: Option<Arc<TempDir>>,
    stderr: Arc<Mutex<String>>,
    client_config: Option<Arc<rustls::ClientConfig>>,
}

/// The server binary under test: the one cargo built, or `MINIMOST_TEST_BINARY` (e.g. the
/// static musl build, to test the artifact that ships).
pub fn binary() -> &'static str {
    static BINARY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| {
        std::env::var("MINIMOST_TEST_BINARY")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_minimost").to_owned())
    })
}

/// What a subcommand printed and how it ended.
pub struct Cli {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `minimost <args> --data-dir <data_dir>` to completion.
pub fn cli(data_dir: &Path, args: &[&str]) -> Cli {
    let out = Command::new(binary())
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("run minimost");
    Cli {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs the `sqlite3` command-line tool on a database, returning its output (asserting success).
pub fn sqlite3(db: &Path, sql: &str) -> String {
    sqlite3_with(db, sql, &[])
}

/// `sqlite3`, waiting up to 5 s for a lock (`.timeout`): for reading a database the server may
/// be upgrading at that moment (it upgrades every database in the background at start).
pub fn sqlite3_patient(db: &Path, sql: &str) -> String {
    sqlite3_with(db, sql, &["-cmd", ".timeout 5000"])
}

fn sqlite3_with(db: &Path, sql: &str, options: &[&str]) -> String {
    let out = Command::new("sqlite3")
        .args(options)
        .arg(db)
        .arg(sql)
        .output()
        .expect("sqlite3 is installed (tests/run installs it)");
    assert!(
        out.status.success(),
        "sqlite3 {} {sql:?}: {}",
        db.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> Server {
        let temp = Arc::new(TempDir::new());
        let dir = temp.path().to_owned();
        let mut server = Server::start_in(&dir, options).expect("server starts");
        server._temp = Some(temp);
        server
    }

    /// Starts on an existing data dir (kept after the server stops); `Err(stderr)` if the
    /// server exits before listening.
    pub fn start_in(data_dir: &Path, options: Options) -> Result<Server, String> {
        if let Some(settings) = &options.settings {
            std::fs::create_dir_all(data_dir).unwrap();
            std::fs::write(data_dir.join("settings.json"), settings).unwrap();
        }
        let mut cmd = Command::new(binary());
        cmd.args(["--port", "0", "--data-dir"]).arg(data_dir);
        if options.no_tls {
            cmd.arg("--no-tls");
        }
        // Tests run many servers at once: none takes the STUN port unless a test asks.
        cmd.env("MINIMOST_STUN_PORT", "0");
        for (k, v) in &options.env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn minimost");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let Some(url) = line.trim().strip_prefix("listening on ") else {
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(50));
            let err = stderr.lock().unwrap().clone();
            return Err(err);
        };
        let tls = url.starts_with("https://");
        let addr: SocketAddr = url.split("://").nth(1).unwrap().parse().unwrap();
        let client_config = tls.then(|| client_config(&data_dir.join("ca.pem")));
        Ok(Server {
            child,
            addr,
            tls,
            data_dir: data_dir.to_owned(),
            _temp: None,
            stderr,
            client_config,
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits (up to 5 s) until the server's stderr contains `text`; returns all of it.
    pub fn wait_for_stderr(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let stderr = self.stderr();
            if stderr.contains(text) || Instant::now() > deadline {
                return stderr;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn origin(&self) -> String {
        format!(
            "{}://localhost:{}",
            if self.tls { "https" } else { "http" },
            self.addr.port()
        )
    }

    /// A raw connection (TLS when the server uses it).
    pub fn connect(&self) -> Box<dyn ReadWrite> {
        self.connect_with_tcp().0
    }

    /// A raw connection plus a handle on its TCP socket (for timeouts and shutdown).
    pub fn connect_with_tcp(&self) -> (Box<dyn ReadWrite>, TcpStream) {
        self.wrap(TcpStream::connect(self.addr).unwrap())
    }

    /// A connection from another loopback address (all of 127.0.0.0/8 is this machine), as a
    /// second client host would make; TLS when the server uses it.
    pub fn connect_from(&self, from: std::net::Ipv4Addr) -> (Box<dyn ReadWrite>, TcpStream) {
        self.wrap(tcp_from(from, self.addr))
    }

    /// TLS over `tcp` when the server uses it, plus a handle on the socket.
    fn wrap(&self, tcp: TcpStream) -> (Box<dyn ReadWrite>, TcpStream) {
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let handle = tcp.try_clone().unwrap();
        let stream: Box<dyn ReadWrite> = match &self.client_config {
            Some(config) => {
                let name = "localhost".try_into().unwrap();
                let conn = rustls::ClientConnection::new(config.clone(), name).unwrap();
                Box::new(rustls::StreamOwned::new(conn, tcp))
            }
            None => Box::new(tcp),
        };
        (stream, handle)
    }

    /// The bytes of a TLS ClientHello a browser would send this server first.
    pub fn client_hello(&self) -> Vec<u8> {
        let config = self.client_config.clone().expect("a TLS server");
        let mut conn =
            rustls::ClientConnection::new(config, "localhost".try_into().unwrap()).unwrap();
        let mut hello = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut hello).unwrap();
        }
        hello
    }

    /// Sends one request on a new connection and reads the response.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let mut stream = self.connect();
        send_request(&mut *stream, self.addr.port(), method, path, headers, body);
        read_response(&mut *stream).expect("a response")
    }

    pub fn client(&self) -> Client<'_> {
        Client {
            server: self,
            cookie: None,
        }
    }

    /// Signs up `name` with the standard password and returns its logged-in client.
    pub fn signup(&self, name: &str) -> Client<'_> {
        let mut client = self.client();
        let body = Json::obj([
            ("username", name.into()),
            ("password", PASSWORD.into()),
            ("confirm_password", PASSWORD.into()),
        ]);
        let res = client.post("/api/signup", &body);
        assert_eq!(res.status, 201, "signup {name}: {}", res.text());
        client
    }

    /// Sends SIGTERM and waits; returns the exit status and how long it took.
    pub fn terminate(mut self) -> (std::process::ExitStatus, Duration) {
        let start = Instant::now();
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        (status, start.elapsed())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub trait ReadWrite: Read + Write + Send {}
impl<T: Read + Write + Send> ReadWrite for T {}

/// Moves `message` (as the API returned it) `days` into the past in each of `users`' copies, as
/// time would; the server must not be writing those databases meanwhile.
pub fn age_message(server: &Server, users: &[&str], message: &Json, days: u32) {
    let ts = message
        .get("ts")
        .and_then(Json::as_f64)
        .expect("a message with a ts");
    for user in users {
        let db =
            rusqlite::Connection::open(server.data_dir().join(format!("users/{user}.db"))).unwrap();
        db.execute(
            "UPDATE messages SET ts = ts - ?1 * 86400 WHERE ts = ?2",
            rusqlite::params![days, ts],
        )
        .unwrap();
    }
}

/// A plain TCP connection to `to` from the loopback address `from`.
pub fn tcp_from(from: std::net::Ipv4Addr, to: SocketAddr) -> TcpStream {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(to) = to else {
        panic!("the test server listens on IPv4")
    };
    let sockaddr = |ip: std::net::Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: plain socket calls on a fresh descriptor that the TcpStream then owns, with
    // sockaddr_in values that live across each call.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let stream = TcpStream::from_raw_fd(fd);
        let local = sockaddr(from, 0);
        let bound = libc::bind(fd, (&local as *const libc::sockaddr_in).cast(), len);
        assert_eq!(bound, 0, "bind {from}: {}", std::io::Error::last_os_error());
        let remote = sockaddr(*to.ip(), to.port());
        let connected = libc::connect(fd, (&remote as *const libc::sockaddr_in).cast(), len);
        assert_eq!(connected, 0, "connect: {}", std::io::Error::last_os_error());
        stream
    }
}

pub fn client_config(ca: &Path) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca).expect("ca.pem exists") {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

pub fn send_request(
    stream: &mut dyn ReadWrite,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) {
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: localhost:{port}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer (413, 401…) and close before reading a large body.
    let _ = stream.write_all(body).and_then(|()| stream.flush());
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Json {
        json::parse(&self.text()).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The `error` message of a JSON error response.
    pub fn error(&self) -> String {
        self.json()
            .get("error")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned()
    }
}

/// Reads one response; `None` if the connection closed first.
pub fn read_response(stream: &mut dyn ReadWrite) -> Option<Response> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (status, headers, head_len) = loop {
        let mut parsed = [httparse::EMPTY_HEADER; 64];
        let mut res = httparse::Response::new(&mut parsed);
        if let Ok(httparse::Status::Complete(n)) = res.parse(&buf) {
            let headers = res
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_owned(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect::<Vec<_>>();
            break (res.code.unwrap(), headers, n);
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let mut body = buf.split_off(head_len);
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    while body.len() < len {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    Some(Response {
        status,
        headers,
        body,
    })
}

/// A browser-like client: same-origin headers and a cookie jar of one session cookie.
pub struct Client<'s> {
    pub server: &'s Server,
    pub cookie: Option<String>,
}

impl Client<'_> {
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Response {
        let origin = self.server.origin();
        let cookie = self
            .cookie
            .as_ref()
            .map(|c| format!("minimost_session={c}"));
        let mut headers = vec![("Origin", origin.as_str())];
        if let Some(cookie) = &cookie {
            headers.push(("Cookie", cookie));
        }
        if let Some(ct) = content_type {
            headers.push(("Content-Type", ct));
        }
        let res = self.server.request(method, path, &headers, body);
        if let Some(set) = res.header("set-cookie") {
            let value = set
                .split(';')
                .next()
                .unwrap()
                .trim_start_matches("minimost_session=");
            self.cookie = (!value.is_empty()).then(|| value.to_owned());
        }
        res
    }

    /// POST /api/uploads with raw bytes.
    pub fn upload(&mut self, original: &str, bytes: &[u8]) -> Response {
        let origin = self.server.origin();
        let cookie = format!("minimost_session={}", self.cookie.as_deref().unwrap_or(""));
        let name = enc(original);
        let headers = [
            ("Origin", origin.as_str()),
            ("Cookie", cookie.as_str()),
            ("Content-Type", "application/octet-stream"),
            ("X-Filename", name.as_str()),
        ];
        self.server.request("POST", "/api/uploads", &headers, bytes)
    }

    /// Sends a request with extra headers (and the session cookie).
    pub fn get_with(&mut self, path: &str, extra: &[(&str, &str)]) -> Response {
        let cookie = format!("minimost_session={}", self.cookie.as_deref().unwrap_or(""));
        let mut headers = vec![("Cookie", cookie.as_str())];
        headers.extend_from_slice(extra);
        self.server.request("GET", path, &headers, b"")
    }

    pub fn get(&mut self, path: &str) -> Response {
        self.send("GET", path, None, b"")
    }

    pub fn post(&mut self, path: &str, body: &Json) -> Response {
        self.send(
            "POST",
            path,
            Some("application/json"),
            body.to_json_string().as_bytes(),
        )
    }

    pub fn patch(&mut self, path: &str, body: &Json) -> Response {
        self.send(
            "PATCH",
            path,
            Some("application/json"),
            body.to_json_string().as_bytes(),
        )
    }

    pub fn put(&mut self, path: &str, body: &Json) -> Response {
        self.send(
            "PUT",
            path,
            Some("application/json"),
            body.to_json_string().as_bytes(),
        )
    }

    pub fn delete(&mut self, path: &str) -> Response {
        self.send("DELETE", path, None, b"")
    }

    /// Posts `text` to `channel` and returns the created message (asserting 201).
    pub fn say(&mut self, channel: &str, text: &str) -> Json {
        let res = self.post(
            &format!("/api/channels/{}/messages", enc(channel)),
            &Json::obj([("text", text.into())]),
        );
        assert_eq!(res.status, 201, "posting to {channel}: {}", res.text());
        res.json()
    }

    /// The messages of `channel` (first page, oldest first).
    pub fn messages(&mut self, channel: &str) -> Vec<Json> {
        let res = self.get(&format!("/api/channels/{}/messages", enc(channel)));
        assert_eq!(res.status, 200, "listing {channel}: {}", res.text());
        match res.json() {
            Json::Arr(items) => items,
            other => panic!("not a list: {other:?}"),
        }
    }

    pub fn login(&mut self, name: &str, password: &str) -> Response {
        self.post(
            "/api/login",
            &Json::obj([("username", name.into()), ("password", password.into())]),
        )
    }

    /// Opens the live socket and checks the `hello` frame.
    pub fn ws(&self) -> Ws {
        let mut ws = self
            .try_ws(&self.server.origin())
            .expect("websocket upgrade");
        let hello = ws.next_event(Duration::from_secs(5)).expect("hello");
        assert_eq!(hello.get("type").and_then(Json::as_str), Some("hello"));
        ws
    }

    pub fn try_ws(&self, origin: &str) -> Result<Ws, Response> {
        use tungstenite::client::IntoClientRequest;
        let scheme = if self.server.tls { "wss" } else { "ws" };
        let url = format!("{scheme}://localhost:{}/api/ws", self.server.addr.port());
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("Origin", origin.parse().unwrap());
        if let Some(c) = &self.cookie {
            request
                .headers_mut()
                .insert("Cookie", format!("minimost_session={c}").parse().unwrap());
        }
        let (stream, tcp) = self.server.connect_with_tcp();
        match tungstenite::client::client(request, stream) {
            Ok((socket, _)) => Ok(Ws { socket, tcp }),
            Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(res))) => {
                Err(Response {
                    status: res.status().as_u16(),
                    headers: vec![],
                    body: res.body().clone().unwrap_or_default(),
                })
            }
            Err(e) => panic!("websocket handshake failed: {e}"),
        }
    }
}

/// Percent-encodes a path segment (channel ids contain `:`).
pub fn enc(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A string field of a JSON object, or "".
pub fn s<'a>(v: &'a Json, key: &str) -> &'a str {
    v.get(key).and_then(Json::as_str).unwrap_or("")
}

pub struct Ws {
    pub socket: tungstenite::WebSocket<Box<dyn ReadWrite>>,
    tcp: TcpStream,
}

impl Ws {
    /// The next JSON event within `timeout`, or `None` on timeout or close.
    pub fn next_event(&mut self, timeout: Duration) -> Option<Json> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            self.set_timeout(left);
            match self.socket.read() {
                Ok(tungstenite::Message::Text(text)) => return Some(json::parse(&text).unwrap()),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    /// Waits for the next event of `kind`, skipping others.
    pub fn expect_event(&mut self, kind: &str) -> Json {
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.next_event(left) {
                Some(event) if event.get("type").and_then(Json::as_str) == Some(kind) => {
                    return event
                }
                Some(_) => continue,
                None => break,
            }
        }
        panic!("no {kind} event within 5 s");
    }

    /// Asserts no event of `kind` arrives within `wait` (other events are skipped).
    pub fn expect_no_event(&mut self, kind: &str, wait: Duration) {
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.next_event(left) {
                Some(event) if event.get("type").and_then(Json::as_str) == Some(kind) => {
                    panic!("unexpected {kind} event: {}", event.to_json_string())
                }
                Some(_) => continue,
                None => return,
            }
        }
    }

    /// Every event until none arrives for `quiet`, and whether the socket is still open then
    /// (false once the server closed it).
    pub fn events_until_quiet(&mut self, quiet: Duration) -> (Vec<Json>, bool) {
        let mut events = Vec::new();
        loop {
            self.set_timeout(quiet);
            match self.socket.read() {
                Ok(tungstenite::Message::Text(text)) => events.push(json::parse(&text).unwrap()),
                Ok(tungstenite::Message::Close(_)) => return (events, false),
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return (events, true)
                }
                Err(_) => return (events, false),
            }
        }
    }

    pub fn send(&mut self, event: &Json) {
        self.socket
            .send(tungstenite::Message::Text(event.to_json_string()))
            .unwrap();
    }

    fn set_timeout(&mut self, timeout: Duration) {
        let _ = self
            .tcp
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))));
    }
}

/// Conversation `id` as the caller's `GET /api/channels` lists it.
pub fn conversation(client: &mut Client, id: &str) -> Json {
    let all = client.get("/api/channels").json();
    for group in ["public", "private", "dms"] {
        if let Some(Json::Arr(items)) = all.get(group) {
            if let Some(item) = items
                .iter()
                .find(|i| i.get("id").and_then(Json::as_str) == Some(id))
            {
                return item.clone();
            }
        }
    }
    panic!("{id} is not in {}", all.to_json_string())
}

/// A count (`unread`, `mentions`, `pins`) of conversation `id` for the caller.
pub fn count(client: &mut Client, id: &str, key: &str) -> u64 {
    conversation(client, id)
        .get(key)
        .and_then(Json::as_u64)
        .unwrap_or_else(|| panic!("no {key} for {id}"))
}
