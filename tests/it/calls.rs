//! Calls through the real server: the STUN responder answers Binding requests over IPv4 and
//! IPv6 with the sender's address and ignores everything else; a busy port costs a warning, not
//! the server; the ICE configuration names our STUN server at the host the page came from.

use crate::harness::{enc, s, Options, Server};
use crate::json::Json;
use crate::stun::{binding_request, mapped_address};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// A UDP port free on both families right now.
fn free_udp_port() -> u16 {
    let probe = UdpSocket::bind("0.0.0.0:0").unwrap();
    probe.local_addr().unwrap().port()
}

fn with_stun(port: u16) -> Options {
    Options {
        env: vec![("MINIMOST_STUN_PORT".into(), port.to_string())],
        ..Options::default()
    }
}

/// Sends `datagrams` in order and returns the first answer with its transaction id.
fn first_answer(client: &UdpSocket, to: SocketAddr, datagrams: &[Vec<u8>]) -> (Vec<u8>, [u8; 12]) {
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for datagram in datagrams {
        client.send_to(datagram, to).unwrap();
    }
    let mut buf = [0u8; 1500];
    let (n, from) = client
        .recv_from(&mut buf)
        .expect("an answer from the STUN port");
    assert_eq!(from, to);
    let id: [u8; 12] = buf[8..20].try_into().unwrap();
    (buf[..n].to_vec(), id)
}

#[test]
fn stun_tells_each_sender_its_address_over_ipv4_and_ipv6_and_ignores_garbage() {
    let port = free_udp_port();
    let server = Server::start_with(with_stun(port));
    for (client, to) in [
        ("127.0.0.1:0", SocketAddr::from(([127, 0, 0, 1], port))),
        ("[::1]:0", format!("[::1]:{port}").parse().unwrap()),
    ] {
        let Ok(client) = UdpSocket::bind(client) else {
            eprintln!("skipping {to}: this machine has no such loopback");
            continue;
        };
        let me = client.local_addr().unwrap();
        // Garbage first: a request from an RFC 3489 client, HTTP, a truncated request, a
        // response. None is answered, so the first answer is the one to the last datagram.
        let mut old_style = binding_request([1; 12], false);
        old_style[4..8].copy_from_slice(&[0; 4]);
        let mut response = binding_request([2; 12], false);
        response[0] = 1;
        let good = [7u8; 12];
        let (answer, id) = first_answer(
            &client,
            to,
            &[
                old_style,
                b"GET / HTTP/1.1\r\n\r\n".to_vec(),
                binding_request([3; 12], true)[..24].to_vec(),
                response,
                binding_request(good, true),
            ],
        );
        assert_eq!(id, good, "only the Binding request was answered");
        assert_eq!(mapped_address(&answer, good), Some(me));
        assert!(answer.len() <= 52 + 8, "{} bytes", answer.len());
    }
    assert!(server.stderr().is_empty(), "{}", server.stderr());
}

