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
