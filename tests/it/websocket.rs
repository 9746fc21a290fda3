//! The live socket through the real server: the upgrade's session and origin checks, pushes to
//! idle clients, presence, revocation on logout, slow readers, and the typing/presence throttles.

use crate::harness::Server;
use crate::json::Json;
use std::time::{Duration, Instant};

#[test]
fn the_socket_requires_a_session_and_the_same_origin() {
    let server = Server::start();
    let anonymous = server.client();
    assert_eq!(
        anonymous.try_ws(&server.origin()).err().unwrap().status,
        401
    );
    let alice = server.signup("alice");
    assert_eq!(
        alice.try_ws("https://evil.example").err().unwrap().status,
        403
    );
    let mut ws = alice.ws();
    let presence = ws.expect_event("presence");
    assert_eq!(presence.get("user").and_then(Json::as_str), Some("alice"));
}

#[test]
fn an_idle_client_receives_pushes_at_once() {
    let server = Server::start();
    let alice = server.signup("alice");
    let bob = server.signup("bob");
    let mut alice_ws = alice.ws();
    alice_ws.expect_event("presence"); // Her own arrival.
                                       // Alice now only listens. Bob connecting must reach her without her sending anything.
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    let bob_ws = bob.ws();
    let event = alice_ws.expect_event("presence");
    let waited = start.elapsed();
    assert_eq!(event.get("user").and_then(Json::as_str), Some("bob"));
    assert_eq!(event.get("state").and_then(Json::as_str), Some("active"));
    eprintln!("push reached the idle client {waited:?} after bob connected");
    drop(bob_ws);
    let event = alice_ws.expect_event("presence");
    assert_eq!(event.get("state").and_then(Json::as_str), Some("offline"));
    let presence: String = rusqlite::Connection::open(server.data_dir().join("presence.db"))
        .unwrap()
        .query_row("SELECT state FROM presence WHERE user = 'bob'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(presence, "offline");
}

#[test]
fn presence_follows_what_the_client_reports() {
    let server = Server::start();
    let alice = server.signup("alice");
    let bob = server.signup("bob");
    let mut alice_ws = alice.ws();
    let mut bob_ws = bob.ws();
    alice_ws.expect_event("presence");
    bob_ws.send(&Json::obj([
        ("type", "presence".into()),
        ("state", "idle".into()),
    ]));
    loop {
        let event = alice_ws.expect_event("presence");
        if event.get("user").and_then(Json::as_str) == Some("bob")
            && event.get("state").and_then(Json::as_str) == Some("idle")
        {
            break;
        }
    }
    bob_ws.send(&Json::obj([("type", "ping".into())]));
    bob_ws.expect_event("pong");
}

#[test]
fn logging_out_closes_that_sessions_socket() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut ws = alice.ws();
    assert_eq!(alice.post("/api/logout", &Json::Null).status, 204);
    ws.expect_event("session_revoked");
    assert!(
        ws.next_event(Duration::from_secs(2)).is_none(),
        "the socket is closed"
    );
}

#[test]
fn a_client_that_fell_behind_gets_everything_once_it_reads_again() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let bob = server.signup("bob");
    let mut bob_ws = bob.ws();
    // Bob reads nothing while ~4.5 MB of events pile up (fewer frames than his queue holds):
    // the socket's buffers fill and the server's writes to him block.
    let text = "x".repeat(9_000);
    let count = 500;
    for _ in 0..count {
        alice.say("general", &text);
    }
    let mut received = 0;
    while received < count {
        // Every event is already queued: none may wait for a timer (a ping comes only after
        // 30 s of silence).
        match bob_ws.next_event(Duration::from_secs(3)) {
            Some(event) if event.get("type").and_then(Json::as_str) == Some("message") => {
                received += 1
            }
            Some(_) => {}
            None => panic!("only {received} of {count} messages arrived"),
        }
    }
}

