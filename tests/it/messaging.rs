//! Messaging through the real server: one copy per member and a push to each, DMs, access rules
//! on every read and write, edits, deletes, replies, reactions, catch-up, paging and receipts.

use crate::harness::{enc, s, Options, Server, TempDir};
use crate::json::Json;
use std::time::Duration;

fn user_db(server: &Server, user: &str) -> rusqlite::Connection {
    rusqlite::Connection::open(server.data_dir().join(format!("users/{user}.db"))).unwrap()
}

/// (sender, content, read, deleted) of every row of `channel` in a user's database.
fn rows(server: &Server, user: &str, channel: &str) -> Vec<(String, String, i64, i64, f64)> {
    let conn = user_db(server, user);
    let mut stmt = conn
        .prepare("SELECT sender, content, read, deleted, ts FROM messages WHERE channel = ?1 ORDER BY ts")
        .unwrap();
    let rows = stmt
        .query_map([channel], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn text(body: &str) -> Json {
    Json::obj([("text", body.into())])
}

#[test]
fn a_public_message_is_stored_once_per_member_and_pushed_to_all() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    let mut bob_ws = bob.ws();
    let message = alice.say("general", "hello @bob");
    assert_eq!(s(&message, "sender"), "alice");
    assert_eq!(s(&message, "text"), "hello @bob");
    let id = s(&message, "id").to_owned();
    assert_eq!(
        id.parse::<f64>().unwrap(),
        message.get("ts").unwrap().as_f64().unwrap()
    );

    let event = bob_ws.expect_event("message");
    assert_eq!(event.get("message"), Some(&message));
    // Bob's copy is committed right after alice's 201; reading through the server waits for it.
    assert_eq!(bob.messages("general"), vec![message.clone()]);

    let alice_rows = rows(&server, "alice", "general");
    let bob_rows = rows(&server, "bob", "general");
    assert_eq!(alice_rows.len(), 1);
    assert_eq!(bob_rows.len(), 1);
    assert_eq!(alice_rows[0].4, bob_rows[0].4, "all copies share one ts");
    assert_eq!(
        (alice_rows[0].2, bob_rows[0].2),
        (1, 0),
        "read for the sender only"
    );
    let mentions: String = user_db(&server, "bob")
        .query_row("SELECT mentions FROM messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mentions, r#"["bob"]"#);

    // A new account gets the public history, already read, and nothing else.
    bob.say("dm:alice:bob", "private words");
    let mut carol = server.signup("carol");
    let carol_rows = rows(&server, "carol", "general");
    assert_eq!(carol_rows.len(), 1);
    assert_eq!(carol_rows[0].2, 1);
    assert!(rows(&server, "carol", "dm:alice:bob").is_empty());
    assert_eq!(carol.messages("general").len(), 1);
    let channels = carol.get("/api/channels").json();
    assert_eq!(channels.get("dms"), Some(&Json::Arr(vec![])));
}

#[test]
fn dms_are_canonical_and_refuse_unknown_people() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut bob = server.signup("Bob");
    let res = alice.post(
        &format!("/api/channels/{}/messages", enc("dm:alice:zed:yan")),
        &text("hi"),
    );
    assert_eq!(
        (res.status, res.error().as_str()),
        (400, "Unknown users: yan, zed")
    );
    let message = alice.say("dm:bob:alice", "hi bob");
    assert_eq!(
        s(&message, "channel"),
        "dm:Bob:alice",
        "registered spelling, sorted"
    );
    assert_eq!(bob.messages("dm:alice:Bob").len(), 1);
    let channels = bob.get("/api/channels").json();
    let dms = channels.get("dms").unwrap();
    assert_eq!(
        dms,
        &Json::Arr(vec![Json::obj([
            ("id", "dm:Bob:alice".into()),
            ("users", Json::Arr(vec!["Bob".into(), "alice".into()])),
            ("unread", Json::Num(1.0)),
            ("mentions", Json::Num(0.0)),
            ("pins", Json::Num(0.0)),
            ("level", "all".into()),
            ("last_ts", message.get("ts").unwrap().clone()),
        ])])
    );
    assert_eq!(
        bob.post(
            &format!("/api/channels/{}/read", enc("dm:Bob:alice")),
            &Json::Null
        )
        .status,
        204
    );
    let channels = bob.get("/api/channels").json();
    let Some(Json::Arr(dms)) = channels.get("dms") else {
        panic!()
    };
    assert_eq!(dms[0].get("unread").and_then(Json::as_u64), Some(0));
}

#[test]
fn outsiders_can_neither_read_nor_write_nor_watch() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let bob = server.signup("bob");
    let mut carol = server.signup("carol");
    let mut carol_ws = carol.ws();
    let dm = "dm:alice:bob";
    let message = alice.say(dm, "secret");
    let base = format!("/api/channels/{}", enc(dm));
    let id = s(&message, "id").to_owned();
    assert_eq!(carol.get(&format!("{base}/messages")).status, 403);
    assert_eq!(
        carol
            .post(&format!("{base}/messages"), &text("let me in"))
            .status,
        403
    );
    assert_eq!(carol.get(&format!("{base}/receipts")).status, 403);
    assert_eq!(
        carol.post(&format!("{base}/typing"), &Json::Null).status,
        403
    );
    assert_eq!(carol.post(&format!("{base}/read"), &Json::Null).status, 403);
    assert_eq!(
        carol
            .patch(&format!("{base}/messages/{id}"), &text("x"))
            .status,
        403
    );
    assert_eq!(carol.delete(&format!("{base}/messages/{id}")).status, 403);
    let react = Json::obj([("emoji", "heart".into())]);
    assert_eq!(
        carol
            .post(&format!("{base}/messages/{id}/reactions"), &react)
            .status,
        403
    );
    carol_ws.expect_no_event("message", Duration::from_millis(300));
    assert!(rows(&server, "carol", dm).is_empty());
    // Private channels: their existence is private too.
    let created = alice.post(
        "/api/private-channels",
        &Json::obj([
            ("name", "ops".into()),
            ("members", Json::Arr(vec!["bob".into()])),
        ]),
    );
    assert_eq!(created.status, 201);
    let private = s(&created.json(), "id").to_owned();
    assert_eq!(
        carol
            .get(&format!("/api/channels/{}/messages", enc(&private)))
            .status,
        404
    );
    assert_eq!(
        carol
            .post(
                &format!("/api/channels/{}/messages", enc(&private)),
                &text("x")
            )
            .status,
        404
    );
    assert_eq!(
        carol
            .get(&format!("/api/channels/{}/messages", enc("nonexistent")))
            .status,
        404
    );
    drop(bob);
}

