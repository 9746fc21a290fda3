//! A data dir written by the Python original (built from the SQL in tests/data/seed/) boots,
//! migrates in place without losing a row, and serves everything; old passwords work.

use crate::harness::{s, sqlite3, Options, Server, TempDir};
use crate::json::Json;
use std::path::Path;

const WINTER: &str = "Winter2024!";

fn build_seed_dir(dir: &Path) {
    std::fs::create_dir_all(dir.join("users")).unwrap();
    std::fs::create_dir_all(dir.join("uploads")).unwrap();
    std::fs::create_dir_all(dir.join("avatars")).unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/seed");
    let sql = |name: &str| std::fs::read_to_string(data.join(name)).unwrap();
    rusqlite::Connection::open(dir.join("auth.db"))
        .unwrap()
        .execute_batch(&sql("auth.sql"))
        .unwrap();
    rusqlite::Connection::open(dir.join("presence.db"))
        .unwrap()
        .execute_batch(&sql("presence.sql"))
        .unwrap();
    for (user, parts) in [
        ("alice", &["general.sql", "alice_bob.sql"][..]),
        ("bob", &["general.sql", "alice_bob.sql"]),
        ("carol", &["general.sql", "carol.sql"]),
    ] {
        let conn = rusqlite::Connection::open(dir.join(format!("users/{user}.db"))).unwrap();
        conn.execute_batch(&sql("users/schema.sql")).unwrap();
        for part in parts {
            conn.execute_batch(&sql(&format!("users/{part}"))).unwrap();
        }
    }
    std::fs::write(
        dir.join("uploads/0123456789abcdef0123456789abcdef_report.pdf"),
        b"%PDF quarterly",
    )
    .unwrap();
    std::fs::write(
        dir.join("avatars/a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0.png"),
        crate::files::PNG,
    )
    .unwrap();
    std::fs::write(dir.join("settings.json"), r#"{"channels": ["general", "random"], "image_retention_days": 30, "file_retention_days": 30, "message_retention_days": 770}"#).unwrap();
}

fn rows(db: &Path) -> Vec<String> {
    crate::harness::sqlite3_patient(
        db,
        "SELECT id, channel, sender, ts, deleted FROM messages ORDER BY id;",
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

#[test]
fn a_python_era_data_dir_boots_and_serves_everything() {
    let temp = TempDir::new();
    let dir = temp.path();
    build_seed_dir(dir);
    let before: Vec<Vec<String>> = ["alice", "bob", "carol"]
        .iter()
        .map(|u| rows(&dir.join(format!("users/{u}.db"))))
        .collect();
    let server = Server::start_in(dir, Options::default()).unwrap();
    let after: Vec<Vec<String>> = ["alice", "bob", "carol"]
        .iter()
        .map(|u| rows(&dir.join(format!("users/{u}.db"))))
        .collect();
    assert_eq!(before, after, "no row lost or changed by the migration");
    assert_eq!(
        sqlite3(
            &dir.join("presence.db"),
            "SELECT COUNT(*) FROM call_signals;"
        ),
        "1\n",
        "old tables are left alone"
    );
    assert_eq!(
        sqlite3(
            &dir.join("presence.db"),
            "SELECT state FROM presence WHERE user = 'alice';"
        ),
        "offline\n"
    );
    assert_eq!(
        sqlite3(&dir.join("presence.db"), "SELECT state FROM calls;"),
        "ended\n"
    );

    // Old passwords work, and are upgraded.
    let mut alice = server.client();
    assert_eq!(alice.login("alice", WINTER).status, 200);
    let mut bob = server.client();
    assert_eq!(bob.login("bob", WINTER).status, 200);
    let mut carol = server.client();
    assert_eq!(carol.login("carol", "Passw0rd!").status, 200);
    assert!(sqlite3(
        &dir.join("auth.db"),
        "SELECT password_hash FROM users WHERE username = 'alice';"
    )
    .starts_with("$argon2id$"));

    // The sidebar.
    let channels = alice.get("/api/channels").json();
    let private = channels.get("private").unwrap();
    assert_eq!(
        private,
        &Json::Arr(vec![Json::obj([
            ("id", "private:1".into()),
            ("name", "ops".into()),
            ("members", Json::Arr(vec!["alice".into(), "bob".into()])),
            ("created_by", "alice".into()),
            ("unread", Json::Num(1.0)),
            ("mentions", Json::Num(0.0)),
            ("pins", Json::Num(0.0)),
            ("level", "all".into()),
        ])])
    );
    let Some(Json::Arr(dms)) = channels.get("dms") else {
        panic!()
    };
    assert_eq!(s(&dms[0], "id"), "dm:alice:bob");
    assert_eq!(
        dms[0].get("unread").and_then(Json::as_u64),
        Some(1),
        "bob's answer is unread; alice's own message never counts"
    );
    let Some(Json::Arr(public)) = channels.get("public") else {
        panic!()
    };
    assert_eq!(
        public[0].get("unread").and_then(Json::as_u64),
        Some(1),
        "carol's edited message is unread; her deleted one and alice's own never count"
    );

    // Messages: reply resolved through the sender's database, text + file, edit, tombstone, reactions.
    let general = alice.messages("general");
    assert_eq!(general.len(), 5);
    assert_eq!(s(&general[0], "text"), "Welcome to MiniMost!");
    assert_eq!(
        general[0].get("reactions"),
        Some(&Json::obj([
            ("thumbsup", Json::Arr(vec!["bob".into()])),
            ("heart", Json::Arr(vec!["carol".into()]))
        ]))
    );
    assert_eq!(s(&general[1], "reply_to"), "1700000000.1");
    assert_eq!(s(&general[2], "text"), "Here is the quarterly report");
    let Some(Json::Arr(files)) = general[2].get("files") else {
        panic!()
    };
    assert_eq!(
        (s(&files[0], "original"), files[0].get("gone")),
        ("report.pdf", Some(&Json::Bool(false)))
    );
    assert_eq!(alice.get(s(&files[0], "url")).body, b"%PDF quarterly");
    assert_eq!(general[3].get("edited_ts"), Some(&Json::Num(1700000310.0)));
    assert_eq!(
        (general[4].get("deleted"), s(&general[4], "text")),
        (Some(&Json::Bool(true)), "")
    );
    let receipts = alice.get("/api/channels/general/receipts").json();
    assert_eq!(
        receipts,
        Json::obj([(
            "1700000000.1",
            Json::Arr(vec!["bob".into(), "carol".into()])
        )])
    );
    assert_eq!(alice.messages("private:1").len(), 2);
    assert_eq!(alice.get("/avatars/alice").body, crate::files::PNG);
    let users = alice.get("/api/users").json();
    let Json::Arr(users) = users else { panic!() };
    assert_eq!(s(&users[0], "name_color"), "#e91e63");

    // Search covers the old rows; the reset notice conversation is there and read-only.
    let hits = alice.get("/api/search?q=quarterly").json();
    assert!(matches!(&hits, Json::Arr(h) if h.len() == 1), "{hits:?}");
    let carol_channels = carol.get("/api/channels").json();
    let Some(Json::Arr(carol_dms)) = carol_channels.get("dms") else {
        panic!()
    };
    assert_eq!(s(&carol_dms[0], "id"), "dm:carol:system");
    assert_eq!(
        carol
            .post(
                "/api/channels/dm%3Acarol%3Asystem/messages",
                &Json::obj([("text", "hi".into())])
            )
            .status,
        403
    );

    // New activity mixes with the old.
    let reply = bob.post(
        "/api/channels/general/messages",
        &Json::obj([
            ("text", "a new reply".into()),
            ("reply_to", "1700000100.2".into()),
        ]),
    );
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(s(&reply.json(), "reply_to"), "1700000100.2");
    assert_eq!(alice.messages("general").len(), 6);
    let versions: Vec<String> = ["auth.db", "presence.db", "users/carol.db"]
        .iter()
        .map(|d| {
            sqlite3(&dir.join(d), "PRAGMA user_version;")
                .trim()
                .to_owned()
        })
        .collect();
    assert!(versions.iter().all(|v| v != "0"), "{versions:?}");
}
