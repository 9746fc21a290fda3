//! The HTTP layer through the real server: security headers, exact routes (404/405), redirects,
//! assets and ETags, keep-alive, malformed and oversized requests, idle connections, plain HTTP.

use crate::harness::{read_response, send_request, Options, Server};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn assert_security_headers(res: &crate::harness::Response, tls: bool) {
    let csp = res
        .header("content-security-policy")
        .expect("CSP on every response");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(res.header("referrer-policy"), Some("no-referrer"));
    let permissions = res.header("permissions-policy").unwrap();
    for feature in [
        "camera=(self)",
        "microphone=(self)",
        "display-capture=(self)",
    ] {
        assert!(permissions.contains(feature), "{permissions}");
    }
    assert_eq!(res.header("strict-transport-security").is_some(), tls);
}

#[test]
fn every_response_carries_the_security_headers() {
    let server = Server::start();
    let mut client = server.client();
    for res in [
        client.get("/healthz"),
        client.get("/login"),
        client.get("/nope"),
        client.get("/api/me"),
        client.get("/css/base.css"),
        client.send("DELETE", "/healthz", None, b""),
        client.send("POST", "/api/login", Some("application/json"), b"{"),
    ] {
        assert_security_headers(&res, true);
    }
    let plain = Server::start_with(Options {
        no_tls: true,
        ..Options::default()
    });
    assert_security_headers(&plain.request("GET", "/healthz", &[], b""), false);
}

#[test]
fn routes_are_exact_with_404_and_405() {
    let server = Server::start();
    let mut client = server.client();
    for path in [
        "/nope",
        "/login.html",
        "/index.html",
        "/api",
        "/api/nope",
        "/js/../index.html",
        "/js/nope.js",
        "/login/",
    ] {
        let res = client.get(path);
        assert_eq!(res.status, 404, "{path}");
        assert_eq!(res.error(), "Not found");
    }
    let res = client.post("/healthz", &crate::json::Json::Null);
    assert_eq!(res.status, 405);
    assert_eq!(res.header("allow"), Some("GET"));
    assert_eq!(client.get("/api/login").status, 405);
}

#[test]
fn pages_redirect_by_login_state() {
    let server = Server::start();
    let mut anonymous = server.client();
    let res = anonymous.get("/");
    assert_eq!((res.status, res.header("location")), (302, Some("/login")));
    for page in ["/login", "/signup", "/forgot-password"] {
        let res = anonymous.get(page);
        assert_eq!(res.status, 200, "{page}");
        assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    }
    let mut alice = server.signup("alice");
    let res = alice.get("/");
    assert_eq!(res.status, 200);
    assert!(res
        .text()
        .contains("<script type=\"module\" src=\"/js/app.js\">"));
    assert_eq!(alice.get("/login").header("location"), Some("/"));
}

#[test]
fn assets_have_types_and_revalidate_by_etag() {
    let server = Server::start();
    for (path, content_type) in [
        ("/css/base.css", "text/css; charset=utf-8"),
        ("/js/app.js", "text/javascript; charset=utf-8"),
        ("/icons/favicon.svg", "image/svg+xml"),
    ] {
        let res = server.request("GET", path, &[], b"");
        assert_eq!(res.status, 200, "{path}");
        assert_eq!(res.header("content-type"), Some(content_type));
        let etag = res.header("etag").unwrap().to_owned();
        let again = server.request("GET", path, &[("If-None-Match", &etag)], b"");
        assert_eq!(again.status, 304);
        assert!(again.body.is_empty());
        // A HEAD answer has a Content-Length but no body: close, so the reader stops at EOF.
        let head = server.request("HEAD", path, &[("Connection", "close")], b"");
        assert_eq!(head.status, 200);
        assert_eq!(
            head.header("content-length").unwrap(),
            res.body.len().to_string()
        );
    }
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let server = Server::start();
    let mut stream = server.connect();
    for _ in 0..3 {
        send_request(
            &mut *stream,
            server.addr.port(),
            "GET",
            "/healthz",
            &[],
            b"",
        );
        let res = read_response(&mut *stream).unwrap();
        assert_eq!(res.status, 200);
        assert_eq!(res.header("connection"), Some("keep-alive"));
    }
    send_request(
        &mut *stream,
        server.addr.port(),
        "GET",
        "/healthz",
        &[("Connection", "close")],
        b"",
    );
    assert_eq!(
        read_response(&mut *stream).unwrap().header("connection"),
        Some("close")
    );
    assert!(
        read_response(&mut *stream).is_none(),
        "the server closes after Connection: close"
    );
}

