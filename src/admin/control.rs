//! The control socket: `<data dir>/control.sock`, a Unix socket (mode 0600, so only the
//! server's own user can connect) through which the admin subcommands ask a running server to
//! do writes on its writer thread — so a reset notice reaches the user live, a deleted user's
//! sockets close at once, and a backup gets a consistent cut. When no server runs, the
//! subcommands do the same work themselves (`run_locally`).
//!
//! Protocol: one JSON request line, one JSON answer line (`{"ok": …}` or `{"error": "…"}`).

use crate::api::ctx::Ctx;
use crate::base::json::{self, Json};
use crate::base::names::Username;
use crate::model::channels::ChannelId;
use crate::store::accounts::DeleteMode;
use crate::store::Writer;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const SOCKET_FILE: &str = "control.sock";
/// How long a backup may hold writes frozen.
const FREEZE_LIMIT: Duration = Duration::from_secs(30);

/// A request to the server.
#[derive(Debug, Clone)]
pub enum Request {
    /// Post `text` as a system notice into `dm:<user>:system`.
    SystemNotice {
        user: String,
        text: String,
    },
    DeleteUser {
        user: String,
        mode: DeleteMode,
    },
    /// Hold every write until the client says `thaw` (or goes away).
    Freeze,
    /// Where the server answers: `{"url": "https://127.0.0.1:5000", "listen": "0.0.0.0:5000"}`
    /// (for `healthcheck`, and the links `reset-password` prints).
    Where,
    /// One cleanup pass with these retention periods.
    Clean {
        retention: crate::admin::cleanup::Retention,
        dry_run: bool,
    },
}

impl Request {
    fn to_json(&self) -> Json {
        match self {
            Request::SystemNotice { user, text } => Json::obj([
                ("op", "system_notice".into()),
                ("user", user.as_str().into()),
                ("text", text.as_str().into()),
            ]),
            Request::DeleteUser { user, mode } => Json::obj([
                ("op", "delete_user".into()),
                ("user", user.as_str().into()),
                (
                    "mode",
                    if *mode == DeleteMode::Hard {
                        "hard"
                    } else {
                        "soft"
                    }
                    .into(),
                ),
            ]),
            Request::Freeze => Json::obj([("op", "freeze".into())]),
            Request::Where => Json::obj([("op", "where".into())]),
            Request::Clean { retention, dry_run } => Json::obj([
                ("op", "clean".into()),
                ("image_days", u64::from(retention.image_days).into()),
                ("file_days", u64::from(retention.file_days).into()),
                ("message_days", u64::from(retention.message_days).into()),
                (
                    "session_idle_days",
                    u64::from(retention.session_idle_days).into(),
                ),
                ("uploads_cap_mb", u64::from(retention.uploads_cap_mb).into()),
                (
                    "messages_cap_mb",
                    u64::from(retention.messages_cap_mb).into(),
                ),
                ("dry_run", Json::Bool(*dry_run)),
            ]),
        }
    }

    fn from_json(v: &Json) -> Option<Request> {
        let s = |k: &str| v.get(k).and_then(Json::as_str).map(str::to_owned);
        Some(match s("op")?.as_str() {
            "system_notice" => Request::SystemNotice {
                user: s("user")?,
                text: s("text")?,
            },
            "delete_user" => Request::DeleteUser {
                user: s("user")?,
                mode: if s("mode")? == "hard" {
                    DeleteMode::Hard
                } else {
                    DeleteMode::Soft
                },
            },
            "freeze" => Request::Freeze,
            "where" => Request::Where,
            "clean" => {
                let days = |k: &str| {
                    v.get(k)
                        .and_then(Json::as_u64)
                        .and_then(|n| u32::try_from(n).ok())
                };
                Request::Clean {
                    retention: crate::admin::cleanup::Retention {
                        image_days: days("image_days")?,
                        file_days: days("file_days")?,
                        message_days: days("message_days")?,
                        session_idle_days: days("session_idle_days")?,
                        uploads_cap_mb: days("uploads_cap_mb").unwrap_or(0),
                        messages_cap_mb: days("messages_cap_mb").unwrap_or(0),
                    },
                    dry_run: matches!(v.get("dry_run"), Some(Json::Bool(true))),
                }
            }
            _ => return None,
        })
    }
}

