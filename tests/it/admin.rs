//! The admin subcommands run as processes against a data dir, with and without a server on it:
//! reset-password, clean (and the cleanup thread), backup, check, delete-user.

use crate::harness::{cli, enc, s, Options, Server, TempDir, PASSWORD};
use crate::json::Json;
use std::time::{Duration, SystemTime};

#[test]
fn reset_password_works_live_end_to_end() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut ws = alice.ws();
    let out = cli(
        server.data_dir(),
        &[
            "reset-password",
            "ALICE",
            "--expires",
            "30",
            "--base-url",
            "https://chat.example.com/",
        ],
    );
    assert!(out.status.success(), "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "Password reset URL for 'alice' (expires in 30 minutes):"
    );
    let token = lines[1]
        .strip_prefix("https://chat.example.com/reset-password/")
        .expect(lines[1]);
    assert_eq!(token.len(), 43);
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    // The notice reaches her open tab at once, in her read-only system conversation.
    let event = ws.expect_event("message");
    let notice = event.get("message").unwrap();
    assert_eq!(s(notice, "channel"), "dm:alice:system");
    assert_eq!(notice.get("system"), Some(&Json::Bool(true)));
    assert_eq!(
        s(notice, "text"),
        "A password reset has been requested for your account. The reset link will expire in 30 minutes. If you did not request this, please contact your administrators."
    );
    let channels = alice.get("/api/channels").json();
    let Some(Json::Arr(dms)) = channels.get("dms") else {
        panic!()
    };
    assert_eq!(s(&dms[0], "id"), "dm:alice:system");

    let mut visitor = server.client();
    assert_eq!(visitor.get(&format!("/reset-password/{token}")).status, 200);
    let res = visitor.get(&format!("/api/reset-password/{token}"));
    assert_eq!((res.status, s(&res.json(), "username")), (200, "alice"));
    let body = |p: &str| Json::obj([("password", p.into()), ("confirm_password", p.into())]);
    assert_eq!(
        visitor
            .post(&format!("/api/reset-password/{token}"), &body("weak"))
            .status,
        400
    );
    assert_eq!(
        visitor
            .post(&format!("/api/reset-password/{token}"), &body("Brand-N3w!"))
            .status,
        204
    );
    ws.expect_event("session_revoked");
    assert_eq!(
        alice.get("/api/me").status,
        401,
        "a reset by link ends every session"
    );
    assert_eq!(server.client().login("alice", "Brand-N3w!").status, 200);
    let again = visitor.get(&format!("/api/reset-password/{token}"));
    assert_eq!(
        (again.status, again.error().as_str()),
        (404, "Link invalid or expired")
    );
    assert_eq!(
        visitor
            .post(&format!("/api/reset-password/{token}"), &body("Other-N3w!"))
            .status,
        404
    );
    assert_eq!(visitor.get("/api/reset-password/nonsense").status, 404);

    let out = cli(
        server.data_dir(),
        &["reset-password", "alice", "--expires", "1"],
    );
    // Without --base-url the link follows the running server (its port here).
    let expected = format!(
        "Password reset URL for 'alice' (expires in 1 minute):\nhttps://127.0.0.1:{}/reset-password/",
        server.addr.port()
    );
    assert!(out.stdout.starts_with(&expected), "{}", out.stdout);
    let expired = out
        .stdout
        .lines()
        .nth(1)
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let auth = rusqlite::Connection::open(server.data_dir().join("auth.db")).unwrap();
    auth.execute(
        "UPDATE password_reset_tokens SET expires_ts = 1 WHERE token = ?1",
        [&expired],
    )
    .unwrap();
    assert_eq!(
        visitor
            .get(&format!("/api/reset-password/{expired}"))
            .status,
        404
    );

    let out = cli(server.data_dir(), &["reset-password", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("no user named 'nobody'"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn reset_password_works_without_a_running_server() {
    let temp = TempDir::new();
    drop(
        Server::start_in(temp.path(), Options::default())
            .unwrap()
            .signup("carol"),
    );
    let out = cli(temp.path(), &["reset-password", "carol"]);
    assert!(out.status.success(), "{}", out.stderr);
    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    let mut carol = server.client();
    carol.login("carol", PASSWORD);
    let notices = carol.messages("dm:carol:system");
    assert_eq!(notices.len(), 1);
    assert!(s(&notices[0], "text").contains("expire in 60 minutes"));
    let res = carol.post(
        &format!("/api/channels/{}/messages", enc("dm:carol:system")),
        &Json::obj([("text", "hi".into())]),
    );
    assert_eq!(res.status, 403);
}

fn set_age(path: &std::path::Path, days: u64) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(days * 86_400))
        .unwrap();
}

fn count(db: &std::path::Path, sql: &str) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// A data dir with old and new files and messages, a used token, and an idle session.
fn aged_data_dir(server: &Server) {
    let mut alice = server.signup("alice");
    server.signup("bob");
    for name in ["old.png", "new.png"] {
        let res = alice.upload(name, crate::files::PNG).json();
        let body = Json::obj([("files", Json::Arr(vec![res.get("name").unwrap().clone()]))]);
        alice.post("/api/channels/general/messages", &body);
        if name == "old.png" {
            set_age(&server.data_dir().join("uploads").join(s(&res, "name")), 40);
        }
    }
    let doc = alice.upload("old.pdf", b"%PDF").json();
    alice.post(
        "/api/channels/general/messages",
        &Json::obj([("files", Json::Arr(vec![doc.get("name").unwrap().clone()]))]),
    );
    set_age(&server.data_dir().join("uploads").join(s(&doc, "name")), 10);
    let stray = alice.upload("never-sent.txt", b"x").json();
    let presence = rusqlite::Connection::open(server.data_dir().join("presence.db")).unwrap();
    presence
        .execute(
            "UPDATE uploads SET created_ts = created_ts - 2 * 86400 WHERE name = ?1",
            [s(&stray, "name")],
        )
        .unwrap();
    let old = alice.say("general", "ancient history");
    let recent = alice.say("general", "fresh news");
    crate::harness::age_message(server, &["alice", "bob"], &old, 800);
    let react = Json::obj([("emoji", "heart".into())]);
    alice.post(
        &format!("/api/channels/general/messages/{}/reactions", s(&old, "id")),
        &react,
    );
    presence
        .execute(
            "UPDATE message_reactions SET msg_ts = msg_ts - 800 * 86400",
            [],
        )
        .unwrap();
    let _ = recent;
    let auth = rusqlite::Connection::open(server.data_dir().join("auth.db")).unwrap();
    auth.execute("INSERT INTO password_reset_tokens VALUES ('t1', 'alice', 4102444800.0, 1), ('t2', 'alice', 1.0, 0), ('t3', 'alice', 4102444800.0, 0)", []).unwrap();
    auth.execute(
        "UPDATE sessions SET last_seen_ts = 1 WHERE username = 'bob'",
        [],
    )
    .unwrap();
}

#[test]
fn clean_reports_then_deletes_what_retention_says() {
    let server = Server::start();
    aged_data_dir(&server);
    let dir = server.data_dir();
    let dry = cli(dir, &["clean", "--dry-run", "--file-days", "7"]);
    assert!(dry.status.success(), "{}", dry.stderr);
    assert!(
        dry.stdout.contains("would delete uploads/")
            && dry.stdout.contains("_old.pdf (file, 10 days old"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("Would delete 2 files"),
        "{}",
        dry.stdout
    );
    assert_eq!(
        std::fs::read_dir(dir.join("uploads")).unwrap().count(),
        4,
        "a dry run deletes nothing"
    );

    // An open client hears that history expired, so it can drop what it shows.
    let mut bob = server.client();
    assert_eq!(bob.login("bob", PASSWORD).status, 200);
    let mut bob_ws = bob.ws();
    let out = cli(dir, &["clean", "--file-days", "7"]);
    assert!(out.status.success(), "{}", out.stderr);
    let expired = bob_ws.expect_event("messages_expired");
    let before = expired.get("before_ts").and_then(Json::as_f64).unwrap();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(before < now - 769.0 * 86_400.0, "{before}");
    let summary = out.stdout.lines().last().unwrap();
    assert_eq!(summary, "Deleted 2 files (71 bytes), 2 messages from 2 databases, 2 reset tokens, 1 expired session, 1 unattached upload.", "{}", out.stdout);
    assert_eq!(
        std::fs::read_dir(dir.join("uploads")).unwrap().count(),
        1,
        "only the new image is left"
    );
    for user in ["alice", "bob"] {
        let db = dir.join(format!("users/{user}.db"));
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) FROM messages WHERE content = 'ancient history'"
            ),
            0
        );
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'ancient'"
            ),
            0,
            "search forgets it too"
        );
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) FROM messages WHERE content = 'fresh news'"
            ),
            1
        );
    }
    assert_eq!(
        count(
            &dir.join("presence.db"),
            "SELECT COUNT(*) FROM message_reactions"
        ),
        0
    );
    assert_eq!(
        count(
            &dir.join("auth.db"),
            "SELECT COUNT(*) FROM password_reset_tokens"
        ),
        1
    );
    // Messages show the removed files as gone.
    let mut alice = server.client();
    alice.login("alice", PASSWORD);
    let gone: Vec<bool> = alice
        .messages("general")
        .iter()
        .filter_map(|m| match m.get("files") {
            Some(Json::Arr(f)) if !f.is_empty() => {
                Some(f[0].get("gone") == Some(&Json::Bool(true)))
            }
            _ => None,
        })
        .collect();
    assert_eq!(gone, vec![true, false, true]);
}