#[test]
fn only_authors_edit_and_delete_and_deleted_text_is_gone() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    let mut bob_ws = bob.ws();
    let message = alice.say("general", "frist");
    let id = s(&message, "id").to_owned();
    bob_ws.expect_event("message");
    let path = format!("/api/channels/general/messages/{id}");
    let res = bob.patch(&path, &text("hijack"));
    assert_eq!(res.status, 403);
    assert_eq!(bob.delete(&path).status, 403);
    let res = alice.patch(&path, &text("first"));
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(s(&res.json(), "text"), "first");
    assert!(res.json().get("edited_ts").unwrap().as_f64().is_some());
    let event = bob_ws.expect_event("message_updated");
    assert_eq!(s(event.get("message").unwrap(), "text"), "first");
    assert_eq!(rows(&server, "bob", "general")[0].1, "first");

    assert_eq!(alice.delete(&path).status, 204);
    let event = bob_ws.expect_event("message_updated");
    let tombstone = event.get("message").unwrap();
    assert_eq!(tombstone.get("deleted"), Some(&Json::Bool(true)));
    assert_eq!(s(tombstone, "text"), "");
    let listed = bob.messages("general");
    assert_eq!(listed[0].get("deleted"), Some(&Json::Bool(true)));
    assert_eq!(s(&listed[0], "text"), "");
    for user in ["alice", "bob"] {
        let row = &rows(&server, user, "general")[0];
        assert_eq!(
            (row.1.as_str(), row.3),
            ("", 1),
            "{user}'s copy keeps no text"
        );
    }
    assert_eq!(alice.patch(&path, &text("undead")).status, 404);
}

