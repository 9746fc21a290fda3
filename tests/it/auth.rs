//! Accounts through the real server: signup rules, login, logout, the lockout (also under
//! concurrent guesses), per-address rate limits, sessions and their expiry.

use crate::harness::{Options, Server, TempDir, PASSWORD};
use crate::json::Json;

fn signup_body(name: &str, password: &str, confirm: &str) -> Json {
    Json::obj([
        ("username", name.into()),
        ("password", password.into()),
        ("confirm_password", confirm.into()),
    ])
}

#[test]
fn signup_creates_the_account_its_database_and_a_secure_session() {
    let server = Server::start();
    let mut client = server.client();
    let res = client.post("/api/signup", &signup_body("Alice", PASSWORD, PASSWORD));
    assert_eq!(res.status, 201, "{}", res.text());
    assert_eq!(
        res.json().get("username").and_then(Json::as_str),
        Some("Alice")
    );
    let cookie = res.header("set-cookie").unwrap();
    for attribute in [
        "minimost_session=",
        "HttpOnly",
        "SameSite=Lax",
        "Secure",
        "Path=/",
    ] {
        assert!(
            cookie.contains(attribute),
            "{attribute} missing in {cookie}"
        );
    }
    let me = client.get("/api/me").json();
    assert_eq!(me.get("username").and_then(Json::as_str), Some("Alice"));
    assert_eq!(me.get("max_upload_mb").and_then(Json::as_u64), Some(25));
    assert_eq!(me.get("avatar_url"), Some(&Json::Null));

    let auth = rusqlite::Connection::open(server.data_dir().join("auth.db")).unwrap();
    let hash: String = auth
        .query_row(
            "SELECT password_hash FROM users WHERE username = 'Alice'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let sessions: i64 = auth
        .query_row(
            "SELECT COUNT(*) FROM sessions WHERE username = 'Alice'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(sessions, 1);
    let user_db = rusqlite::Connection::open(server.data_dir().join("users/Alice.db")).unwrap();
    let n: i64 = user_db
        .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0, "the per-user database exists with the messages table");
}

#[test]
fn signup_refuses_weak_passwords_with_the_first_failing_rule() {
    let server = Server::start();
    let mut client = server.client();
    for (password, confirm, message) in [
        (
            "Sh0rt!",
            "Sh0rt!",
            "Password must be at least 8 characters long",
        ),
        (
            "NoDigits!!",
            "NoDigits!!",
            "Password must contain at least one digit",
        ),
        (
            "lower123!",
            "lower123!",
            "Password must contain at least one uppercase letter",
        ),
        (
            "NoSpecial123",
            "NoSpecial123",
            "Password must contain at least one special character (!@#$%^&* etc.)",
        ),
        ("Passw0rd!", "Passw0rd?", "Passwords do not match"),
    ] {
        let res = client.post("/api/signup", &signup_body("alice", password, confirm));
        assert_eq!(
            (res.status, res.error().as_str()),
            (400, message),
            "{password}"
        );
    }
    let long = format!("Aa1!{}", "x".repeat(1100));
    let res = client.post("/api/signup", &signup_body("alice", &long, &long));
    assert_eq!(
        (res.status, res.error().as_str()),
        (400, "Password must be at most 1024 bytes")
    );
    let res = client.post("/api/signup", &Json::obj([("username", "alice".into())]));
    assert_eq!(
        (res.status, res.error().as_str()),
        (400, "\"password\" is required")
    );
    let auth = rusqlite::Connection::open(server.data_dir().join("auth.db")).unwrap();
    let n: i64 = auth
        .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0, "no half-created account");
    assert!(!server.data_dir().join("users/alice.db").exists());
}

#[test]
fn signup_refuses_bad_taken_and_reserved_names() {
    let server = Server::start();
    server.signup("alice");
    let mut client = server.client();
    for name in ["alice", "ALICE", "Alice"] {
        let res = client.post("/api/signup", &signup_body(name, PASSWORD, PASSWORD));
        assert_eq!(res.status, 409, "{name}");
        assert!(res.error().contains("already taken"));
    }
    for name in [
        "system",
        "MiniMost",
        "EVERYONE",
        "Channel",
        "here",
        "deleted-user",
        "Deleted_User",
    ] {
        let res = client.post("/api/signup", &signup_body(name, PASSWORD, PASSWORD));
        assert_eq!(res.status, 400, "{name}");
        assert!(res.error().contains("reserved"), "{}", res.error());
    }
    for name in [
        "",
        "has space",
        "../etc",
        "élise",
        &"x".repeat(33),
        "a/b",
        "a\0b",
    ] {
        let res = client.post("/api/signup", &signup_body(name, PASSWORD, PASSWORD));
        assert_eq!(res.status, 400, "{name:?}");
        assert!(res.error().starts_with("Username"), "{}", res.error());
    }
    assert!(client.cookie.is_none());
    let users: Vec<String> = std::fs::read_dir(server.data_dir().join("users"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".db"))
        .collect();
    assert_eq!(users, vec!["alice.db"]);
}

