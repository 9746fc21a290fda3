//! Entry points for the fuzz targets in `fuzz/`: each takes arbitrary bytes and runs them
//! through the same code the server runs on request data, then checks the properties that code
//! promises (a value written as JSON reads back equal, a checked head frames the same whether
//! it arrives at once or through a socket, …). They must never panic: a panic is a finding.
//! Nothing here is used by the server itself; `cargo test` replays the kept corpora and every
//! crashing input through them (see docs/fuzzing.md).

use crate::base::json::{self, Json};
use crate::base::names::Username;
use crate::http::{self, Conn, HeadError, HttpError, Socket, Stream, MAX_HEAD_BYTES};
use crate::model::channels::ChannelId;
use std::io::{self, Cursor, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A request head as a client sends it: found with `find_head_end`, parsed with `parse_head`,
/// its framing headers checked as `Request::new` checks them, and the same bytes read by
/// `read_head` from a real socket, which must come to the same answer.
pub fn http_head(data: &[u8]) {
    // read_head never reads more than a head's limit plus one 4 KiB chunk.
    let data = &data[..data.len().min(MAX_HEAD_BYTES + 8 * 1024)];
    let window = &data[..data.len().min(MAX_HEAD_BYTES + 4)];
    let (expected, end) = match http::find_head_end(window, 0) {
        Ok(Some(end)) => {
            let outcome = match http::parse_head(&data[..end]) {
                Ok(head) => {
                    check_framing(&head);
                    describe_head(&head)
                }
                Err(e) => describe_error(&e),
            };
            (outcome, end)
        }
        Ok(None) if data.len() > MAX_HEAD_BYTES => (describe_error(&HttpError::HeaderTooLarge), 0),
        Ok(None) => ("closed".to_owned(), 0),
        Err(e) => (describe_error(&e), 0),
    };

    let (mut conn, mut client) = conn_pair();
    client
        .write_all(data)
        .expect("a socket pair buffers a request head");
    client
        .shutdown(Shutdown::Write)
        .expect("a socket pair can be shut down");
    let far = Instant::now() + Duration::from_secs(60);
    let read = match http::read_head(&mut conn, far, Duration::from_secs(60)) {
        Ok(head) => {
            assert!(
                data[end..].starts_with(&conn.buffered),
                "read_head kept bytes that do not follow the head"
            );
            describe_head(&head)
        }
        Err(HeadError::Bad(e)) => describe_error(&e),
        Err(HeadError::Closed) => "closed".to_owned(),
    };
    assert_eq!(
        read, expected,
        "read_head and the whole-buffer parse disagree"
    );
}

/// The checks `Request::new` makes, and what a handler then relies on.
fn check_framing(head: &http::Head) {
    let Ok(framing) = http::check_framing(head) else {
        return;
    };
    let rebuilt = match head.target.contains('?') {
        true => format!("{}?{}", framing.path, framing.query),
        false => framing.path.clone(),
    };
    assert_eq!(
        rebuilt, head.target,
        "the target splits into path and query"
    );
    // `Request::query_param` decodes names and values with `+` as space; none may be lost.
    for pair in framing.query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        for text in [name, value] {
            assert!(
                http::percent_decode(&text.replace('+', " ")).is_some(),
                "an accepted query holds a parameter that does not decode: {text:?}"
            );
        }
    }
}

fn describe_head(head: &http::Head) -> String {
    format!(
        "{} {} http11={} {:?}",
        head.method, head.target, head.http11, head.headers
    )
}

fn describe_error(e: &HttpError) -> String {
    format!("{} {}", e.status(), e.message())
}

/// A datagram to the STUN responder, from an IPv4 and from an IPv6 sender: an answer is sent
/// only to a Binding request, is never more than 2.6 times the datagram's size, and tells the
/// sender the address it came from.
pub fn stun(data: &[u8]) {
    use crate::base::stun::{answer, mapped_address, MAX_ANSWER};
    for from in [
        "192.0.2.1:32853",
        "[2001:db8::1]:3478",
        "[::ffff:10.0.0.7]:5000",
    ] {
        let from: std::net::SocketAddr = from.parse().expect("a test address");
        let mut out = [0u8; MAX_ANSWER];
        let Some(n) = answer(data, from, &mut out) else {
            continue;
        };
        assert!(
            n * 10 <= data.len() * 26,
            "{n} bytes answer {} bytes",
            data.len()
        );
        assert_eq!(
            u16::from_be_bytes([data[0], data[1]]),
            1,
            "only Binding requests are answered"
        );
        let id: [u8; 12] = data[8..20]
            .try_into()
            .expect("a request has a transaction id");
        let told = mapped_address(&out[..n], id).expect("the answer reads back");
        let expected = match from.ip() {
            std::net::IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map_or(from, |v4| std::net::SocketAddr::new(v4.into(), from.port())),
            std::net::IpAddr::V4(_) => from,
        };
        assert_eq!(told, expected);
    }
}