#[test]
fn bad_messages_are_refused_and_store_nothing() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let path = "/api/channels/general/messages";
    for (body, message) in [
        (text(""), "A message needs some text or a file"),
        (text("   \n "), "A message needs some text or a file"),
        (Json::obj([]), "A message needs some text or a file"),
        (
            text(&"x".repeat(10_001)),
            "A message can be at most 10000 characters",
        ),
        (
            Json::obj([("text", Json::Num(5.0))]),
            "\"text\" must be a string",
        ),
        (
            Json::obj([("text", "hi".into()), ("reply_to", "12345.5".into())]),
            "The message you are replying to does not exist in this channel",
        ),
    ] {
        let res = alice.post(path, &body);
        assert_eq!((res.status, res.error().as_str()), (400, message));
    }
    assert_eq!(
        alice.post(path, &text(&"é".repeat(10_000))).status,
        201,
        "10,000 characters, not bytes"
    );
    assert_eq!(rows(&server, "alice", "general").len(), 1);
    let res = alice.post(
        &format!("/api/channels/{}/messages", enc("dm:alice:system")),
        &text("hi"),
    );
    assert_eq!(
        res.status, 403,
        "the reset notice conversation is read-only"
    );
}

#[test]
fn replies_reactions_and_catch_up() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    let mut bob_ws = bob.ws();
    let parent = alice.say("general", "lunch?");
    let parent_id = s(&parent, "id").to_owned();
    let res = bob.post(
        "/api/channels/general/messages",
        &Json::obj([
            ("text", "yes".into()),
            ("reply_to", parent_id.as_str().into()),
        ]),
    );
    assert_eq!(res.status, 201);
    let reply = res.json();
    assert_eq!(s(&reply, "reply_to"), parent_id);
    let since = reply.get("ts").unwrap().as_f64().unwrap();

    let react = |client: &mut crate::harness::Client, emoji: &str| {
        client.post(
            &format!("/api/channels/general/messages/{parent_id}/reactions"),
            &Json::obj([("emoji", emoji.into())]),
        )
    };
    let res = react(&mut bob, "Thumbs Up");
    assert_eq!(res.status, 400);
    assert!(res.error().contains("Unknown reaction"));
    let res = react(&mut bob, "thumbsup");
    assert_eq!(res.status, 200);
    assert_eq!(
        res.json(),
        Json::obj([(
            "reactions",
            Json::obj([("thumbsup", Json::Arr(vec!["bob".into()]))])
        )])
    );
    react(&mut alice, "thumbsup");
    let res = react(&mut bob, "thumbsup");
    assert_eq!(
        res.json(),
        Json::obj([(
            "reactions",
            Json::obj([("thumbsup", Json::Arr(vec!["alice".into()]))])
        )]),
        "toggled off"
    );
    let mut last = Json::Null;
    for _ in 0..3 {
        last = bob_ws.expect_event("message_updated");
    }
    assert_eq!(
        last.get("message").unwrap().get("reactions"),
        Some(&Json::obj([("thumbsup", Json::Arr(vec!["alice".into()]))]))
    );

    // Catch-up after a disconnect returns what changed: the reacted parent, not the reply.
    let changed = alice
        .get(&format!("/api/channels/general/messages?after={since}"))
        .json();
    let Json::Arr(changed) = changed else {
        panic!()
    };
    assert_eq!(changed.len(), 1);
    assert_eq!(s(&changed[0], "id"), parent_id);
    assert_eq!(
        alice.get("/api/channels/general/messages?after=x").status,
        400
    );
    let stored: f64 = user_db(&server, "bob")
        .query_row(
            "SELECT reactions_ts FROM messages WHERE ts = ?1",
            [parent.get("ts").unwrap().as_f64().unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    assert!(stored > since);
}

#[test]
fn paging_backwards_by_id() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let ids: Vec<String> = (0..7)
        .map(|i| s(&alice.say("random", &format!("m{i}")), "id").to_owned())
        .collect();
    let page = |alice: &mut crate::harness::Client, q: &str| -> Vec<String> {
        let Json::Arr(items) = alice
            .get(&format!("/api/channels/random/messages?{q}"))
            .json()
        else {
            panic!()
        };
        items.iter().map(|m| s(m, "id").to_owned()).collect()
    };
    assert_eq!(page(&mut alice, "limit=3"), ids[4..7]);
    assert_eq!(
        page(&mut alice, &format!("limit=3&before={}", ids[4])),
        ids[1..4]
    );
    assert_eq!(
        page(&mut alice, &format!("limit=3&before={}", ids[1])),
        ids[0..1]
    );
    assert_eq!(
        alice.get("/api/channels/random/messages?limit=0").status,
        400
    );
    assert_eq!(
        alice.get("/api/channels/random/messages?limit=201").status,
        400
    );
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(unique.len(), 7);
}

