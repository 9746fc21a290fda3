//! Each recipe of the administrator's manual (seed/administration.txt), run with the real
//! `sqlite3` tool against a data dir our server wrote — most while the server is running.

use crate::harness::{s, sqlite3, Options, Server, TempDir, PASSWORD};
use crate::json::Json;

fn populated(server: &Server) -> (crate::harness::Client<'_>, crate::harness::Client<'_>) {
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    alice.say("general", "deploy tonight");
    let gone = alice.say("general", "typo");
    alice.delete(&format!(
        "/api/channels/general/messages/{}",
        s(&gone, "id")
    ));
    bob.say("general", "ok");
    alice.say("dm:alice:bob", "secret sauce");
    // Bob's copy follows alice's 201; his read through the server waits for it, so the
    // recipes below see every copy.
    assert_eq!(bob.messages("dm:alice:bob").len(), 1);
    (alice, bob)
}

#[test]
fn user_management_and_monitoring_recipes() {
    let server = Server::start();
    let (_alice, _bob) = populated(&server);
    let dir = server.data_dir();
    assert_eq!(
        sqlite3(&dir.join("auth.db"), "SELECT username FROM users;"),
        "alice\nbob\n"
    );
    // "Count messages per user"
    let counts: Vec<String> = ["alice", "bob"]
        .iter()
        .map(|u| {
            format!(
                "{u}: {}",
                sqlite3(
                    &dir.join(format!("users/{u}.db")),
                    "SELECT COUNT(*) FROM messages WHERE deleted=0;"
                )
                .trim()
            )
        })
        .collect();
    assert_eq!(counts, vec!["alice: 3", "bob: 3"]);
    // Reset-token purge with unixepoch().
    let auth = dir.join("auth.db");
    sqlite3(&auth, "INSERT INTO password_reset_tokens VALUES ('a', 'alice', unixepoch() + 600, 1), ('b', 'alice', unixepoch() - 1, 0), ('c', 'alice', unixepoch() + 600, 0);");
    sqlite3(
        &auth,
        "DELETE FROM password_reset_tokens WHERE used = 1 OR expires_ts < unixepoch();",
    );
    assert_eq!(
        sqlite3(&auth, "SELECT token FROM password_reset_tokens;"),
        "c\n"
    );
}

#[test]
fn maintenance_recipes_run_while_the_server_serves() {
    let server = Server::start();
    let (mut alice, mut bob) = populated(&server);
    let dir = server.data_dir();
    let alice_db = dir.join("users/alice.db");
    let checkpoint = sqlite3(&alice_db, "PRAGMA wal_checkpoint(FULL);");
    assert!(checkpoint.starts_with("0|"), "{checkpoint}");
    sqlite3(&alice_db, "VACUUM;");
    for db in ["auth.db", "presence.db", "users/alice.db", "users/bob.db"] {
        assert_eq!(
            sqlite3(&dir.join(db), "PRAGMA integrity_check;"),
            "ok\n",
            "{db}"
        );
    }
    // The server carries on after all of that.
    bob.say("general", "still here");
    assert_eq!(alice.messages("general").len(), 4);
    let res = alice.get("/api/search?q=deploy");
    assert_eq!(
        res.json(),
        Json::Arr(vec![alice.messages("general")[0].clone()])
    );
}

