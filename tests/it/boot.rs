//! Starting the real binary: first boot's private data dir, certificates and their names,
//! admin-supplied certificates, settings errors and warnings, newer databases refused, flags.

use crate::harness::{binary, Options, Server, TempDir};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn first_boot_creates_the_data_dir_privately_and_a_restart_reuses_it() {
    let temp = TempDir::new();
    let dir = temp.path().join("data");
    let server = Server::start_in(&dir, Options::default()).unwrap();
    for file in [
        "secret.key",
        "key.pem",
        "ca-key.pem",
        "cert.pem",
        "ca.pem",
        "auth.db",
        "presence.db",
        "settings.json",
    ] {
        assert_eq!(
            mode(&dir.join(file)) & 0o077,
            0,
            "{file} must not be readable by others"
        );
    }
    for sub in ["users", "uploads", "avatars"] {
        assert_eq!(mode(&dir.join(sub)), 0o700, "{sub}/");
    }
    assert_eq!(mode(&dir), 0o700);
    let secret = std::fs::read_to_string(dir.join("secret.key")).unwrap();
    assert_eq!(secret.trim().len(), 64);
    assert!(secret
        .trim()
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    let settings = std::fs::read_to_string(dir.join("settings.json")).unwrap();
    assert!(
        settings.contains(r#""channels": ["general", "random"]"#),
        "{settings}"
    );
    let cert = std::fs::read(dir.join("cert.pem")).unwrap();

    let cookie = server.signup("alice").cookie;
    let (status, took) = server.terminate();
    assert!(status.success(), "exit status {status}");
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    // A clean stop checkpoints every WAL so a cold copy of the data dir is complete.
    assert!(!dir.join("auth.db-wal").exists());
    assert!(!dir.join("users/alice.db-wal").exists());

    let server = Server::start_in(&dir, Options::default()).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("secret.key")).unwrap(),
        secret
    );
    assert_eq!(std::fs::read(dir.join("cert.pem")).unwrap(), cert);
    let mut alice = server.client();
    alice.cookie = cookie;
    assert_eq!(
        alice.get("/api/me").status,
        200,
        "the session survives a restart"
    );
}

#[test]
fn the_certificate_covers_local_names_and_the_ca_is_served() {
    let server = Server::start();
    // The harness client trusts only ca.pem and checks the name `localhost`.
    let res = server.request("GET", "/healthz", &[], b"");
    assert_eq!(res.status, 200);
    assert_eq!(
        res.json().get("status").and_then(crate::json::Json::as_str),
        Some("ok")
    );
    let ca = server.request("GET", "/ca.pem", &[], b"");
    assert_eq!(ca.status, 200);
    assert_eq!(
        ca.body,
        std::fs::read(server.data_dir().join("ca.pem")).unwrap()
    );
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(server.data_dir().join("cert.pem"))
        .output()
        .unwrap();
    let sans = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "DNS:localhost",
        "IP Address:127.0.0.1",
        "IP Address:0:0:0:0:0:0:0:1",
    ] {
        assert!(sans.contains(expected), "{expected} missing from {sans}");
    }
    // The machine's name, and the `<name>.local` that mDNS (avahi on a Raspberry Pi) announces.
    let host = String::from_utf8(Command::new("hostname").output().unwrap().stdout).unwrap();
    let host = host.trim();
    if !host.is_empty() && host != "localhost" && !host.contains('.') {
        for expected in [format!("DNS:{host},"), format!("DNS:{host}.local")] {
            assert!(sans.contains(&expected), "{expected} missing from {sans}");
        }
    }
}

