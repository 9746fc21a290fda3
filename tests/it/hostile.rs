//! Hostile clients against the real server: trickled TLS handshakes, heads and bodies cut at
//! their deadlines, the per-address connection limit, and its exemption for a trusted proxy.

use crate::harness::{read_response, send_request, tcp_from, Options, Server};
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

/// Deadlines short enough for a test: one second for a TLS handshake plus request head.
fn short_deadlines() -> Options {
    Options {
        env: vec![("MINIMOST_HEAD_TIMEOUT_MS".into(), "1000".into())],
        ..Options::default()
    }
}

/// Whether the server has closed `tcp` (EOF or reset), without waiting.
fn closed_by_server(tcp: &TcpStream) -> bool {
    tcp.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let closed = match tcp.peek(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != ErrorKind::WouldBlock,
    };
    tcp.set_nonblocking(false).unwrap();
    closed
}

/// Sends `bytes` on `stream` one at a time, 100 ms apart, until the server closes `tcp` (the
/// stream's socket); returns how long that took, or `None` if all were sent and it was still
/// open. Other clients are checked on the way: the server keeps serving them meanwhile.
fn trickle(
    server: &Server,
    stream: &mut dyn Write,
    tcp: &TcpStream,
    bytes: &[u8],
) -> Option<Duration> {
    let start = Instant::now();
    for (i, byte) in bytes.iter().enumerate() {
        let sent = stream.write_all(&[*byte]).and_then(|()| stream.flush());
        if closed_by_server(tcp) || sent.is_err() {
            return Some(start.elapsed());
        }
        if i % 10 == 0 {
            let res = server.request("GET", "/healthz", &[], b"");
            assert_eq!(res.status, 200, "others are served during the attack");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    closed_by_server(tcp).then(|| start.elapsed())
}

#[test]
fn a_trickled_tls_handshake_is_cut_at_the_head_deadline() {
    let server = Server::start_with(short_deadlines());
    // The ClientHello, one byte at a time: each read makes progress, but the whole handshake
    // must be done within the deadline.
    let hello = server.client_hello();
    let tcp = TcpStream::connect(server.addr).unwrap();
    let cut = trickle(&server, &mut &tcp, &tcp, &hello[..hello.len().min(60)]);
    let cut = cut.expect("the server closed the trickling connection");
    assert!(cut < Duration::from_secs(4), "closed after {cut:?}");
    // A connection that never says anything is cut at the same deadline.
    let silent = TcpStream::connect(server.addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 1];
    assert!(matches!((&silent).read(&mut buf), Ok(0) | Err(_)));
}

#[test]
fn a_trickled_request_head_is_cut_at_the_head_deadline() {
    let server = Server::start_with(short_deadlines());
    let (mut stream, tcp) = server.connect_with_tcp();
    // The TLS handshake completes with the first byte; the rest of the head trickles.
    stream.write_all(b"G").unwrap();
    stream.flush().unwrap();
    let rest = b"ET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let cut = trickle(&server, &mut stream, &tcp, rest);
    let cut = cut.expect("the server closed the trickling connection");
    assert!(cut < Duration::from_secs(4), "closed after {cut:?}");
}

#[test]
fn a_trickled_body_is_cut_when_it_falls_below_the_minimum_rate() {
    let server = Server::start_with(short_deadlines());
    let (mut stream, tcp) = server.connect_with_tcp();
    // Under the 64 KiB JSON cap, so the server does read the body.
    let head = format!(
        "POST /api/login HTTP/1.1\r\nHost: localhost:{}\r\nOrigin: {}\r\n\
         Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{{",
        server.addr.port(),
        server.origin()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.flush().unwrap();
    let cut = trickle(&server, &mut stream, &tcp, &[b' '; 60]);
    let cut = cut.expect("the server closed the trickling connection");
    assert!(cut < Duration::from_secs(4), "closed after {cut:?}");
}

#[test]
fn one_address_cannot_hold_more_than_its_share_of_connections() {
    let server = Server::start_with(Options {
        settings: Some(r#"{"max_connections_per_ip": 3}"#.into()),
        ..Options::default()
    });
    let attacker = Ipv4Addr::new(127, 0, 0, 2);
    let held: Vec<TcpStream> = (0..3).map(|_| tcp_from(attacker, server.addr)).collect();
    // Wait until the server has taken all three, so the next one is the fourth.
    std::thread::sleep(Duration::from_millis(200));
    let refused = tcp_from(attacker, server.addr);
    refused
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut buf = [0u8; 1];
    match (&refused).read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("the fourth connection is closed at once, got {other:?}"),
    }
    let stderr = server.wait_for_stderr("max_connections_per_ip");
    assert!(
        stderr.contains("127.0.0.2 already holds 3 connections"),
        "{stderr}"
    );
    // Everyone else is served, including the machine itself.
    assert_eq!(server.request("GET", "/healthz", &[], b"").status, 200);
    let (mut other, _) = server.connect_from(Ipv4Addr::new(127, 0, 0, 3));
    send_request(&mut *other, server.addr.port(), "GET", "/healthz", &[], b"");
    assert_eq!(read_response(&mut *other).unwrap().status, 200);
    // A closed connection frees its slot.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // Until the server has seen the close, a new connection is still refused (reset).
        let (mut again, _) = server.connect_from(attacker);
        let head = format!(
            "GET /healthz HTTP/1.1\r\nHost: localhost:{}\r\n\r\n",
            server.addr.port()
        );
        let sent = again
            .write_all(head.as_bytes())
            .and_then(|()| again.flush());
        if let Some(res) = sent.ok().and_then(|()| read_response(&mut *again)) {
            assert_eq!(res.status, 200);
            break;
        }
        assert!(Instant::now() < deadline, "the slots were never freed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn behind_a_proxy_the_proxy_address_is_not_limited() {
    let server = Server::start_with(Options {
        settings: Some(r#"{"max_connections_per_ip": 2}"#.into()),
        no_tls: true,
        ..Options::default()
    });
    // Loopback is a trusted proxy by default under --no-tls.
    let held: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    assert_eq!(server.request("GET", "/healthz", &[], b"").status, 200);
    // Any other address is limited as usual.
    let other = Ipv4Addr::new(127, 0, 0, 4);
    let _two: Vec<TcpStream> = (0..2).map(|_| tcp_from(other, server.addr)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let third = tcp_from(other, server.addr);
    third
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut buf = [0u8; 1];
    let refused = match (&third).read(&mut buf) {
        Ok(0) => true,
        Err(e) => e.kind() == ErrorKind::ConnectionReset,
        Ok(_) => false,
    };
    assert!(
        refused,
        "the third connection from one address is refused at once"
    );
    drop(held);
}
