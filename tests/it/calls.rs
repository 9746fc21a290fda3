//! Calls through the real server: the STUN responder answers Binding requests over IPv4 and
//! IPv6 with the sender's address and ignores everything else; a busy port costs a warning, not
//! the server; the ICE configuration names our STUN server at the host the page came from.

use crate::harness::{Options, Server};
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