#[test]
fn the_ice_configuration_names_our_stun_server_at_the_pages_host() {
    let port = free_udp_port();
    let server = Server::start_with(with_stun(port));
    let mut alice = server.signup("alice");
    let res = alice.get("/api/ice-servers");
    assert_eq!(res.status, 200);
    let body = res.json();
    assert_eq!(
        body.to_json_string(),
        format!(r#"{{"iceServers":[{{"urls":["stun:localhost:{port}"]}}]}}"#)
    );
    // Not for strangers.
    assert_eq!(server.client().get("/api/ice-servers").status, 401);
    // STUN off: no servers, and nothing listens.
    let off = Server::start();
    let mut bob = off.signup("bob");
    let body = bob.get("/api/ice-servers").json();
    assert_eq!(body.to_json_string(), r#"{"iceServers":[]}"#);
}

#[test]
fn a_busy_stun_port_costs_a_warning_not_the_server() {
    // A dual-stack socket on [::] holds the port for both families.
    let busy = UdpSocket::bind("[::]:0")
        .or_else(|_| UdpSocket::bind("0.0.0.0:0"))
        .unwrap();
    let port = busy.local_addr().unwrap().port();
    let server = Server::start_with(with_stun(port));
    let stderr = server.wait_for_stderr("STUN");
    assert!(stderr.contains("cannot bind the STUN port"), "{stderr}");
    assert!(stderr.contains("stun_port"), "says what to do: {stderr}");
    assert_eq!(server.request("GET", "/healthz", &[], b"").status, 200);
    let mut carol = server.signup("carol");
    let body = carol.get("/api/ice-servers").json();
    assert_eq!(body.to_json_string(), r#"{"iceServers":[]}"#);
}

fn call_event_where(ws: &mut crate::harness::Ws, state: &str) -> Json {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match ws.next_event(left) {
            Some(e) if s(&e, "type") == "call" && s(e.get("call").unwrap(), "state") == state => {
                return e.get("call").unwrap().clone()
            }
            Some(_) => continue,
            None => break,
        }
    }
    panic!("no call event with state {state}");
}

fn participant_state(call: &Json, user: &str) -> String {
    let Some(Json::Arr(people)) = call.get("participants") else {
        panic!("no participants in {}", call.to_json_string());
    };
    people
        .iter()
        .find(|p| s(p, "username") == user)
        .map_or("absent".into(), |p| s(p, "state").to_owned())
}

fn notices(client: &mut crate::harness::Client, channel: &str) -> Vec<String> {
    let Json::Arr(messages) = client
        .get(&format!("/api/channels/{}/messages", enc(channel)))
        .json()
    else {
        panic!("no message list");
    };
    messages
        .iter()
        .filter(|m| m.get("system") == Some(&Json::Bool(true)))
        .map(|m| s(m, "text").to_owned())
        .collect()
}

fn call_action(
    client: &mut crate::harness::Client,
    id: &str,
    action: &str,
) -> crate::harness::Response {
    client.post(&format!("/api/calls/{id}/{action}"), &Json::obj([]))
}

#[test]
fn a_call_rings_is_answered_and_relays_signals_only_between_its_people() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    let mut carol = server.signup("carol");
    let (mut alice_ws, mut bob_ws, mut carol_ws) = (alice.ws(), bob.ws(), carol.ws());
    let dm = "dm:alice:bob";
    let start = |c: &mut crate::harness::Client, channel: &str| {
        c.post("/api/calls", &Json::obj([("channel", channel.into())]))
    };
    // Public channels have no calls; outsiders cannot call into a conversation.
    let res = start(&mut alice, "general");
    assert_eq!(res.status, 400, "{}", res.json().to_json_string());
    assert_eq!(start(&mut carol, dm).status, 403);

    let res = start(&mut alice, dm);
    assert_eq!(res.status, 201);
    let call = res.json();
    let id = s(&call, "call_id").to_owned();
    assert_eq!(s(&call, "state"), "ringing");
    assert_eq!(participant_state(&call, "alice"), "accepted");
    assert_eq!(participant_state(&call, "bob"), "pending");
    assert_eq!(s(&call_event_where(&mut bob_ws, "ringing"), "call_id"), id);
    // Carol hears nothing of it and cannot see or join it.
    carol_ws.expect_no_event("call", Duration::from_millis(300));
    let listed = |c: &mut crate::harness::Client| match c.get("/api/calls").json() {
        Json::Arr(calls) => calls
            .iter()
            .map(|c| s(c, "call_id").to_owned())
            .collect::<Vec<_>>(),
        other => panic!("not a list: {}", other.to_json_string()),
    };
    assert_eq!(
        listed(&mut bob),
        std::slice::from_ref(&id),
        "a page that just loaded learns of it"
    );
    assert!(listed(&mut carol).is_empty());
    assert_eq!(carol.get(&format!("/api/calls/{id}")).status, 404);
    assert_eq!(call_action(&mut carol, &id, "accept").status, 404);

    let res = call_action(&mut bob, &id, "accept");
    assert_eq!(res.status, 200);
    assert_eq!(s(&res.json(), "state"), "active");
    call_event_where(&mut alice_ws, "active");

    // A signal reaches the one it names, and nobody else.
    let signal = |to: &str, data: &str| {
        Json::obj([
            ("type", "call_signal".into()),
            ("call_id", id.as_str().into()),
            ("to", to.into()),
            ("data", Json::obj([("sdp", data.into())])),
        ])
    };
    bob_ws.send(&signal("alice", "offer from bob"));
    let got = alice_ws.expect_event("call_signal");
    assert_eq!(s(&got, "from"), "bob");
    assert_eq!(s(got.get("data").unwrap(), "sdp"), "offer from bob");
    carol_ws.expect_no_event("call_signal", Duration::from_millis(300));
    // Carol is in no call: her signal is refused, and Alice gets nothing.
    carol_ws.send(&signal("alice", "intrusion"));
    let refused = carol_ws.expect_event("call_signal_refused");
    assert_eq!(s(&refused, "call_id"), id);
    alice_ws.expect_no_event("call_signal", Duration::from_millis(300));

    // Alice adds Carol, which lets Carol into the call but not into the conversation.
    let res = alice.post(
        &format!("/api/calls/{id}/invite"),
        &Json::obj([("username", "carol".into())]),
    );
    assert_eq!(res.status, 200);
    assert_eq!(
        participant_state(&call_event_where(&mut carol_ws, "active"), "carol"),
        "pending"
    );
    assert_eq!(call_action(&mut carol, &id, "accept").status, 200);
    assert_eq!(carol.get(&format!("/api/calls/{id}")).status, 200);
    assert_eq!(
        listed(&mut carol),
        std::slice::from_ref(&id),
        "in the call, though not in the conversation"
    );
    let messages = carol.get(&format!("/api/channels/{}/messages", enc(dm)));
    assert_eq!(
        messages.status, 403,
        "a call gives no access to its channel"
    );
    // Bob starting a call in the same conversation joins this one.
    let res = start(&mut bob, dm);
    assert_eq!(
        (res.status, s(&res.json(), "call_id").to_owned()),
        (200, id.clone())
    );

    // The last one out ends it, with a notice saying how long it lasted.
    for c in [&mut bob, &mut carol] {
        assert_eq!(call_action(c, &id, "leave").status, 200);
    }
    let res = call_action(&mut alice, &id, "leave");
    assert_eq!(s(&res.json(), "state"), "ended");
    assert!(listed(&mut alice).is_empty(), "an ended call is not listed");
    let said = notices(&mut alice, dm);
    assert!(
        said.contains(&"alice started a call".to_owned()),
        "{said:?}"
    );
    assert!(
        said.iter().any(|n| n.starts_with("Call ended after ")),
        "{said:?}"
    );
    // An ended call cannot be joined, and signals for it are refused.
    assert_eq!(call_action(&mut bob, &id, "accept").status, 409);
    bob_ws.send(&signal("alice", "too late"));
    bob_ws.expect_event("call_signal_refused");
}

#[test]
fn declined_and_unanswered_calls_end_with_a_notice() {
    let server = Server::start_with(Options {
        env: vec![("MINIMOST_RING_TIMEOUT_SECS".into(), "1".into())],
        ..Options::default()
    });
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    let mut alice_ws = alice.ws();
    let dm = "dm:alice:bob";
    let call = alice
        .post("/api/calls", &Json::obj([("channel", dm.into())]))
        .json();
    let id = s(&call, "call_id").to_owned();
    let res = call_action(&mut bob, &id, "reject");
    assert_eq!(s(&res.json(), "state"), "rejected");
    call_event_where(&mut alice_ws, "rejected");
    // Nobody answers the next one: it ends when the ringing times out.
    let call = alice
        .post("/api/calls", &Json::obj([("channel", dm.into())]))
        .json();
    assert_ne!(s(&call, "call_id"), id, "a new call");
    let ended = call_event_where(&mut alice_ws, "ended");
    assert_eq!(s(&ended, "call_id"), s(&call, "call_id"));
    let said = notices(&mut bob, dm);
    assert!(
        said.contains(&"bob declined the call".to_owned()),
        "{said:?}"
    );
    assert!(
        said.contains(&"Missed call from alice".to_owned()),
        "{said:?}"
    );
}

#[test]
fn six_at_most_and_a_closed_last_socket_leaves_the_call() {
    let server = Server::start();
    let names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace"];
    let mut clients: Vec<_> = names.iter().map(|n| server.signup(n)).collect();
    let members: Vec<Json> = names[1..].iter().map(|n| Json::str(*n)).collect();
    let channel = clients[0]
        .post(
            "/api/private-channels",
            &Json::obj([("name", "standup".into()), ("members", Json::Arr(members))]),
        )
        .json();
    let channel_id = s(&channel, "id").to_owned();
    let mut alice_ws = clients[0].ws();
    let bob_ws = clients[1].ws();
    let call = clients[0]
        .post(
            "/api/calls",
            &Json::obj([("channel", channel_id.as_str().into())]),
        )
        .json();
    let id = s(&call, "call_id").to_owned();
    for client in &mut clients[1..6] {
        assert_eq!(call_action(client, &id, "accept").status, 200);
    }
    let res = call_action(&mut clients[6], &id, "accept");
    assert_eq!(res.status, 409);
    assert!(
        s(&res.json(), "error").contains("at most 6"),
        "{}",
        res.json().to_json_string()
    );
    // Bob's only tab closes: he leaves the call.
    drop(bob_ws);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let event = alice_ws.expect_event("call");
        if participant_state(event.get("call").unwrap(), "bob") == "left" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "bob never left");
    }
    // Now there is room for Grace.
    assert_eq!(call_action(&mut clients[6], &id, "accept").status, 200);
}