#[test]
fn receipts_and_typing_reach_only_the_right_people() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    let carol = server.signup("carol");
    let mut alice_ws = alice.ws();
    let mut carol_ws = carol.ws();
    let message = alice.say("dm:alice:bob", "ping");
    let dm = enc("dm:alice:bob");
    assert_eq!(
        bob.post(&format!("/api/channels/{dm}/typing"), &Json::Null)
            .status,
        204
    );
    let typing = alice_ws.expect_event("typing");
    assert_eq!(
        (s(&typing, "channel"), s(&typing, "user")),
        ("dm:alice:bob", "bob")
    );
    assert_eq!(
        bob.post(&format!("/api/channels/{dm}/read"), &Json::Null)
            .status,
        204
    );
    let receipts = alice_ws.expect_event("receipts");
    assert_eq!(s(&receipts, "reader"), "bob");
    assert_eq!(
        receipts.get("ids"),
        Some(&Json::Arr(vec![message.get("id").unwrap().clone()]))
    );
    let listed = alice.get(&format!("/api/channels/{dm}/receipts")).json();
    assert_eq!(
        listed,
        Json::Obj(vec![(
            s(&message, "id").to_owned(),
            Json::Arr(vec!["bob".into()])
        )])
    );
    carol_ws.expect_no_event("typing", Duration::from_millis(200));
    carol_ws.expect_no_event("receipts", Duration::from_millis(100));
    // In a public channel everyone else hears it.
    assert_eq!(
        bob.post("/api/channels/general/typing", &Json::Null).status,
        204
    );
    let typing = carol_ws.expect_event("typing");
    assert_eq!(
        (s(&typing, "channel"), s(&typing, "user")),
        ("general", "bob")
    );
}

#[test]
fn private_channels_membership_and_notices() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    let mut carol = server.signup("carol");
    let mut bob_ws = bob.ws();
    let res = alice.post(
        "/api/private-channels",
        &Json::obj([
            ("name", "  ops  ".into()),
            ("members", Json::Arr(vec!["BOB".into()])),
        ]),
    );
    assert_eq!(res.status, 201, "{}", res.text());
    let channel = res.json();
    assert_eq!(s(&channel, "name"), "ops");
    assert_eq!(
        channel.get("members"),
        Some(&Json::Arr(vec!["alice".into(), "bob".into()]))
    );
    let id = s(&channel, "id").to_owned();
    let n = id.strip_prefix("private:").unwrap().to_owned();
    bob_ws.expect_event("channels");
    let notices = bob.messages(&id);
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].get("system"), Some(&Json::Bool(true)));
    assert_eq!(s(&notices[0], "text"), "alice created the channel ops");

    alice.say(&id, "before carol");
    let res = bob.post(
        &format!("/api/private-channels/{n}/members"),
        &Json::obj([("username", "carol".into())]),
    );
    assert_eq!(res.status, 201);
    assert_eq!(
        bob.post(
            &format!("/api/private-channels/{n}/members"),
            &Json::obj([("username", "carol".into())])
        )
        .status,
        409
    );
    assert_eq!(
        bob.post(
            &format!("/api/private-channels/{n}/members"),
            &Json::obj([("username", "nobody".into())])
        )
        .status,
        404
    );
    alice.say(&id, "after carol");
    let seen: Vec<String> = carol
        .messages(&id)
        .iter()
        .map(|m| s(m, "text").to_owned())
        .collect();
    assert_eq!(
        seen,
        vec!["bob added carol", "after carol"],
        "history from the moment she joined"
    );

    assert_eq!(
        bob.patch(
            &format!("/api/private-channels/{n}"),
            &Json::obj([("name", "".into())])
        )
        .status,
        400
    );
    let res = bob.patch(
        &format!("/api/private-channels/{n}"),
        &Json::obj([("name", "ops-team".into())]),
    );
    assert_eq!((res.status, s(&res.json(), "name")), (200, "ops-team"));
    let res = bob.delete(&format!("/api/private-channels/{n}/members/carol"));
    assert_eq!(res.status, 403, "only the creator removes others");
    let mut carol_ws = carol.ws();
    assert_eq!(
        alice
            .delete(&format!("/api/private-channels/{n}/members/carol"))
            .status,
        204
    );
    carol_ws.expect_event("channels");
    assert_eq!(
        carol
            .get(&format!("/api/channels/{}/messages", enc(&id)))
            .status,
        404
    );
    assert_eq!(
        bob.post(&format!("/api/private-channels/{n}/leave"), &Json::Null)
            .status,
        204
    );
    let texts: Vec<String> = alice
        .messages(&id)
        .iter()
        .map(|m| s(m, "text").to_owned())
        .collect();
    assert_eq!(
        texts[texts.len() - 3..],
        [
            "bob renamed the channel to ops-team",
            "alice removed carol",
            "bob left"
        ]
    );
    let channels = alice.get("/api/channels").json();
    let Some(Json::Arr(private)) = channels.get("private") else {
        panic!()
    };
    assert_eq!(
        private[0].get("members"),
        Some(&Json::Arr(vec!["alice".into()]))
    );
    let channels = bob.get("/api/channels").json();
    assert_eq!(channels.get("private"), Some(&Json::Arr(vec![])));
}