#[test]
fn admin_supplied_certificates_are_used_as_they_are() {
    let temp = TempDir::new();
    let dir = temp.path();
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "30",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let cert = std::fs::read(dir.join("cert.pem")).unwrap();
    // The harness trusts ca.pem: here that is the admin's self-signed certificate itself.
    std::fs::copy(dir.join("cert.pem"), dir.join("ca.pem")).unwrap();
    let server = Server::start_in(dir, Options::default()).unwrap();
    assert_eq!(server.request("GET", "/healthz", &[], b"").status, 200);
    assert_eq!(
        std::fs::read(dir.join("cert.pem")).unwrap(),
        cert,
        "cert.pem untouched"
    );
    assert!(
        !dir.join("ca-key.pem").exists(),
        "no local CA when the admin brings a certificate"
    );
    assert_eq!(server.request("GET", "/ca.pem", &[], b"").status, 404);
}

#[test]
fn a_settings_syntax_error_stops_startup_naming_the_line() {
    let temp = TempDir::new();
    let options = Options {
        settings: Some("{\n  \"channels\": [\"general\"]\n  \"stun_port\": 0\n}\n".into()),
        ..Options::default()
    };
    let err = Server::start_in(temp.path(), options)
        .err()
        .expect("startup must fail");
    assert!(err.contains("settings.json"), "{err}");
    assert!(err.contains("line 3"), "{err}");
    // In the words of someone editing the file, not the parser's.
    assert!(err.contains("is a comma missing"), "{err}");
    assert!(!err.contains("Unexpected token"), "{err}");
}

#[test]
fn invalid_settings_fall_back_with_one_warning_per_key() {
    let options = Options {
        settings: Some(r#"{"max_upload_size_mb": -1, "session_idle_days": "x", "colour": 1, "channels": ["general"]}"#.into()),
        ..Options::default()
    };
    let server = Server::start_with(options);
    server.signup("alice").get("/api/me");
    let me = server.signup("bob").get("/api/me").json();
    assert_eq!(
        me.get("max_upload_mb").and_then(crate::json::Json::as_u64),
        Some(25)
    );
    let stderr = server.wait_for_stderr("unknown key \"colour\"");
    assert_eq!(stderr.matches("max_upload_size_mb").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("session_idle_days").count(), 1, "{stderr}");
    assert!(stderr.contains("unknown key \"colour\""), "{stderr}");
}

#[test]
fn a_database_from_a_newer_release_is_refused_untouched() {
    let temp = TempDir::new();
    let dir = temp.path();
    let conn = rusqlite::Connection::open(dir.join("auth.db")).unwrap();
    conn.execute_batch("CREATE TABLE users(username TEXT PRIMARY KEY, password_hash TEXT NOT NULL); PRAGMA user_version = 99;").unwrap();
    drop(conn);
    let err = Server::start_in(dir, Options::default())
        .err()
        .expect("startup must fail");
    assert!(err.contains("newer release"), "{err}");
    let conn = rusqlite::Connection::open(dir.join("auth.db")).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 99);
}

#[test]
fn flags_help_and_version() {
    let out = Command::new(binary()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--host",
        "--port",
        "--data-dir",
        "--no-tls",
        "MINIMOST_PORT",
        "MINIMOST_STUN_PORT",
        "MINIMOST_RING_TIMEOUT_SECS",
        "MINIMOST_IDLE_TIMEOUT_MS",
        "MINIMOST_HEAD_TIMEOUT_MS",
        "MINIMOST_BODY_MIN_RATE",
        "MINIMOST_CLEANUP_DELAY_SECS",
        "MINIMOST_CLEANUP_INTERVAL_SECS",
        "MINIMOST_WAL_QUIET_SECS",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
    let out = Command::new(binary()).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("minimost "));
    let out = Command::new(binary())
        .args(["--port", "nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--port"));
}

#[test]
fn environment_variables_configure_serve() {
    let temp = TempDir::new();
    let mut child = Command::new(binary())
        .env("MINIMOST_PORT", "0")
        .env("MINIMOST_DATA_DIR", temp.path())
        .env("MINIMOST_NO_TLS", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.starts_with("listening on http://127.0.0.1:"), "{line}");
    assert!(temp.path().join("auth.db").exists());
    assert!(
        !temp.path().join("cert.pem").exists(),
        "no certificate under --no-tls"
    );
}