#[test]
fn a_flood_of_typing_and_presence_does_not_push_others_off() {
    let server = Server::start();
    let alice = server.signup("alice");
    let bob = server.signup("bob");
    // Bob reads nothing while alice floods.
    let mut bob_ws = bob.ws();
    let mut alice_ws = alice.ws();
    // A group DM of alice, bob and fourteen long names (nobody need have those accounts):
    // each typing event is about 600 bytes, so a flood soon outgrows what the kernel buffers.
    let mut members: Vec<String> = (0..14)
        .map(|i| format!("{i:02}{}", "x".repeat(30)))
        .collect();
    members.extend(["alice".to_owned(), "bob".to_owned()]);
    members.sort();
    let channel = format!("dm:{}", members.join(":"));
    let typing = Json::obj([
        ("type", "typing".into()),
        ("channel", channel.as_str().into()),
    ]);
    let presence = |state: &str| Json::obj([("type", "presence".into()), ("state", state.into())]);
    let flood_began = Instant::now();
    for _ in 0..10_000 {
        alice_ws.send(&typing);
    }
    for i in 0..5_000 {
        alice_ws.send(&presence(if i % 2 == 0 { "idle" } else { "active" }));
    }
    alice_ws.send(&presence("hidden"));
    alice_ws.send(&presence("idle"));
    // Frames are handled in order: the pong means the server has seen the whole flood.
    alice_ws.send(&Json::obj([("type", "ping".into())]));
    alice_ws.expect_event("pong");
    let flood_took = flood_began.elapsed();

    // A change inside the throttle window is published when the window ends.
    let (events, open) = bob_ws.events_until_quiet(Duration::from_secs(2));
    assert!(
        open,
        "bob's socket was closed after {} events",
        events.len()
    );
    let of_alice = |kind: &str| {
        events
            .iter()
            .filter(|e| {
                e.get("type").and_then(Json::as_str) == Some(kind)
                    && e.get("user").and_then(Json::as_str) == Some("alice")
            })
            .collect::<Vec<_>>()
    };
    // At most once per 2 s window while the flood lasted.
    let windows = flood_took.as_secs() as usize / 2 + 1;
    let typing_events = of_alice("typing").len();
    assert!(
        (1..=windows).contains(&typing_events),
        "{typing_events} typing events in {flood_took:?}"
    );
    let last_presence = of_alice("presence").last().map(|e| e.to_json_string());
    assert_eq!(
        last_presence.as_deref(),
        Some(r#"{"type":"presence","user":"alice","state":"idle"}"#)
    );
    bob_ws.send(&Json::obj([("type", "ping".into())]));
    bob_ws.expect_event("pong");
    let recorded: String = rusqlite::Connection::open(server.data_dir().join("presence.db"))
        .unwrap()
        .query_row("SELECT state FROM presence WHERE user = 'alice'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(recorded, "idle");
}

#[test]
fn typing_and_presence_over_http_are_throttled_too() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let bob = server.signup("bob");
    let mut bob_ws = bob.ws();
    let _alice_ws = alice.ws();
    let began = Instant::now();
    for _ in 0..20 {
        let res = alice.post("/api/channels/general/typing", &Json::Null);
        assert_eq!(res.status, 204, "{}", res.text());
    }
    for state in ["idle", "active"].repeat(10).into_iter().chain(["hidden"]) {
        let res = alice.post("/api/presence", &Json::obj([("state", state.into())]));
        assert_eq!(res.status, 204, "{}", res.text());
    }
    let took = began.elapsed();
    let (events, open) = bob_ws.events_until_quiet(Duration::from_secs(2));
    assert!(open);
    let of_alice = |kind: &str| {
        events
            .iter()
            .filter(|e| {
                e.get("type").and_then(Json::as_str) == Some(kind)
                    && e.get("user").and_then(Json::as_str) == Some("alice")
            })
            .map(|e| e.get("state").and_then(Json::as_str).unwrap_or(""))
            .collect::<Vec<_>>()
    };
    let typing = of_alice("typing").len();
    assert!(
        (1..=took.as_secs() as usize / 2 + 1).contains(&typing),
        "{typing} typing events in {took:?}"
    );
    let presence = of_alice("presence");
    assert_eq!(presence.last(), Some(&"hidden"), "{presence:?}");
    // Her arrival, then at most one change per second (and the last one at the window's end).
    assert!(
        presence.len() <= took.as_secs() as usize + 3,
        "{} presence events in {took:?}",
        presence.len()
    );
}