#[test]
fn login_accepts_any_case_and_refuses_wrong_passwords() {
    let server = Server::start();
    server.signup("Alice");
    let mut client = server.client();
    let res = client.login("alice", "Wrong123!");
    assert_eq!(
        (res.status, res.error().as_str()),
        (401, "Invalid credentials")
    );
    let res = client.login("nobody", PASSWORD);
    assert_eq!(
        (res.status, res.error().as_str()),
        (401, "Invalid credentials"),
        "unknown users look the same"
    );
    assert!(client.cookie.is_none());
    let res = client.login("aLiCe", PASSWORD);
    assert_eq!(res.status, 200);
    assert_eq!(
        res.json().get("username").and_then(Json::as_str),
        Some("Alice")
    );
    assert_eq!(
        client
            .get("/api/me")
            .json()
            .get("username")
            .and_then(Json::as_str),
        Some("Alice")
    );
}

#[test]
fn logout_revokes_the_session() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let stolen = alice.cookie.clone();
    let res = alice.post("/api/logout", &Json::Null);
    assert_eq!(res.status, 204);
    assert!(res.header("set-cookie").unwrap().contains("Max-Age=0"));
    let mut replay = server.client();
    replay.cookie = stolen;
    assert_eq!(replay.get("/api/me").status, 401);
    assert_eq!(replay.get("/").header("location"), Some("/login"));
}

#[test]
fn lockout_after_consecutive_failures_even_with_the_right_password() {
    let options = Options {
        settings: Some(r#"{"max_login_attempts": 3, "lockout_duration_minutes": 2}"#.into()),
        ..Options::default()
    };
    let server = Server::start_with(options);
    server.signup("alice");
    let mut client = server.client();
    for _ in 0..3 {
        assert_eq!(client.login("alice", "Wrong123!").status, 401);
    }
    let res = client.login("alice", PASSWORD);
    assert_eq!(res.status, 423);
    assert!(res.error().contains("2 minutes"), "{}", res.error());
    // Once the lock has passed, the right password works again.
    let auth = rusqlite::Connection::open(server.data_dir().join("auth.db")).unwrap();
    auth.execute(
        "UPDATE login_failures SET locked_until = 1 WHERE username = 'alice'",
        [],
    )
    .unwrap();
    assert_eq!(client.login("alice", PASSWORD).status, 200);
}

#[test]
fn concurrent_guesses_cannot_get_past_the_lockout() {
    let options = Options {
        settings: Some(r#"{"max_login_attempts": 5}"#.into()),
        ..Options::default()
    };
    let server = Server::start_with(options);
    server.signup("alice");
    // 30 wrong guesses at once: exactly 5 are checked (the 5th sets the lock), the rest are
    // refused unchecked. (A right password among them could win the race and, as a success
    // does, start a new count, so the right one comes after.)
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let guesses: Vec<_> = (0..30)
            .map(|_| {
                let server = &server;
                scope.spawn(move || server.client().login("alice", "Wrong123!").status)
            })
            .collect();
        guesses.into_iter().map(|g| g.join().unwrap()).collect()
    });
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(checked, 5, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [401, 423].contains(s)),
        "{statuses:?}"
    );
    // The lock holds even for the right password.
    assert_eq!(server.client().login("alice", PASSWORD).status, 423);
}