#[test]
fn a_hidden_dm_comes_back_with_a_newer_message() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    alice.say("dm:alice:bob", "one");
    assert_eq!(
        bob.post(
            &format!("/api/dms/{}/hide", enc("dm:alice:bob")),
            &Json::Null
        )
        .status,
        204
    );
    assert_eq!(
        bob.get("/api/channels").json().get("dms"),
        Some(&Json::Arr(vec![]))
    );
    assert_eq!(bob.post("/api/dms/general/hide", &Json::Null).status, 400);
    let mut bob_ws = bob.ws();
    alice.say("dm:alice:bob", "two");
    bob_ws.expect_event("channels");
    let Some(Json::Arr(dms)) = bob.get("/api/channels").json().get("dms").cloned() else {
        panic!()
    };
    assert_eq!(dms.len(), 1);
}

#[test]
fn concurrent_senders_get_unique_ids_and_every_copy() {
    let server = Server::start();
    let names = ["a1", "a2", "a3", "a4"];
    let cookies: Vec<Option<String>> = names.iter().map(|n| server.signup(n).cookie).collect();
    std::thread::scope(|scope| {
        for cookie in &cookies {
            let server = &server;
            scope.spawn(move || {
                let mut client = server.client();
                client.cookie = cookie.clone();
                for i in 0..15 {
                    client.say("general", &format!("m{i}"));
                }
            });
        }
    });
    // The last copies are committed just after the last 201: each member's first read
    // through the server waits for theirs.
    for cookie in &cookies {
        let mut client = server.client();
        client.cookie = cookie.clone();
        client.messages("general");
    }
    let reference: Vec<f64> = rows(&server, "a1", "general").iter().map(|r| r.4).collect();
    assert_eq!(reference.len(), 60);
    let mut unique = reference.clone();
    unique.dedup();
    assert_eq!(unique.len(), 60, "ts is unique per channel");
    for name in names {
        let copies: Vec<f64> = rows(&server, name, "general").iter().map(|r| r.4).collect();
        assert_eq!(copies, reference, "{name} has every message");
    }
}

