//! A user's own account through the real server: password changes and guesses from a stolen
//! session, soft and hard deletion across every copy.

use crate::harness::{s, Server, PASSWORD};
use crate::json::Json;

const NEW_PASSWORD: &str = "N3w-Secret!";

#[test]
fn a_stolen_session_cannot_guess_the_password() {
    let server = Server::start_with(crate::harness::Options {
        settings: Some(r#"{"max_login_attempts": 3}"#.into()),
        ..Default::default()
    });
    let mut thief = server.signup("alice");
    let guess = |c: &mut crate::harness::Client, path: &str, guess: &str| {
        let body = if path == "/api/account/password" {
            Json::obj([
                ("current_password", guess.into()),
                ("new_password", NEW_PASSWORD.into()),
                ("confirm_password", NEW_PASSWORD.into()),
            ])
        } else {
            Json::obj([("mode", "hard".into()), ("password", guess.into())])
        };
        c.post(path, &body).status
    };
    assert_eq!(guess(&mut thief, "/api/account/password", "Guess-1!"), 403);
    assert_eq!(guess(&mut thief, "/api/account/delete", "Guess-2!"), 403);
    assert_eq!(guess(&mut thief, "/api/account/password", "Guess-3!"), 403);
    // The three wrong checks locked the account: even the right password is refused now, and
    // logins are locked as well.
    assert_eq!(guess(&mut thief, "/api/account/password", PASSWORD), 423);
    assert_eq!(guess(&mut thief, "/api/account/delete", PASSWORD), 423);
    assert_eq!(server.client().login("alice", PASSWORD).status, 423);
    assert_eq!(
        thief.get("/api/me").status,
        200,
        "the account is still there"
    );
}

#[test]
fn changing_the_password_keeps_this_session_and_ends_the_others() {
    let server = Server::start();
    let mut here = server.signup("alice");
    let mut elsewhere = server.client();
    assert_eq!(elsewhere.login("alice", PASSWORD).status, 200);
    let mut elsewhere_ws = elsewhere.ws();
    let change = |c: &mut crate::harness::Client, current: &str, new: &str, confirm: &str| {
        c.post(
            "/api/account/password",
            &Json::obj([
                ("current_password", current.into()),
                ("new_password", new.into()),
                ("confirm_password", confirm.into()),
            ]),
        )
    };
    let res = change(&mut here, "Wrong-123!", NEW_PASSWORD, NEW_PASSWORD);
    assert_eq!(res.status, 403);
    assert_eq!(change(&mut here, PASSWORD, "weak", "weak").status, 400);
    assert_eq!(
        change(&mut here, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).status,
        204
    );
    elsewhere_ws.expect_event("session_revoked");
    assert_eq!(here.get("/api/me").status, 200);
    assert_eq!(elsewhere.get("/api/me").status, 401);
    assert_eq!(server.client().login("alice", PASSWORD).status, 401);
    assert_eq!(server.client().login("alice", NEW_PASSWORD).status, 200);
}

fn setup(
    server: &Server,
) -> (
    crate::harness::Client<'_>,
    crate::harness::Client<'_>,
    String,
) {
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    let doc = alice.upload("notes.txt", b"alice's notes").json();
    let body = Json::obj([
        ("text", "hello all".into()),
        ("files", Json::Arr(vec![doc.get("name").unwrap().clone()])),
    ]);
    assert_eq!(
        alice.post("/api/channels/general/messages", &body).status,
        201
    );
    alice.say("dm:alice:bob", "psst");
    let from_bob = bob.say("general", "hi alice");
    let react = Json::obj([("emoji", "heart".into())]);
    alice.post(
        &format!(
            "/api/channels/general/messages/{}/reactions",
            s(&from_bob, "id")
        ),
        &react,
    );
    let channel = alice
        .post(
            "/api/private-channels",
            &Json::obj([
                ("name", "club".into()),
                ("members", Json::Arr(vec!["bob".into()])),
            ]),
        )
        .json();
    assert_eq!(
        alice
            .send(
                "PUT",
                "/api/me/avatar",
                Some("image/png"),
                crate::files::PNG
            )
            .status,
        200
    );
    bob.post("/api/channels/general/read", &Json::Null);
    alice.post("/api/channels/general/read", &Json::Null);
    (alice, bob, s(&channel, "id").to_owned())
}

fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn assert_account_gone(server: &Server) {
    let auth = rusqlite::Connection::open(server.data_dir().join("auth.db")).unwrap();
    for table in [
        "users",
        "user_settings",
        "sessions",
        "password_reset_tokens",
    ] {
        assert_eq!(
            count(
                &auth,
                &format!("SELECT COUNT(*) FROM {table} WHERE username = 'alice'")
            ),
            0,
            "{table}"
        );
    }
    let presence = rusqlite::Connection::open(server.data_dir().join("presence.db")).unwrap();
    for (table, column) in [
        ("presence", "user"),
        ("typing", "user"),
        ("read_receipts", "reader"),
        ("message_reactions", "reactor"),
        ("private_channel_members", "username"),
        ("call_participants", "username"),
    ] {
        assert_eq!(
            count(
                &presence,
                &format!("SELECT COUNT(*) FROM {table} WHERE {column} = 'alice'")
            ),
            0,
            "{table}"
        );
    }
    assert_eq!(
        count(
            &presence,
            "SELECT COUNT(*) FROM private_channels WHERE created_by = 'alice'"
        ),
        1,
        "her channels stay"
    );
    assert_eq!(
        std::fs::read_dir(server.data_dir().join("avatars"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn soft_delete_reattributes_every_copy() {
    let server = Server::start();
    let (mut alice, mut bob, _) = setup(&server);
    let mut ws = alice.ws();
    let res = alice.post(
        "/api/account/delete",
        &Json::obj([("mode", "soft".into()), ("password", "nope".into())]),
    );
    assert_eq!(res.status, 403);
    let res = alice.post(
        "/api/account/delete",
        &Json::obj([("mode", "soft".into()), ("password", PASSWORD.into())]),
    );
    assert_eq!(res.status, 204, "{}", res.text());
    ws.expect_event("session_revoked");
    assert_eq!(alice.get("/api/me").status, 401);
    assert_account_gone(&server);
    let bob_db = rusqlite::Connection::open(server.data_dir().join("users/bob.db")).unwrap();
    assert_eq!(
        count(
            &bob_db,
            "SELECT COUNT(*) FROM messages WHERE sender = 'alice'"
        ),
        0
    );
    assert_eq!(
        count(
            &bob_db,
            "SELECT COUNT(*) FROM messages WHERE sender = 'Deleted User'"
        ),
        3,
        "text row, file row, DM"
    );
    let general = bob.messages("general");
    assert_eq!(s(&general[0], "sender"), "Deleted User");
    assert_eq!(
        general[0]
            .get("files")
            .map(|f| matches!(f, Json::Arr(a) if a.len() == 1)),
        Some(true)
    );
    assert!(
        server.data_dir().join("users/alice.db").exists(),
        "a soft delete keeps her database"
    );
    assert_eq!(
        bob.messages("dm:alice:bob").len(),
        1,
        "the DM stays readable"
    );
    assert_eq!(
        bob.say("dm:alice:bob", "are you there?")
            .get("channel")
            .and_then(Json::as_str),
        Some("dm:alice:bob")
    );
    // The name is free again, with a fresh database.
    let mut again = server.signup("alice");
    assert!(again.messages("dm:alice:bob").is_empty());
    assert_eq!(again.messages("general").len(), 2);
}

#[test]
fn hard_delete_removes_every_message_everywhere() {
    let server = Server::start();
    let (mut alice, mut bob, private) = setup(&server);
    let res = alice.post(
        "/api/account/delete",
        &Json::obj([("mode", "hard".into()), ("password", PASSWORD.into())]),
    );
    assert_eq!(res.status, 204, "{}", res.text());
    assert_account_gone(&server);
    assert!(!server.data_dir().join("users/alice.db").exists());
    let bob_db = rusqlite::Connection::open(server.data_dir().join("users/bob.db")).unwrap();
    assert_eq!(
        count(
            &bob_db,
            "SELECT COUNT(*) FROM messages WHERE sender IN ('alice', 'Deleted User')"
        ),
        0
    );
    let texts: Vec<String> = bob
        .messages("general")
        .iter()
        .map(|m| s(m, "text").to_owned())
        .collect();
    assert_eq!(texts, vec!["hi alice"]);
    let uploads = std::fs::read_dir(server.data_dir().join("uploads"))
        .unwrap()
        .count();
    assert_eq!(uploads, 0, "her files went with her messages");
    assert_eq!(
        bob.messages(&private).len(),
        1,
        "the channel she created stays for bob"
    );
    assert_eq!(
        alice
            .post(
                "/api/account/delete",
                &Json::obj([("mode", "hard".into()), ("password", PASSWORD.into())])
            )
            .status,
        401
    );
}