#[test]
fn startup_resets_presence_left_from_a_crash() {
    let temp = TempDir::new();
    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    drop(server); // SIGKILL: no clean shutdown.
    let conn = rusqlite::Connection::open(temp.path().join("presence.db")).unwrap();
    conn.execute_batch(
        "INSERT INTO presence VALUES ('ghost', 0, 'active');
         INSERT INTO calls(call_id, channel, initiator, state, started_ts) VALUES ('c1', 'dm:a:b', 'a', 'ringing', 1);",
    )
    .unwrap();
    drop(conn);
    let _server = Server::start_in(temp.path(), Options::default()).unwrap();
    let conn = rusqlite::Connection::open(temp.path().join("presence.db")).unwrap();
    let state: String = conn
        .query_row("SELECT state FROM presence WHERE user = 'ghost'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(state, "offline");
    let call: String = conn
        .query_row("SELECT state FROM calls WHERE call_id = 'c1'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(call, "ended");
}

#[test]
fn systemd_hears_ready_watchdog_pings_and_stopping() {
    let temp = TempDir::new();
    let socket_path = temp.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let data_dir = temp.path().join("data");
    // systemd names the watched process in WATCHDOG_PID: the shell's pid, which `exec` keeps.
    let child = Command::new("sh")
        .args(["-c", r#"WATCHDOG_PID=$$ exec "$0" "$@""#, binary()])
        .args(["--port", "0", "--data-dir"])
        .arg(&data_dir)
        .env("NOTIFY_SOCKET", &socket_path)
        // A 0.4 s watchdog: the server pings every 0.2 s.
        .env("WATCHDOG_USEC", "400000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed if an assertion below fails, so a failing run leaves no server behind.
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Reap(child);
    let next = || {
        let mut buf = [0u8; 256];
        let n = socket.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).trim().to_owned())
    };
    assert_eq!(next().as_deref(), Some("READY=1"));
    for _ in 0..3 {
        assert_eq!(next().as_deref(), Some("WATCHDOG=1"));
    }
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.0.id() as i32, libc::SIGTERM) };
    assert!(child.0.wait().unwrap().success());
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let rest: Vec<String> = std::iter::from_fn(next).collect();
    assert!(rest.iter().any(|m| m == "STOPPING=1"), "{rest:?}");
    assert!(
        rest.iter().all(|m| m == "STOPPING=1" || m == "WATCHDOG=1"),
        "{rest:?}"
    );
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused_naming_the_first() {
    let temp = TempDir::new();
    let first = Server::start_in(temp.path(), Options::default()).unwrap();
    let pid = std::fs::read_to_string(temp.path().join("minimost.pid")).unwrap();
    let second = crate::harness::cli(temp.path(), &["serve", "--port", "0"]);
    assert!(!second.status.success());
    assert!(
        second.stderr.contains(&format!(
            "another minimost (pid {}) is already serving",
            pid.trim()
        )),
        "{}",
        second.stderr
    );
    assert!(
        second.stdout.is_empty(),
        "it never listened: {}",
        second.stdout
    );
    // Admin commands still work beside the running server.
    let check = crate::harness::cli(temp.path(), &["check"]);
    assert!(check.status.success(), "{}", check.stderr);
    // The first server was not disturbed, and a kill -9 leaves nothing that blocks a restart.
    assert_eq!(first.request("GET", "/healthz", &[], b"").status, 200);
    drop(first); // SIGKILL
    let again = Server::start_in(temp.path(), Options::default()).unwrap();
    assert_eq!(again.request("GET", "/healthz", &[], b"").status, 200);
}

#[test]
fn the_first_lines_say_where_the_data_is_and_what_to_trust() {
    use std::io::BufRead;
    let temp = TempDir::new();
    let mut child = Command::new(binary())
        .args(["--host", "0.0.0.0", "--port", "0", "--data-dir"])
        .arg(temp.path())
        .env("MINIMOST_STUN_PORT", "0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut said = Vec::new();
    // Up to the last line of the welcome (the server then stays quiet).
    while let Some(Ok(line)) = lines.next() {
        let last = line.contains("once on each device");
        said.push(line);
        if last || said.len() > 12 {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let said = said.join("\n");
    assert!(said.starts_with("listening on https://0.0.0.0:"), "{said}");
    let dir = temp.path().canonicalize().unwrap();
    assert!(
        said.contains(&format!("data dir: {}", dir.display())),
        "{said}"
    );
    // The fingerprint a phone shows when asked to trust the CA.
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(dir.join("ca.pem"))
        .output()
        .unwrap();
    let openssl = String::from_utf8_lossy(&out.stdout);
    let fingerprint = openssl.trim().rsplit('=').next().unwrap();
    assert!(
        said.contains(&format!("SHA-256 {fingerprint}")),
        "{said}\n{openssl}"
    );
    assert!(said.contains("/ca.pem once on each device"), "{said}");
}

#[test]
fn the_join_page_needs_no_login_and_names_the_ca_a_phone_should_trust() {
    let server = Server::start();
    let port = server.addr.port();
    let page = server.request("GET", "/join", &[], b"");
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains("Join MiniMost"));
    let info = server.request("GET", "/api/join", &[], b"");
    assert_eq!(info.status, 200);
    let info = info.json();
    let url = format!("https://localhost:{port}");
    assert_eq!(
        info.get("url").and_then(crate::json::Json::as_str),
        Some(url.as_str())
    );
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(server.data_dir().join("ca.pem"))
        .output()
        .unwrap();
    let openssl = String::from_utf8_lossy(&out.stdout);
    let fingerprint = openssl.trim().rsplit('=').next().unwrap();
    assert_eq!(
        info.get("fingerprint").and_then(crate::json::Json::as_str),
        Some(fingerprint)
    );
    assert_eq!(
        info.get("ca_url").and_then(crate::json::Json::as_str),
        Some(format!("{url}/ca.pem").as_str())
    );
    let qr = server.request("GET", "/join/qr.svg", &[], b"");
    assert_eq!(qr.status, 200);
    assert_eq!(qr.header("content-type"), Some("image/svg+xml"));
    let svg = String::from_utf8_lossy(&qr.body);
    // The code carries this server's join address and its CA's fingerprint: the dark modules
    // drawn are exactly those of that text's code (4 modules of quiet zone around it).
    let target = format!("{url}/join#sha256={}", fingerprint.replace(':', ""));
    let expected = qrcodegen::QrCode::encode_text(&target, qrcodegen::QrCodeEcc::Medium).unwrap();
    let mut wanted = std::collections::BTreeSet::new();
    for y in 0..expected.size() {
        for x in 0..expected.size() {
            if expected.get_module(x, y) {
                wanted.insert((x + 4, y + 4));
            }
        }
    }
    let path = svg
        .split("<path d=\"")
        .nth(1)
        .expect("a path")
        .split('"')
        .next()
        .unwrap();
    let drawn: std::collections::BTreeSet<(i32, i32)> = path
        .split('M')
        .filter(|m| !m.is_empty())
        .map(|m| {
            let (x, rest) = m.split_once(',').unwrap();
            let y = rest.split('h').next().unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect();
    assert_eq!(drawn, wanted, "the code does not say {target}");
    assert!(
        svg.starts_with("<svg") && svg.contains("<path d=\"M"),
        "{svg}"
    );
    // A Host header that is not a plain name is refused, not echoed into the code.
    let bad = server.request("GET", "/join/qr.svg", &[("Host", "evil\"><script>")], b"");
    assert_eq!(bad.status, 400);
}

#[test]
fn sigterm_stops_a_server_whose_output_nobody_reads_any_more() {
    use std::io::BufRead;
    let temp = TempDir::new();
    let mut child = Command::new(binary())
        .args(["--port", "0", "--data-dir"])
        .arg(temp.path())
        .env("MINIMOST_STUN_PORT", "0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("listening on"), "{first}");
    // Like `minimost 2>&1 | head -1`: both pipes are gone before the signal.
    drop(child.stderr.take());
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