#[test]
fn the_sender_is_answered_before_other_copies_and_readers_wait_for_theirs() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    let mut bob_ws = bob.ws();
    // Another process holds bob's database, so his copy cannot be committed yet.
    let blocker = user_db(&server, "bob");
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let sent = alice.say("general", "while bob's database is busy");
    assert_eq!(s(&sent, "text"), "while bob's database is busy");
    assert_eq!(
        rows(&server, "alice", "general").len(),
        1,
        "alice's copy is committed"
    );
    let event = bob_ws.expect_event("message");
    assert_eq!(
        s(event.get("message").unwrap(), "text"),
        "while bob's database is busy"
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(|| tx.send(bob.messages("general")).unwrap());
        assert!(
            rx.recv_timeout(Duration::from_millis(400)).is_err(),
            "bob's read waits for his copy"
        );
        blocker.execute_batch("COMMIT").unwrap();
        let seen = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("bob's read ends");
        assert_eq!(seen.len(), 1, "bob reads the message he was told about");
        assert_eq!(s(&seen[0], "text"), "while bob's database is busy");
    });
}

#[test]
fn an_interrupted_fan_out_is_completed_at_the_next_start() {
    let temp = TempDir::new();
    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    server.signup("alice");
    server.signup("bob");
    drop(server);
    // As if the server died after journalling a message and writing only alice's copy.
    let payload = r#"{"change":{"op":"insert","channel":"general","ts":1800000000.5,"sender":"alice","read_by":"alice","rows":[{"content":"survivor","content_type":"text","filename":null,"reply_to_id":null,"mentions":null,"metadata":null}]},"recipients":["alice","bob"]}"#;
    let presence = rusqlite::Connection::open(temp.path().join("presence.db")).unwrap();
    presence
        .execute("INSERT INTO fanout_journal(payload) VALUES (?1)", [payload])
        .unwrap();
    let alice_db = rusqlite::Connection::open(temp.path().join("users/alice.db")).unwrap();
    alice_db
        .execute("INSERT INTO messages(channel, sender, content, ts, read) VALUES ('general', 'alice', 'survivor', 1800000000.5, 1)", [])
        .unwrap();
    drop(alice_db);
    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    let stderr = server.wait_for_stderr("completed 1 deliver");
    assert!(stderr.contains("completed 1 deliver"), "{stderr}");
    for user in ["alice", "bob"] {
        let copies = rows(&server, user, "general");
        assert_eq!(copies.len(), 1, "{user} has exactly one copy");
        assert_eq!(copies[0].1, "survivor");
    }
    let left: i64 = presence
        .query_row("SELECT COUNT(*) FROM fanout_journal", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
}

#[test]
fn reactions_list_is_served() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let Json::Arr(list) = alice.get("/api/reactions").json() else {
        panic!()
    };
    assert!(list.len() > 400);
    assert_eq!(
        list[0],
        Json::obj([
            ("name", "thumbsup".into()),
            ("emoji", "👍".into()),
            ("label", "Thumbs Up".into())
        ])
    );
}

#[test]
fn receipts_are_loaded_for_the_messages_shown_only() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    let dm = enc("dm:alice:bob");
    let ids: Vec<String> = (0..103)
        .map(|i| s(&alice.say("dm:alice:bob", &format!("message {i}")), "id").to_owned())
        .collect();
    assert_eq!(
        bob.post(&format!("/api/channels/{dm}/read"), &Json::Null)
            .status,
        204
    );
    let receipts = |alice: &mut crate::harness::Client, query: &str| -> Vec<String> {
        let res = alice.get(&format!("/api/channels/{dm}/receipts{query}"));
        assert_eq!(res.status, 200, "{query}: {}", res.text());
        let Json::Obj(by_message) = res.json() else {
            panic!("not an object: {}", res.text())
        };
        by_message.into_iter().map(|(id, _)| id).collect()
    };
    // By default: the newest page of messages (100), as GET …/messages shows first.
    let newest_page = receipts(&mut alice, "");
    assert_eq!(newest_page.len(), 100);
    assert_eq!(newest_page, ids[3..]);
    let since = format!("?since={}", ids[100]);
    assert_eq!(receipts(&mut alice, &since), ids[100..]);
    let older = format!("?since={}&before={}", ids[0], ids[3]);
    assert_eq!(receipts(&mut alice, &older), ids[..3]);
    let res = alice.get(&format!("/api/channels/{dm}/receipts?since=soon"));
    assert_eq!(res.status, 400, "{}", res.text());
}