/// Sends raw bytes and reads the status of the answer.
fn raw(server: &Server, bytes: &[u8]) -> crate::harness::Response {
    let mut stream = server.connect();
    stream.write_all(bytes).unwrap();
    stream.flush().unwrap();
    read_response(&mut *stream).expect("a response")
}

#[test]
fn malformed_and_oversized_requests_get_clear_errors() {
    let server = Server::start();
    let big_header = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    assert_eq!(raw(&server, big_header.as_bytes()).status, 431);
    let many: String = (0..100).map(|i| format!("X-{i}: v\r\n")).collect();
    assert_eq!(
        raw(
            &server,
            format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes()
        )
        .status,
        431
    );
    assert_eq!(raw(&server, b"GARBAGE\r\n\r\n").status, 400);
    // Bare LF line endings are refused at once, not waited on.
    let bare_lf = raw(&server, b"GET /healthz HTTP/1.1\nHost: x\n\n");
    assert_eq!(
        (bare_lf.status, bare_lf.error().as_str()),
        (400, "Malformed request: lines must end with CRLF")
    );
    assert_eq!(
        raw(&server, b"GET /healthz HTTP/1.1\r\n\r\n").error(),
        "Missing Host header"
    );
    let chunked =
        b"POST /api/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(raw(&server, chunked).status, 411);
    let both = b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello";
    assert_eq!(raw(&server, both).status, 411);
    let two_lengths = b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!";
    assert_eq!(raw(&server, two_lengths).status, 400);
    let bad_length = b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n";
    assert_eq!(raw(&server, bad_length).status, 400);

    let mut client = server.client();
    let res = client.send(
        "POST",
        "/api/login",
        Some("application/json"),
        &vec![b' '; 70_000],
    );
    assert_eq!(res.status, 413);
    let res = client.send(
        "POST",
        "/api/login",
        Some("application/json"),
        b"{\"username\": ",
    );
    assert_eq!(res.status, 400);
    assert!(res.error().contains("invalid JSON"), "{}", res.error());
    let res = client.send("POST", "/api/login", Some("application/json"), b"[1, 2]");
    assert_eq!(
        (res.status, res.error().as_str()),
        (400, "The request body must be a JSON object")
    );
    let res = client.send(
        "POST",
        "/api/login",
        Some("application/json"),
        b"{\"username\": 5, \"password\": \"x\"}",
    );
    assert_eq!(
        (res.status, res.error().as_str()),
        (400, "\"username\" must be a string")
    );
    let res = client.send(
        "POST",
        "/api/login",
        Some("application/json"),
        b"{\"username\": \"\xff\"}",
    );
    assert_eq!(res.status, 400);
    assert!(res.error().contains("UTF-8"));
    let res = client.send("POST", "/api/login", Some("text/plain"), b"{}");
    assert_eq!(res.status, 415);
    // Two Origin headers: the second is not ignored, the request is refused as ambiguous.
    let origin = server.origin();
    let res = server.request(
        "POST",
        "/api/logout",
        &[("Origin", &origin), ("Origin", "https://evil.example")],
        b"",
    );
    assert_eq!(
        (res.status, res.error().as_str()),
        (400, "The request has more than one origin header")
    );
    let two_hosts = b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n";
    assert_eq!(raw(&server, two_hosts).status, 400);
    // A malformed escape in the query is an error, not a missing parameter.
    let res = client.get("/api/search?q=%zz");
    assert_eq!(res.status, 400);
    assert!(
        res.error().contains("malformed %-escape"),
        "{}",
        res.error()
    );
    // The server is still healthy after all of that.
    assert_eq!(client.get("/healthz").status, 200);
}

#[test]
fn a_silent_connection_is_dropped() {
    let options = Options {
        env: vec![("MINIMOST_IDLE_TIMEOUT_MS".into(), "300".into())],
        ..Options::default()
    };
    let server = Server::start_with(options);
    // Raw TCP that never starts the TLS handshake.
    let mut tcp = std::net::TcpStream::connect(server.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 16];
    let n = tcp.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the server closes the connection");
    assert!(start.elapsed() < Duration::from_secs(5));
    // A request head that stalls half-way is dropped too.
    let (mut stream, _) = server.connect_with_tcp();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    stream.flush().unwrap();
    let res = read_response(&mut *stream);
    assert!(res.is_none() || res.unwrap().status == 408);
}

#[test]
fn plain_http_under_no_tls() {
    let server = Server::start_with(Options {
        no_tls: true,
        ..Options::default()
    });
    assert!(!server.tls);
    let mut alice = server.signup("alice");
    assert_eq!(alice.get("/api/me").status, 200);
    let mut proxied = server.client();
    let res = proxied.send("GET", "/healthz", None, b"");
    assert_eq!(res.status, 200);
    assert_eq!(server.request("GET", "/ca.pem", &[], b"").status, 404);
}