/// A server-side `Conn` over one end of a socket pair, and the client's end. `Socket` holds a
/// `TcpStream`, but it only reads, writes and sets timeouts, which a Unix socket does alike.
fn conn_pair() -> (Conn, UnixStream) {
    let (server, client) = UnixStream::pair().expect("the process can make a socket pair");
    let tcp = TcpStream::from(OwnedFd::from(server));
    let conn = Conn {
        stream: Stream::Plain(Socket::new(Arc::new(tcp))),
        buffered: Vec::new(),
        peer: Ipv4Addr::LOCALHOST.into(),
    };
    (conn, client)
}

/// What a client sends after the upgrade. The first byte says how many of the following bytes
/// arrived together with the request head (tungstenite gets those as already read); the rest
/// come from the socket. The socket is read as `ws::run` reads it, with the same limits, and
/// each text message goes through what `ws::handle_client_message` does with it before it
/// needs the server.
pub fn websocket_frames(data: &[u8]) {
    use tungstenite::protocol::{Role, WebSocketConfig};
    use tungstenite::{Message, WebSocket};
    let Some((&early, data)) = data.split_first() else {
        return;
    };
    let (part, rest) = data.split_at(usize::from(early).min(data.len()));
    // The configuration of `ws::run`.
    let config = WebSocketConfig {
        max_message_size: Some(64 * 1024),
        max_frame_size: Some(64 * 1024),
        write_buffer_size: 64 * 1024,
        ..WebSocketConfig::default()
    };
    let wire = ClientBytes {
        input: Cursor::new(rest),
    };
    let mut ws = WebSocket::from_partially_read(wire, part.to_vec(), Role::Server, Some(config));
    let hello = Json::obj([("type", "hello".into()), ("user", "alice".into())]);
    let _ = ws.send(Message::Text(hello.to_json_string()));
    loop {
        match ws.read() {
            Ok(Message::Text(text)) => client_message(&text),
            Ok(Message::Close(_)) => {
                let _ = ws.flush();
                return;
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

/// The parsing half of `ws::handle_client_message`: everything it reads from a client's frame.
fn client_message(text: &str) {
    let Ok(message) = json::parse(text) else {
        return;
    };
    match message.get("type").and_then(Json::as_str) {
        Some("typing") => {
            if let Some(channel) = message.get("channel").and_then(Json::as_str) {
                // What `announce_typing` checks before it looks at who may see the channel.
                let _ = ChannelId::parse(channel);
            }
        }
        Some("presence") => {
            let _ = message
                .get("state")
                .and_then(Json::as_str)
                .and_then(crate::live::hub::Presence::parse_client_state);
        }
        _ => {}
    }
}

/// A client's socket in memory: reads come from the fuzz input, writes go nowhere.
struct ClientBytes<'a> {
    input: Cursor<&'a [u8]>,
}

impl Read for ClientBytes<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for ClientBytes<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// JSON bodies: the reader every API endpoint uses. A value that parses must be written back
/// as JSON that parses to an equal value (responses and settings warnings echo values).
pub fn json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(value) = json::parse(text) else {
        return;
    };
    let written = value.to_json_string();
    match json::parse(&written) {
        Ok(again) => assert_eq!(again, value, "{text:?} was written as {written:?}"),
        Err(e) => panic!("{text:?} was written as {written:?}, which does not parse: {e}"),
    }
}

/// `settings.json`: only a syntax error is refused, and what is accepted is valid.
pub fn settings(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut warnings = Vec::new();
    let Ok(settings) = crate::base::config::parse_settings(text, &mut |w| warnings.push(w)) else {
        return;
    };
    assert!(!settings.channels.is_empty(), "no public channel");
    for (n, channel) in settings.channels.iter().enumerate() {
        assert!(
            matches!(ChannelId::parse(channel), Ok(ChannelId::Public(c)) if c == *channel),
            "channel {channel:?} is not a public channel id"
        );
        assert!(
            !settings.channels[..n].contains(channel),
            "channel {channel:?} is listed twice"
        );
    }
    for days in [
        settings.image_retention_days,
        settings.file_retention_days,
        settings.message_retention_days,
        settings.max_upload_size_mb,
        settings.max_avatar_size_mb,
        settings.lockout_duration_minutes,
        settings.session_idle_days,
        settings.login_rate.max,
        settings.login_rate.window_secs,
        settings.signup_rate.max,
        settings.signup_rate.window_secs,
    ] {
        assert!(days >= 1, "a setting that must be at least 1 is 0");
    }
}

/// Percent-decoding of paths, query strings and `X-Filename`: an accepted text has only
/// well-formed escapes, and encoding any text then decoding it gives the text back.
pub fn percent_decode(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(decoded) = http::percent_decode(text) {
        let bytes = text.as_bytes();
        let mut escapes = 0;
        for (i, _) in text.match_indices('%') {
            escapes += 1;
            assert!(
                bytes
                    .get(i + 1..i + 3)
                    .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)),
                "{text:?} was accepted with a malformed escape at byte {i}"
            );
        }
        assert_eq!(decoded.len(), text.len() - 2 * escapes, "{text:?}");
    }
    let encoded = crate::api::files::encode_rfc5987(text);
    assert_eq!(
        http::percent_decode(&encoded).as_deref(),
        Some(text),
        "{text:?} was encoded as {encoded:?}"
    );
}