#[test]
fn clean_without_a_server_does_the_same_work() {
    let temp = TempDir::new();
    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    aged_data_dir(&server);
    let (status, _) = server.terminate();
    assert!(status.success());
    let out = cli(temp.path(), &["clean", "--file-days", "7"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(
        out.stdout.lines().last().unwrap(),
        "Deleted 2 files (71 bytes), 2 messages from 2 databases, 2 reset tokens, 1 expired session, 1 unattached upload.",
        "{}",
        out.stdout
    );
    assert_eq!(
        count(
            &temp.path().join("users/bob.db"),
            "SELECT COUNT(*) FROM messages WHERE content = 'ancient history'"
        ),
        0
    );
}

#[test]
fn the_cleanup_thread_runs_on_schedule_and_rereads_settings() {
    let options = Options {
        env: vec![
            ("MINIMOST_CLEANUP_DELAY_SECS".into(), "0.3".into()),
            ("MINIMOST_CLEANUP_INTERVAL_SECS".into(), "1".into()),
        ],
        ..Options::default()
    };
    let server = Server::start_with(options);
    let mut alice = server.signup("alice");
    let image = alice.upload("two-days.png", crate::files::PNG).json();
    alice.post(
        "/api/channels/general/messages",
        &Json::obj([("files", Json::Arr(vec![image.get("name").unwrap().clone()]))]),
    );
    let path = server.data_dir().join("uploads").join(s(&image, "name"));
    set_age(&path, 2);
    server.wait_for_stderr("cleanup: Deleted 0 files");
    assert!(path.exists(), "30-day retention keeps it");
    let settings = std::fs::read_to_string(server.data_dir().join("settings.json")).unwrap();
    std::fs::write(
        server.data_dir().join("settings.json"),
        settings.replace(
            "\"image_retention_days\": 30",
            "\"image_retention_days\": 1",
        ),
    )
    .unwrap();
    let stderr = server.wait_for_stderr("cleanup: Deleted 1 file");
    assert!(stderr.contains("cleanup: Deleted 1 file"), "{stderr}");
    assert!(
        !path.exists(),
        "the next run used the new retention without a restart"
    );
    let (status, took) = server.terminate();
    assert!(
        status.success() && took < Duration::from_secs(5),
        "the cleanup thread stops promptly"
    );
}

#[test]
fn backup_is_a_consistent_data_dir_while_the_server_writes() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    let cookie = alice.cookie.clone();
    let photo = alice.upload("photo.png", crate::files::PNG).json();
    alice.post(
        "/api/channels/general/messages",
        &Json::obj([("files", Json::Arr(vec![photo.get("name").unwrap().clone()]))]),
    );
    set_age(
        &server.data_dir().join("uploads").join(s(&photo, "name")),
        3,
    );
    alice.send(
        "PUT",
        "/api/me/avatar",
        Some("image/png"),
        crate::files::PNG,
    );
    let temp = TempDir::new();
    let dest = temp.path().join("backup");
    let writing = std::sync::atomic::AtomicBool::new(true);
    let out = std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut n = 0;
            while writing.load(std::sync::atomic::Ordering::Relaxed) {
                bob.say("general", &format!("busy {n}"));
                n += 1;
            }
        });
        std::thread::sleep(Duration::from_millis(100));
        let out = cli(server.data_dir(), &["backup", dest.to_str().unwrap()]);
        writing.store(false, std::sync::atomic::Ordering::Relaxed);
        out
    });
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout.contains("Backed up 4 databases"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.is_empty(),
        "quiet when not on a terminal: {}",
        out.stderr
    );
    // Every copy of #general agrees: no message is in one database and missing from another.
    let messages = |user: &str| {
        count(
            &dest.join(format!("users/{user}.db")),
            "SELECT COUNT(*) FROM messages WHERE channel = 'general'",
        )
    };
    assert_eq!(messages("alice"), messages("bob"));
    assert!(messages("alice") > 1);
    let copied = dest.join("uploads").join(s(&photo, "name"));
    let age = SystemTime::now()
        .duration_since(std::fs::metadata(&copied).unwrap().modified().unwrap())
        .unwrap();
    assert!(
        age > Duration::from_secs(2 * 86_400),
        "upload ages are kept for retention"
    );
    for file in [
        "secret.key",
        "cert.pem",
        "key.pem",
        "ca.pem",
        "ca-key.pem",
        "settings.json",
    ] {
        assert_eq!(
            std::fs::read(dest.join(file)).unwrap(),
            std::fs::read(server.data_dir().join(file)).unwrap(),
            "{file}"
        );
    }
    assert_eq!(cli(&dest, &["check"]).status.code(), Some(0));
    // The copy is a data dir a server starts on, with sessions intact.
    let restored = Server::start_in(&dest, Options::default()).unwrap();
    let mut again = restored.client();
    again.cookie = cookie;
    assert_eq!(again.get("/api/me").status, 200);
    assert_eq!(
        again.get(&format!("/files/{}", s(&photo, "name"))).status,
        200
    );
    assert_eq!(again.get("/avatars/alice").status, 200);
    drop(restored);
    let out = cli(server.data_dir(), &["backup", dest.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("is not empty"), "{}", out.stderr);
}