#[test]
fn per_ip_rate_limits_answer_429_with_retry_after() {
    let options = Options {
        settings: Some(r#"{"rate_limits": {"login": [3, 60], "signup": [2, 3600]}}"#.into()),
        ..Options::default()
    };
    let server = Server::start_with(options);
    let mut client = server.client();
    for _ in 0..3 {
        assert_eq!(client.login("ghost", PASSWORD).status, 401);
    }
    let res = client.login("ghost", PASSWORD);
    assert_eq!(res.status, 429);
    let retry: u64 = res.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(res.error().contains("try again"), "{}", res.error());
    server.signup("a");
    server.signup("b");
    let res = client.post("/api/signup", &signup_body("c", PASSWORD, PASSWORD));
    assert_eq!(res.status, 429);
}

#[test]
fn state_changing_requests_must_come_from_the_same_origin() {
    let server = Server::start();
    let body = signup_body("alice", PASSWORD, PASSWORD).to_json_string();
    let json = ("Content-Type", "application/json");
    let res = server.request(
        "POST",
        "/api/signup",
        &[json, ("Origin", "https://evil.example")],
        body.as_bytes(),
    );
    assert_eq!(res.status, 403);
    assert!(res.error().contains("Cross-origin"));
    let res = server.request("POST", "/api/signup", &[json], body.as_bytes());
    assert_eq!(res.status, 403, "no Origin and no Sec-Fetch-Site");
    let res = server.request(
        "POST",
        "/api/signup",
        &[json, ("Sec-Fetch-Site", "cross-site")],
        body.as_bytes(),
    );
    assert_eq!(res.status, 403);
    let other_port = format!("https://localhost:{}", server.addr.port() + 1);
    let res = server.request(
        "POST",
        "/api/signup",
        &[json, ("Origin", &other_port)],
        body.as_bytes(),
    );
    assert_eq!(res.status, 403);
    let res = server.request(
        "POST",
        "/api/signup",
        &[json, ("Sec-Fetch-Site", "same-origin")],
        body.as_bytes(),
    );
    assert_eq!(res.status, 201);
    // The scheme is not compared, so a TLS-terminating proxy that keeps Host works.
    let http_origin = format!("http://localhost:{}", server.addr.port());
    let res = server.request(
        "POST",
        "/api/logout",
        &[json, ("Origin", &http_origin)],
        b"",
    );
    assert_eq!(res.status, 204);
}

#[test]
fn replacing_secret_key_invalidates_every_session() {
    let temp = TempDir::new();
    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    let cookie = server.signup("alice").cookie;
    drop(server);
    std::fs::remove_file(temp.path().join("secret.key")).unwrap();
    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    let mut alice = server.client();
    alice.cookie = cookie;
    assert_eq!(alice.get("/api/me").status, 401);
    assert_eq!(
        alice.login("alice", PASSWORD).status,
        200,
        "the account itself is intact"
    );
}

#[test]
fn idle_sessions_expire_and_removed_users_are_rejected_at_once() {
    let options = Options {
        settings: Some(r#"{"session_idle_days": 1}"#.into()),
        ..Options::default()
    };
    let server = Server::start_with(options);
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    let auth = rusqlite::Connection::open(server.data_dir().join("auth.db")).unwrap();
    auth.execute(
        "UPDATE sessions SET last_seen_ts = last_seen_ts - 2 * 86400 WHERE username = 'alice'",
        [],
    )
    .unwrap();
    assert_eq!(alice.get("/api/me").status, 401);
    // The manual's removal recipe: the session dies with the account row.
    auth.execute("DELETE FROM users WHERE username = 'bob'", [])
        .unwrap();
    assert_eq!(bob.get("/api/me").status, 401);
}

#[test]
fn hashes_from_the_python_original_log_in_and_are_upgraded() {
    let temp = TempDir::new();
    let vectors = include_str!("../data/werkzeug_hashes.tsv");
    let rows: Vec<(&str, &str)> = vectors
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split_once('\t').unwrap())
        .collect();
    // An auth.db as the Python original wrote it: its tables only, user_version 0.
    let auth = rusqlite::Connection::open(temp.path().join("auth.db")).unwrap();
    auth.execute_batch(
        "CREATE TABLE users(username TEXT PRIMARY KEY, password_hash TEXT NOT NULL);",
    )
    .unwrap();
    let (pbkdf2_password, pbkdf2_hash) =
        rows.iter().find(|(_, h)| h.starts_with("pbkdf2:")).unwrap();
    let (scrypt_password, scrypt_hash) =
        rows.iter().find(|(_, h)| h.starts_with("scrypt:")).unwrap();
    auth.execute(
        "INSERT INTO users VALUES ('old_pbkdf2', ?1), ('old_scrypt', ?2)",
        [pbkdf2_hash, scrypt_hash],
    )
    .unwrap();
    drop(auth);
    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    let mut client = server.client();
    assert_eq!(client.login("old_pbkdf2", "wrong").status, 401);
    assert_eq!(client.login("old_pbkdf2", pbkdf2_password).status, 200);
    assert_eq!(client.login("old_scrypt", scrypt_password).status, 200);
    let auth = rusqlite::Connection::open(temp.path().join("auth.db")).unwrap();
    for user in ["old_pbkdf2", "old_scrypt"] {
        let hash: String = auth
            .query_row(
                "SELECT password_hash FROM users WHERE username = ?1",
                [user],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$"),
            "{user} was re-hashed: {hash}"
        );
    }
    assert_eq!(
        client.login("old_pbkdf2", pbkdf2_password).status,
        200,
        "the new hash verifies"
    );
}

#[test]
fn lockout_and_idle_expiry_follow_settings_json_without_a_restart() {
    let server = Server::start();
    server.signup("alice");
    let mut bob = server.signup("bob");
    let path = server.data_dir().join("settings.json");
    let settings = std::fs::read_to_string(&path).unwrap();
    let edited = settings
        .replace("\"max_login_attempts\": 5", "\"max_login_attempts\": 2")
        .replace("\"session_idle_days\": 14", "\"session_idle_days\": 1");
    assert_ne!(edited, settings);
    std::fs::write(&path, edited).unwrap();
    let mut client = server.client();
    for _ in 0..2 {
        assert_eq!(client.login("alice", "Wrong123!").status, 401);
    }
    assert_eq!(
        client.login("alice", PASSWORD).status,
        423,
        "the new limit applies at once"
    );
    let auth = rusqlite::Connection::open(server.data_dir().join("auth.db")).unwrap();
    auth.execute(
        "UPDATE sessions SET last_seen_ts = last_seen_ts - 2 * 86400 WHERE username = 'bob'",
        [],
    )
    .unwrap();
    assert_eq!(
        bob.get("/api/me").status,
        401,
        "so does the new idle expiry"
    );
}