/// Does a request's work on `w` (the server's writer, or a local one). Not for `Freeze`.
pub fn run_on(w: &mut Writer, request: &Request) -> anyhow::Result<Json> {
    match request {
        Request::SystemNotice { user, text } => {
            let channel = ChannelId::parse(&format!("dm:{user}:system"))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            w.post_system(&channel, text, None)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(Json::Bool(true))
        }
        Request::DeleteUser { user, mode } => {
            let name = Username::parse_existing(user).map_err(anyhow::Error::msg)?;
            let report = crate::store::accounts::delete_account(w, &name, *mode)?;
            w.core
                .hub
                .broadcast(&std::sync::Arc::from(r#"{"type":"channels"}"#));
            Ok(Json::obj([
                ("databases", Json::Num(report.databases as f64)),
                ("messages", Json::Num(report.messages as f64)),
                ("files", Json::Num(report.files as f64)),
            ]))
        }
        Request::Freeze => anyhow::bail!("freeze needs a running server"),
        Request::Where => anyhow::bail!("no server is running on this data dir"),
        Request::Clean { .. } => anyhow::bail!("clean runs beside the writer, not on it"),
    }
}

/// Binds the control socket, replacing a stale one. `None` (with a warning) if it cannot.
pub fn bind(data_dir: &Path) -> Option<UnixListener> {
    let path = data_dir.join(SOCKET_FILE);
    if UnixStream::connect(&path).is_ok() {
        crate::log!(
            "warning: another minimost is serving this data dir ({} answers)",
            path.display()
        );
        return None;
    }
    let _ = std::fs::remove_file(&path);
    match UnixListener::bind(&path) {
        Ok(listener) => Some(listener),
        Err(e) => {
            crate::log!("warning: no control socket at {} ({e}); admin commands will work without live updates", path.display());
            None
        }
    }
}

/// Serves control requests until the server stops; removes the socket file at the end.
pub fn serve(ctx: &Ctx, listener: UnixListener) {
    let _ = listener.set_nonblocking(true);
    while !ctx.stop.is_stopped() {
        let _ = ctx.stop.wait_fd(listener.as_raw_fd(), libc::POLLIN);
        while let Ok((stream, _)) = listener.accept() {
            if let Err(e) = handle(ctx, stream) {
                crate::log!("warning: control request failed: {e:#}");
            }
        }
    }
    let _ = std::fs::remove_file(ctx.data_dir.join(SOCKET_FILE));
}

fn handle(ctx: &Ctx, stream: UnixStream) -> anyhow::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let request = json::parse(line.trim())
        .ok()
        .and_then(|v| Request::from_json(&v))
        .ok_or_else(|| anyhow::anyhow!("unreadable control request"))?;
    let mut stream = stream;
    if let Request::Freeze = request {
        // The writer answers "frozen" and then waits for the client inside its task, so no
        // write happens until the client's snapshots are taken.
        ctx.store
            .run(move |_w| {
                let _ = writeln!(
                    stream,
                    "{}",
                    Json::obj([("ok", "frozen".into())]).to_json_string()
                );
                let _ = stream.set_read_timeout(Some(FREEZE_LIMIT));
                let mut thaw = String::new();
                let _ = reader.read_line(&mut thaw);
                Ok(())
            })
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        return Ok(());
    }
    if let Request::Where = request {
        let url = ctx.local_url.get().cloned().unwrap_or_default();
        let listen = ctx.listen.get().map(|a| a.to_string()).unwrap_or_default();
        let reply = Json::obj([(
            "ok",
            Json::obj([("url", url.into()), ("listen", listen.into())]),
        )]);
        writeln!(stream, "{}", reply.to_json_string())?;
        return Ok(());
    }
    if let Request::Clean { retention, dry_run } = request {
        // The purge hands its chunks to the writer itself, so it runs here, not on it.
        let mut lines = Vec::new();
        let report = crate::admin::cleanup::run_once(ctx, retention, dry_run, &mut |line| {
            lines.push(Json::str(line))
        });
        let reply = Json::obj([(
            "ok",
            Json::obj([
                ("lines", Json::Arr(lines)),
                ("summary", report.summary(dry_run).into()),
                ("errors", (report.errors.len() as u64).into()),
            ]),
        )]);
        writeln!(stream, "{}", reply.to_json_string())?;
        return Ok(());
    }
    let answer = ctx.store.run(move |w| Ok(run_on(w, &request)));
    let reply = match answer {
        Ok(Ok(value)) => Json::obj([("ok", value)]),
        Ok(Err(e)) => Json::obj([("error", Json::str(format!("{e:#}")))]),
        Err(e) => Json::obj([("error", Json::str(e.to_string()))]),
    };
    writeln!(stream, "{}", reply.to_json_string())?;
    Ok(())
}

/// Where the server running on `data_dir` answers: its local URL (`https://127.0.0.1:5000`)
/// and its listen address (`0.0.0.0:5000`); `None` when no server runs or it does not say.
pub fn whereabouts(data_dir: &Path) -> Option<(String, String)> {
    let answer = Client::connect(data_dir)?.call(&Request::Where).ok()?;
    let field = |k: &str| answer.get(k).and_then(Json::as_str).map(str::to_owned);
    Some((field("url")?, field("listen")?)).filter(|(url, _)| !url.is_empty())
}

/// A connection to a running server's control socket.
pub struct Client {
    reader: BufReader<UnixStream>,
    stream: UnixStream,
}

impl Client {
    /// Connects if a server is running on `data_dir`.
    pub fn connect(data_dir: &Path) -> Option<Client> {
        let stream = UnixStream::connect(socket_path(data_dir)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .ok()?;
        let reader = BufReader::new(stream.try_clone().ok()?);
        Some(Client { reader, stream })
    }

    /// Sends a request and returns the server's answer.
    pub fn call(&mut self, request: &Request) -> anyhow::Result<Json> {
        writeln!(self.stream, "{}", request.to_json().to_json_string())?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let answer = json::parse(line.trim())
            .map_err(|e| anyhow::anyhow!("the server's answer is unreadable: {e}"))?;
        match (answer.get("ok"), answer.get("error").and_then(Json::as_str)) {
            (Some(value), _) => Ok(value.clone()),
            (None, Some(error)) => anyhow::bail!("{error}"),
            _ => anyhow::bail!("the server's answer is unreadable"),
        }
    }

    /// Waits as long as the server needs (a cleanup of a large data dir takes a while).
    pub fn patient(self) -> Client {
        let _ = self.stream.set_read_timeout(None);
        self
    }

    /// Ends a freeze.
    pub fn thaw(mut self) {
        let _ = writeln!(self.stream, "thaw");
    }
}

fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_FILE)
}

/// Runs `request` on the running server if there is one, else on a local writer over the data
/// dir. The boolean says whether a server did it (so live clients were told).
pub fn run(data_dir: &Path, request: Request) -> anyhow::Result<(Json, bool)> {
    if let Some(mut client) = Client::connect(data_dir) {
        return Ok((client.call(&request)?, true));
    }
    let ctx = crate::store::core::Core::open_for_admin(data_dir)?;
    crate::store::repair(&ctx)?;
    let mut writer = Writer::open(&ctx)?;
    Ok((run_on(&mut writer, &request)?, false))
}