#[test]
fn check_names_each_database_and_its_problems() {
    let temp = TempDir::new();
    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    let mut alice = server.signup("alice");
    for i in 0..300 {
        alice.say(
            "general",
            &format!(
                "message number {i} with some text to fill pages {}",
                "x".repeat(200)
            ),
        );
    }
    server.signup("bob");
    drop(alice);
    let (status, _) = server.terminate();
    assert!(status.success());
    let out = cli(temp.path(), &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(
        out.stdout,
        "auth.db: ok\npresence.db: ok\nusers/alice.db: ok\nusers/bob.db: ok\n"
    );
    // Damage one page in the middle of alice's database.
    let path = temp.path().join("users/alice.db");
    let mut bytes = std::fs::read(&path).unwrap();
    let page = 4096 * 20;
    for b in &mut bytes[page..page + 400] {
        *b = 0x5a;
    }
    std::fs::write(&path, bytes).unwrap();
    let out = cli(temp.path(), &["check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.contains("users/alice.db: ") && !out.stdout.contains("users/alice.db: ok"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("users/bob.db: ok"),
        "one bad database does not stop the rest"
    );
}

#[test]
fn delete_user_from_the_command_line_finishes_an_interrupted_deletion() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    alice.say("general", "one");
    alice.say("dm:alice:bob", "two");
    let mut ws = alice.ws();
    let out = cli(server.data_dir(), &["delete-user", "Alice", "--hard"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("Deleted alice (hard): 2 messages deleted in 1 database"),
        "{}",
        out.stdout
    );
    ws.expect_event("session_revoked");
    assert!(bob.messages("general").is_empty());
    assert!(!server.data_dir().join("users/alice.db").exists());
    let out = cli(server.data_dir(), &["delete-user", "alice", "--hard"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("no user named 'alice'"));

    // As if a soft delete died after its first step: the account can no longer log in, its
    // messages still carry its name. Running the command again finishes the job.
    let mut carol = server.signup("carol");
    carol.say("general", "carol was here");
    let auth = rusqlite::Connection::open(server.data_dir().join("auth.db")).unwrap();
    auth.execute(
        "UPDATE users SET password_hash = '!deleted' WHERE username = 'carol'",
        [],
    )
    .unwrap();
    auth.execute("DELETE FROM sessions WHERE username = 'carol'", [])
        .unwrap();
    let out = cli(server.data_dir(), &["delete-user", "carol", "--soft"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(s(&bob.messages("general")[0], "sender"), "Deleted User");
    assert_eq!(
        count(
            &server.data_dir().join("auth.db"),
            "SELECT COUNT(*) FROM users WHERE username = 'carol'"
        ),
        0
    );
    let out = cli(server.data_dir(), &["delete-user", "bob"]);
    assert_eq!(out.status.code(), Some(1), "--soft or --hard is required");
}

#[test]
fn healthcheck_exits_by_the_servers_health() {
    let server = Server::start();
    let port = server.addr.port().to_string();
    let out = cli(server.data_dir(), &["healthcheck", "--port", &port]);
    assert!(out.status.success(), "{}", out.stderr);
    let out = cli(
        server.data_dir(),
        &["healthcheck", "--url", &format!("https://localhost:{port}")],
    );
    assert!(out.status.success(), "{}", out.stderr);
    let plain = Server::start_with(Options {
        no_tls: true,
        ..Options::default()
    });
    let out = cli(
        plain.data_dir(),
        &[
            "healthcheck",
            "--url",
            &format!("http://127.0.0.1:{}", plain.addr.port()),
        ],
    );
    assert!(out.status.success(), "{}", out.stderr);
    // Without --url or --port the server itself says where it answers (plain HTTP, any port).
    let out = cli(plain.data_dir(), &["healthcheck"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("http://127.0.0.1:{}", plain.addr.port())),
        "{}",
        out.stdout
    );
    drop(plain);
    let out = cli(server.data_dir(), &["healthcheck", "--port", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("cannot connect"), "{}", out.stderr);
}

#[test]
fn subcommands_explain_themselves() {
    let temp = TempDir::new();
    for sub in [
        "reset-password",
        "backup",
        "clean",
        "check",
        "delete-user",
        "healthcheck",
    ] {
        let out = cli(temp.path(), &[sub, "--help"]);
        assert!(out.status.success(), "{sub}");
        assert!(
            out.stdout.contains(&format!("minimost {sub}")) && out.stdout.contains("EXIT STATUS"),
            "{sub}: {}",
            out.stdout
        );
    }
    let out = cli(temp.path(), &["check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("not a MiniMost data dir"),
        "{}",
        out.stderr
    );
}

#[test]
fn reset_links_point_where_users_can_reach_the_server() {
    let link = |out: &crate::harness::Cli| {
        out.stdout
            .lines()
            .find(|l| l.contains("/reset-password/"))
            .unwrap_or_else(|| panic!("no link in {}", out.stdout))
            .trim()
            .to_owned()
    };
    // Listening on every interface: the machine's name and the real port.
    let everywhere = Server::start_with(Options {
        env: vec![("MINIMOST_HOST".into(), "0.0.0.0".into())],
        ..Options::default()
    });
    everywhere.signup("alice");
    let out = cli(everywhere.data_dir(), &["reset-password", "alice"]);
    assert!(out.status.success(), "{}", out.stderr);
    let port = everywhere.addr.port();
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let name = name.trim();
    if !name.is_empty() && name != "localhost" {
        assert!(
            link(&out).contains(&format!("https://{name}:{port}/reset-password/")),
            "{}",
            out.stdout
        );
    }
    // Listening on loopback only: the link works here, and the admin is told so.
    let local = Server::start();
    local.signup("bob");
    let out = cli(local.data_dir(), &["reset-password", "bob"]);
    let port = local.addr.port();
    assert!(
        link(&out).contains(&format!("https://127.0.0.1:{port}/reset-password/")),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("public_url"), "{}", out.stderr);
    // public_url names the address people type.
    let named = Server::start_with(Options {
        settings: Some(r#"{"public_url": "https://chat.example.lan:5000/"}"#.into()),
        ..Options::default()
    });
    named.signup("carol");
    let out = cli(named.data_dir(), &["reset-password", "carol"]);
    assert!(
        link(&out).contains("https://chat.example.lan:5000/reset-password/"),
        "{}",
        out.stdout
    );
    assert!(!out.stderr.contains("public_url"), "{}", out.stderr);
}

#[test]
fn command_line_mistakes_say_what_is_wrong() {
    let temp = TempDir::new();
    let out = cli(temp.path(), &["backup", "--bogus", "/x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("unknown option --bogus"),
        "{}",
        out.stderr
    );
    let out = cli(temp.path(), &["delete-user", "bob", "--soft", "--hard"]);
    assert!(out.stderr.contains("not both"), "{}", out.stderr);
    // An address this machine does not have is not "another server on the port".
    let out = std::process::Command::new(crate::harness::binary())
        .args(["--host", "10.9.9.9", "--port", "0", "--data-dir"])
        .arg(temp.path())
        .env("MINIMOST_STUN_PORT", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("not an address of this machine"),
        "{stderr}"
    );
    assert!(!stderr.contains("another"), "{stderr}");
}

#[test]
fn output_cut_short_by_a_closed_pipe_is_not_a_panic() {
    let server = Server::start();
    server.signup("alice");
    let mut child = std::process::Command::new(crate::harness::binary())
        .args(["reset-password", "alice", "--data-dir"])
        .arg(server.data_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before anything is printed, like `| head -0`.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_data_dir_of_another_user_is_refused_naming_its_owner() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let setpriv = std::process::Command::new("setpriv")
        .arg("--version")
        .output();
    if !root || !setpriv.is_ok_and(|o| o.status.success()) {
        eprintln!("skipping: needs root and setpriv to act as another user");
        return;
    }
    let temp = TempDir::new();
    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    drop(server);
    for args in [&["serve", "--port", "0"][..], &["check"][..]] {
        let out = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(crate::harness::binary())
            .args(args)
            .arg("--data-dir")
            .arg(temp.path())
            .env("MINIMOST_STUN_PORT", "0")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("permission denied"), "{args:?}: {stderr}");
        assert!(stderr.contains("belongs to uid 0"), "{args:?}: {stderr}");
        assert!(stderr.contains("runs as uid 65534"), "{args:?}: {stderr}");
    }
}

#[test]
fn status_says_where_the_disk_goes_and_how_much_is_free() {
    let temp = TempDir::new();
    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    let mut alice = server.signup("alice");
    server.signup("bob");
    alice.say("general", "hello");
    let out = cli(temp.path(), &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", out.stdout, out.stderr);
    for expected in [
        "data dir:  ",
        "users/       ",
        "in 2 databases",
        "uploads/     0.0 MB in 0 files",
        "largest:",
        "users/alice.db",
        "users/bob.db",
        "free:      ",
        "refused below 200.0 MB",
        "search:    every index is up to date",
    ] {
        assert!(
            out.stdout.contains(expected),
            "{expected} missing from:\n{}",
            out.stdout
        );
    }
    // Below the floor it says so, with what to do, and exits 1 for scripts.
    let settings = temp.path().join("settings.json");
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(
        &settings,
        text.replace(
            "\"min_free_disk_mb\": 200,",
            "\"min_free_disk_mb\": 4294967295,",
        ),
    )
    .unwrap();
    let out = cli(temp.path(), &["status"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("NOW REFUSING: free space with `minimost clean`"),
        "{}",
        out.stdout
    );
    // An index far behind (as an upgrade leaves every one until the server rebuilds it) is
    // named, with what it means for searches; a round's worth of waiting rows is not.
    drop(alice);
    server.terminate();
    let db = rusqlite::Connection::open(temp.path().join("users/bob.db")).unwrap();
    db.execute_batch("UPDATE fts_state SET indexed_upto = 0; BEGIN")
        .unwrap();
    for i in 0..3_000 {
        db.execute(
            "INSERT INTO messages(channel, sender, content, ts, read) VALUES ('general', 'alice', 'old', ?1, 1)",
            [1_600_000_000.0 + i as f64],
        )
        .unwrap();
    }
    db.execute_batch("COMMIT").unwrap();
    let waiting: i64 = db
        .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    drop(db);
    let out = cli(temp.path(), &["status"]);
    assert!(
        out.stdout.contains(&format!(
            "search:    1 of 2 databases are being indexed ({waiting} older messages to go; the \
             server does it in the background): searches there may be incomplete until then"
        )),
        "{}",
        out.stdout
    );
}