#[test]
fn a_restart_ends_the_calls_that_were_live() {
    let temp = crate::harness::TempDir::new();
    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    let mut alice = server.signup("alice");
    server.signup("bob");
    let call = alice
        .post(
            "/api/calls",
            &Json::obj([("channel", "dm:alice:bob".into())]),
        )
        .json();
    let id = s(&call, "call_id").to_owned();
    drop(alice);
    // Killed, not stopped: nothing gets to end the call on the way out.
    drop(server);
    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    let mut alice = server.client();
    assert_eq!(alice.login("alice", crate::harness::PASSWORD).status, 200);
    let call = alice.get(&format!("/api/calls/{id}")).json();
    assert_eq!(s(&call, "state"), "ended");
    assert!(call.get("ended_ts").and_then(Json::as_f64).is_some());
    // And a new one can start.
    let res = alice.post(
        "/api/calls",
        &Json::obj([("channel", "dm:alice:bob".into())]),
    );
    assert_eq!(res.status, 201);
}

#[test]
fn only_people_in_a_call_add_others_and_only_those_rung_decline() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    let mut carol = server.signup("carol");
    let call = alice
        .post(
            "/api/calls",
            &Json::obj([("channel", "dm:alice:bob".into())]),
        )
        .json();
    let id = s(&call, "call_id").to_owned();
    let invite = |c: &mut crate::harness::Client, who: &str| {
        c.post(
            &format!("/api/calls/{id}/invite"),
            &Json::obj([("username", who.into())]),
        )
    };
    // Bob has not answered yet, and Carol is not in it: neither may add anyone.
    assert_eq!(invite(&mut bob, "carol").status, 403);
    assert_eq!(invite(&mut carol, "carol").status, 403);
    // Unknown people and people already in the call are refused with a reason.
    let res = invite(&mut alice, "zed");
    assert_eq!(res.status, 400);
    assert!(s(&res.json(), "error").contains("zed"));
    assert_eq!(invite(&mut alice, "alice").status, 409);
    // Only someone being rung can decline; the caller leaves instead.
    assert_eq!(call_action(&mut alice, &id, "reject").status, 409);
    assert_eq!(call_action(&mut carol, &id, "reject").status, 404);
    // Leaving needs being in the call.
    assert_eq!(call_action(&mut bob, &id, "leave").status, 409);
    // The caller hanging up before anyone answered ends it as missed.
    let res = call_action(&mut alice, &id, "leave");
    assert_eq!(s(&res.json(), "state"), "ended");
    assert!(notices(&mut bob, "dm:alice:bob").contains(&"Missed call from alice".to_owned()));
}