#[test]
fn the_manual_hard_delete_recipe_works_against_a_live_server() {
    let server = Server::start();
    let (mut alice, mut bob) = populated(&server);
    let dir = server.data_dir();
    // Searching first puts her messages in bob's search index; the recipe must take them out.
    assert!(matches!(bob.get("/api/search?q=secret").json(), Json::Arr(hits) if hits.len() == 1));
    // Bob pins one of her messages; the recipe's pins line takes the pin away with it.
    let hers = bob.messages("dm:alice:bob")[0].clone();
    let pin = format!(
        "/api/channels/dm%3Aalice%3Abob/messages/{}/pin",
        s(&hers, "id")
    );
    assert_eq!(bob.post(&pin, &Json::obj([])).status, 200);
    let auth = dir.join("auth.db");
    sqlite3(&auth, "DELETE FROM users WHERE username = 'alice';");
    sqlite3(&auth, "DELETE FROM user_settings WHERE username = 'alice';");
    sqlite3(
        &auth,
        "DELETE FROM password_reset_tokens WHERE username = 'alice';",
    );
    for user in ["alice", "bob"] {
        sqlite3(
            &dir.join(format!("users/{user}.db")),
            "DELETE FROM messages WHERE sender = 'alice';",
        );
    }
    std::fs::remove_file(dir.join("users/alice.db")).unwrap();
    let presence = dir.join("presence.db");
    for sql in [
        "DELETE FROM presence WHERE user = 'alice';",
        "DELETE FROM typing WHERE user = 'alice';",
        "DELETE FROM read_receipts WHERE reader = 'alice';",
        "DELETE FROM message_reactions WHERE reactor = 'alice';",
        "DELETE FROM private_channel_members WHERE username = 'alice';",
        "DELETE FROM call_participants WHERE username = 'alice';",
        "DELETE FROM pins WHERE sender = 'alice';",
    ] {
        sqlite3(&presence, sql);
    }
    let dms = bob.get("/api/channels").json();
    let Some(Json::Arr(dms)) = dms.get("dms") else {
        panic!("no dms")
    };
    assert!(
        dms.iter()
            .all(|d| d.get("pins").and_then(Json::as_u64) == Some(0)),
        "no pin left counted: {dms:?}"
    );
    assert_eq!(
        alice.get("/api/me").status,
        401,
        "her session dies with her account row"
    );
    let texts: Vec<String> = bob
        .messages("general")
        .iter()
        .map(|m| s(m, "text").to_owned())
        .collect();
    assert_eq!(texts, vec!["ok"]);
    assert_eq!(
        bob.get("/api/search?q=secret").json(),
        Json::Arr(vec![]),
        "search forgets deleted rows"
    );
    bob.say("general", "after alice");
    let mut again = server.signup("alice");
    assert_eq!(
        again.messages("general").len(),
        2,
        "the name starts over with public history"
    );
}

#[test]
fn backup_with_dot_backup_and_migrating_by_copying_files() {
    let temp = TempDir::new();
    let dir = temp.path().join("old");
    let server = Server::start_in(&dir, Options::default()).unwrap();
    let (alice, _bob) = populated(&server);
    let cookie = alice.cookie.clone();
    // Hot backup with sqlite3's .backup while the server runs, plus the key files.
    let hot = temp.path().join("hot");
    std::fs::create_dir_all(hot.join("users")).unwrap();
    for db in ["auth.db", "presence.db", "users/alice.db", "users/bob.db"] {
        sqlite3(
            &dir.join(db),
            &format!(".backup {}", hot.join(db).display()),
        );
    }
    for file in [
        "secret.key",
        "cert.pem",
        "key.pem",
        "ca.pem",
        "settings.json",
    ] {
        std::fs::copy(dir.join(file), hot.join(file)).unwrap();
    }
    drop(alice);
    let (status, _) = server.terminate();
    assert!(status.success());
    // "Migrating to a new server": stop, copy the files, start; sessions keep working.
    let moved = temp.path().join("new");
    std::fs::create_dir_all(&moved).unwrap();
    let copy = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", dir.display()))
        .arg(&moved)
        .status()
        .unwrap();
    assert!(copy.success());
    for target in [&hot, &moved] {
        let server = Server::start_in(target, Options::default()).unwrap();
        let mut alice = server.client();
        alice.cookie = cookie.clone();
        assert_eq!(alice.get("/api/me").status, 200, "{}", target.display());
        assert_eq!(alice.messages("general").len(), 3);
        assert_eq!(alice.messages("dm:alice:bob").len(), 1);
    }
}

#[test]
fn adding_and_removing_a_channel_in_settings() {
    let temp = TempDir::new();
    let dir = temp.path();
    let server = Server::start_in(dir, Options::default()).unwrap();
    let mut alice = server.signup("alice");
    alice.say("random", "off topic");
    let cookie = alice.cookie.clone();
    drop(alice);
    drop(server);
    let settings = std::fs::read_to_string(dir.join("settings.json")).unwrap();
    std::fs::write(
        dir.join("settings.json"),
        settings.replace(r#"["general", "random"]"#, r#"["general", "design"]"#),
    )
    .unwrap();
    let server = Server::start_in(dir, Options::default()).unwrap();
    let mut alice = server.client();
    alice.cookie = cookie;
    let channels = alice.get("/api/channels").json();
    let names: Vec<String> = match channels.get("public") {
        Some(Json::Arr(list)) => list.iter().map(|c| s(c, "id").to_owned()).collect(),
        _ => panic!(),
    };
    assert_eq!(names, vec!["general", "design"]);
    assert_eq!(
        alice.get("/api/channels/random/messages").status,
        404,
        "removed channels are no longer accessible"
    );
    assert_eq!(
        sqlite3(
            &dir.join("users/alice.db"),
            "SELECT content FROM messages WHERE channel = 'random';"
        ),
        "off topic\n",
        "but their messages remain"
    );
    alice.say("design", "new channel works");
    assert_eq!(alice.login("alice", PASSWORD).status, 200);
}