/// Names from URLs, bodies and disk: channel ids, usernames, stored file names, `X-Filename`,
/// message ids and mentions.
pub fn names(data: &[u8]) {
    use crate::{files::uploads, model::messages};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    if let Ok(channel) = ChannelId::parse(text) {
        let again = ChannelId::parse(&channel.to_string());
        assert!(
            matches!(&again, Ok(c) if *c == channel),
            "{text:?} parses as {channel}, which does not parse back to itself"
        );
    }

    let existing = Username::parse_existing(text);
    if let Ok(name) = &existing {
        assert_eq!(name.as_str(), text);
    }
    if Username::parse(text).is_ok() {
        assert!(existing.is_ok(), "{text:?} may sign up but not exist");
    }

    if uploads::is_stored_name(text) {
        assert!(
            text.is_ascii() && !text.contains('/') && !text.starts_with('.'),
            "{text:?} passes as a stored name but is not safe to join to a directory"
        );
    }
    let safe = uploads::safe_name(text);
    assert!(
        safe.len() <= 100
            && safe
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')),
        "{text:?} has the safe name {safe:?}"
    );
    for is_image in [false, true] {
        let stored = uploads::stored_name(text, is_image);
        assert!(
            uploads::is_stored_name(&stored),
            "{text:?} was stored as {stored:?}"
        );
        let image = is_image && uploads::image_extension(text).is_some();
        assert_eq!(uploads::is_image_name(&stored), image, "{stored:?}");
        if !image {
            let shown = uploads::original_name(&stored, None);
            let expected = if safe.is_empty() { "file" } else { &safe };
            assert_eq!(shown, expected, "{stored:?}");
        }
    }
    let _ = uploads::is_image_name(text);
    let _ = uploads::original_name(text, Some(text));

    if let Ok(original) = crate::api::files::original_name(Some(text)) {
        assert!(
            !original.is_empty()
                && original.len() <= 255
                && !original.contains(['/', '\\'])
                && !original.chars().any(char::is_control),
            "X-Filename {text:?} gave the name {original:?}"
        );
    }

    if let Some(ts) = messages::parse_id(text) {
        assert!(ts.is_finite() && ts > 0.0);
        assert_eq!(messages::parse_id(&messages::id_of(ts)), Some(ts));
    }
    let _ = messages::mentions(text, |name| {
        Username::parse_existing(name)
            .ok()
            .map(|n| n.as_str().to_owned())
    });
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// Inputs that still fail, each with where it is being fixed: (target, file name).
    const NOT_YET_FIXED: &[(&str, &str)] = &[];

    /// Runs every kept input of `target` through its entry point; fails naming each input that
    /// panics. A target's corpus must hold inputs and its regressions directory must exist (it
    /// holds only a `.gitkeep` until the target has a finding), so deleting either cannot pass
    /// unnoticed.
    fn replay(target: &str, entry: fn(&[u8])) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        let corpus = inputs(&root.join("corpus").join(target));
        assert!(!corpus.is_empty(), "fuzz/corpus/{target} holds no inputs");
        let regressions = inputs(&root.join("regressions").join(target));
        let mut failed = Vec::new();
        for path in corpus.iter().chain(&regressions) {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if NOT_YET_FIXED.contains(&(target, name)) {
                continue;
            }
            let data = std::fs::read(path).expect("a kept input is readable");
            if std::panic::catch_unwind(|| entry(&data)).is_err() {
                failed.push(path.display().to_string());
            }
        }
        assert!(failed.is_empty(), "inputs that fail: {failed:#?}");
    }

    /// The inputs in `dir`, sorted; dot files (`.gitkeep`) are not inputs.
    fn inputs(dir: &Path) -> Vec<PathBuf> {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        let mut paths: Vec<PathBuf> = entries
            .map(|entry| entry.expect("a directory entry is readable").path())
            .filter(|path| path.is_file())
            .filter(|path| {
                !path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        paths.sort();
        paths
    }

    #[test]
    fn http_head_inputs_replay() {
        replay("http_head", super::http_head);
    }

    #[test]
    fn websocket_frames_inputs_replay() {
        replay("websocket_frames", super::websocket_frames);
    }

    #[test]
    fn json_inputs_replay() {
        replay("json", super::json);
    }

    #[test]
    fn settings_inputs_replay() {
        replay("settings", super::settings);
    }

    #[test]
    fn percent_decode_inputs_replay() {
        replay("percent_decode", super::percent_decode);
    }

    #[test]
    fn names_inputs_replay() {
        replay("names", super::names);
    }

    #[test]
    fn stun_inputs_replay() {
        replay("stun", super::stun);
    }
}
