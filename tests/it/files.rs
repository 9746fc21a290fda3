//! Files through the real server: generated names, access checks on every download, Range
//! requests, refused uploads that leave nothing behind, avatars and profiles.

use crate::harness::{enc, s, Options, Server};
use crate::json::Json;

/// A tiny valid PNG (1×1).
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

fn uploads(server: &Server) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(server.data_dir().join("uploads"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn send_files(
    client: &mut crate::harness::Client,
    channel: &str,
    text: &str,
    files: &[&str],
) -> crate::harness::Response {
    let body = Json::obj([
        ("text", text.into()),
        (
            "files",
            Json::Arr(files.iter().map(|f| Json::str(*f)).collect()),
        ),
    ]);
    client.post(&format!("/api/channels/{}/messages", enc(channel)), &body)
}

#[test]
fn uploads_get_generated_names_and_reach_every_copy() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    let res = alice.upload("Quarterly Report (v2).pdf", b"%PDF-1.4 fake");
    assert_eq!(res.status, 201, "{}", res.text());
    let doc = res.json();
    let doc_name = s(&doc, "name").to_owned();
    assert_eq!(&doc_name[32..], "_Quarterly_Report__v2_.pdf");
    assert_eq!(s(&doc, "original"), "Quarterly Report (v2).pdf");
    assert_eq!(doc.get("image"), Some(&Json::Bool(false)));
    assert_eq!(doc.get("size").and_then(Json::as_u64), Some(13));
    let image = alice.upload("Photo.PNG", crate::files::PNG).json();
    let image_name = s(&image, "name").to_owned();
    assert_eq!(&image_name[32..], ".png");
    let fake = alice
        .upload("not-really.png", b"<script>alert(1)</script>")
        .json();
    assert!(
        s(&fake, "name").ends_with("_not-really.png"),
        "content decides what is an image"
    );
    assert_eq!(fake.get("image"), Some(&Json::Bool(false)));

    let res = send_files(
        &mut alice,
        "general",
        "the report",
        &[&doc_name, &image_name],
    );
    assert_eq!(res.status, 201, "{}", res.text());
    let message = res.json();
    let Some(Json::Arr(files)) = message.get("files") else {
        panic!()
    };
    assert_eq!(files.len(), 2);
    assert_eq!(s(&files[0], "original"), "Quarterly Report (v2).pdf");
    assert_eq!(s(&files[1], "url"), format!("/files/{image_name}"));
    assert_eq!(files[1].get("image"), Some(&Json::Bool(true)));
    let listed = bob.messages("general");
    assert_eq!(listed[0].get("files"), message.get("files"));
    let conn = rusqlite::Connection::open(server.data_dir().join("users/bob.db")).unwrap();
    let rows: Vec<(String, Option<String>)> = conn
        .prepare("SELECT content, filename FROM messages ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        vec![
            ("the report".into(), None),
            ("".into(), Some(doc_name.clone())),
            ("".into(), Some(image_name.clone()))
        ]
    );

    // Only the uploader attaches, and only once.
    let again = send_files(&mut alice, "general", "", &[&doc_name]);
    assert_eq!(again.status, 409);
    let other = bob.upload("b.txt", b"bob's").json();
    assert_eq!(
        send_files(&mut alice, "general", "", &[s(&other, "name")]).status,
        403
    );
    assert_eq!(
        send_files(
            &mut alice,
            "general",
            "",
            &["0123456789abcdef0123456789abcdef_x"]
        )
        .status,
        400
    );
    // A message of files only has no text row.
    let photo = alice.upload("p.png", crate::files::PNG).json();
    let res = send_files(&mut alice, "random", "", &[s(&photo, "name")]);
    assert_eq!(res.status, 201);
    assert_eq!(s(&res.json(), "text"), "");
}

#[test]
fn files_are_served_only_to_people_who_can_see_them() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    let mut carol = server.signup("carol");
    let doc = alice.upload("secret plan.txt", b"attack at dawn").json();
    let name = s(&doc, "name").to_owned();
    let url = format!("/files/{name}");
    assert_eq!(
        alice.get(&url).status,
        200,
        "the uploader previews before sending"
    );
    assert_eq!(
        bob.get(&url).status,
        404,
        "not attached to anything bob can see"
    );
    let message = send_files(&mut alice, "dm:alice:bob", "", &[&name]).json();
    let res = bob.get(&url);
    assert_eq!(res.status, 200);
    assert_eq!(res.body, b"attack at dawn");
    assert_eq!(
        res.header("content-disposition"),
        Some("attachment; filename*=UTF-8''secret%20plan.txt")
    );
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(carol.get(&url).status, 404);
    assert_eq!(server.client().get(&url).status, 401);
    // Deleted messages no longer serve their files.
    let id = s(&message, "id");
    assert_eq!(
        alice
            .delete(&format!(
                "/api/channels/{}/messages/{id}",
                enc("dm:alice:bob")
            ))
            .status,
        204
    );
    assert_eq!(bob.get(&url).status, 404);
    // Images are inline with their type.
    let image = alice.upload("x.png", crate::files::PNG).json();
    let image_url = s(&image, "url").to_owned();
    send_files(&mut alice, "general", "", &[s(&image, "name")]);
    let res = carol.get(&image_url);
    assert_eq!(res.header("content-type"), Some("image/png"));
    assert!(res
        .header("content-disposition")
        .unwrap()
        .starts_with("inline"));
    // A file removed by cleanup is "gone" and 404.
    std::fs::remove_file(server.data_dir().join("uploads").join(s(&image, "name"))).unwrap();
    assert_eq!(carol.get(&image_url).status, 404);
    let listed = carol.messages("general");
    assert_eq!(
        listed[0].get("files").unwrap().clone(),
        Json::Arr(vec![Json::obj([
            ("name", s(&image, "name").into()),
            ("original", "x.png".into()),
            ("url", image_url.as_str().into()),
            ("image", Json::Bool(true)),
            ("size", Json::Num(0.0)),
            ("gone", Json::Bool(true)),
        ])])
    );
    for bad in ["/files/..%2Fauth.db", "/files/auth.db", "/files/.partial-x"] {
        assert_eq!(bob.get(bad).status, 404, "{bad}");
    }
}

#[test]
fn range_requests_for_media() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let bytes: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let clip = alice.upload("clip.webm", &bytes).json();
    send_files(&mut alice, "general", "", &[s(&clip, "name")]);
    let url = s(&clip, "url").to_owned();
    let full = alice.get(&url);
    assert_eq!(
        (full.status, full.header("accept-ranges")),
        (200, Some("bytes"))
    );
    assert_eq!(full.header("content-type"), Some("video/webm"));
    let part = alice.get_with(&url, &[("Range", "bytes=10-19")]);
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-range"), Some("bytes 10-19/1000"));
    assert_eq!(part.body, bytes[10..20]);
    let tail = alice.get_with(&url, &[("Range", "bytes=-5")]);
    assert_eq!(tail.body, bytes[995..]);
    let bad = alice.get_with(&url, &[("Range", "bytes=5000-")]);
    assert_eq!(
        (bad.status, bad.header("content-range")),
        (416, Some("bytes */1000"))
    );
    let head = server.request(
        "HEAD",
        &url,
        &[(
            "Cookie",
            &format!("minimost_session={}", alice.cookie.as_deref().unwrap()),
        )],
        b"",
    );
    assert_eq!(
        (head.status, head.header("content-length")),
        (200, Some("1000"))
    );
    assert!(head.body.is_empty());
}

#[test]
fn bad_uploads_are_refused_and_leave_nothing() {
    let options = Options {
        settings: Some(r#"{"max_upload_size_mb": 1}"#.into()),
        ..Options::default()
    };
    let server = Server::start_with(options);
    let mut alice = server.signup("alice");
    let res = alice.upload("big.bin", &vec![7u8; (1 << 20) + 1]);
    assert_eq!(res.status, 413);
    assert!(res.error().contains("1 MB"), "{}", res.error());
    assert_eq!(alice.upload("empty.txt", b"").status, 400);
    for (name, why) in [
        ("", "needs a name"),
        ("..", "needs a name"),
        ("a\u{1}b", "control"),
        (&"x".repeat(300), "longer than"),
    ] {
        let res = alice.upload(name, b"data");
        assert_eq!(res.status, 400, "{name:?}");
        assert!(res.error().contains(why), "{}", res.error());
    }
    let traversal = alice.upload("../../etc/passwd", b"data").json();
    assert!(s(&traversal, "name").ends_with("_passwd"));
    assert_eq!(s(&traversal, "original"), "passwd");
    let cookie = format!("minimost_session={}", alice.cookie.as_deref().unwrap());
    let origin = server.origin();
    let res = server.request(
        "POST",
        "/api/uploads",
        &[("Cookie", &cookie), ("Origin", &origin)],
        b"no name",
    );
    assert_eq!(res.status, 400);
    // A body that stops half-way leaves no partial file.
    let (mut stream, tcp) = server.connect_with_tcp();
    let head = format!(
        "POST /api/uploads HTTP/1.1\r\nHost: localhost:{}\r\nOrigin: {origin}\r\nCookie: {cookie}\r\nX-Filename: cut.bin\r\nContent-Length: 100000\r\n\r\n",
        server.addr.port()
    );
    std::io::Write::write_all(&mut stream, head.as_bytes()).unwrap();
    std::io::Write::write_all(&mut stream, &[1u8; 5000]).unwrap();
    std::io::Write::flush(&mut stream).unwrap();
    tcp.shutdown(std::net::Shutdown::Write).unwrap();
    let _ = crate::harness::read_response(&mut *stream);
    let files = uploads(&server);
    assert_eq!(files.len(), 1, "only the passwd upload: {files:?}");
}

#[test]
fn avatars_and_profiles() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let bob = server.signup("bob");
    let mut bob_ws = bob.ws();
    let put = |client: &mut crate::harness::Client, bytes: &[u8]| {
        client.send("PUT", "/api/me/avatar", Some("image/png"), bytes)
    };
    assert_eq!(put(&mut alice, b"GIF? no, text").status, 400);
    let res = put(&mut alice, crate::files::PNG);
    assert_eq!(res.status, 200, "{}", res.text());
    let first = s(&res.json(), "avatar_url").to_owned();
    assert!(first.starts_with("/avatars/alice?v="));
    let event = bob_ws.expect_event("user");
    assert_eq!(s(event.get("user").unwrap(), "avatar_url"), first);
    let avatars = |server: &Server| {
        std::fs::read_dir(server.data_dir().join("avatars"))
            .unwrap()
            .count()
    };
    assert_eq!(avatars(&server), 1);
    let served = alice.get("/avatars/alice");
    assert_eq!(
        (served.status, served.header("content-type")),
        (200, Some("image/png"))
    );
    assert_eq!(served.body, crate::files::PNG);
    let second = s(&put(&mut alice, crate::files::PNG).json(), "avatar_url").to_owned();
    assert_ne!(first, second);
    assert_eq!(avatars(&server), 1, "the old file is deleted");
    assert_eq!(alice.delete("/api/me/avatar").status, 204);
    assert_eq!(avatars(&server), 0);
    assert_eq!(alice.get("/avatars/alice").status, 404);
    assert_eq!(alice.get("/avatars/nobody").status, 404);

    let res = alice.patch(
        "/api/me",
        &Json::obj([
            ("name_color", "#A1b2C3".into()),
            ("bio", "Builds things".into()),
        ]),
    );
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        (s(&res.json(), "name_color"), s(&res.json(), "bio")),
        ("#a1b2c3", "Builds things")
    );
    let res = alice.patch("/api/me", &Json::obj([("bio", Json::Null)]));
    assert_eq!(res.json().get("bio"), Some(&Json::Null));
    assert_eq!(
        s(&res.json(), "name_color"),
        "#a1b2c3",
        "omitted fields stay"
    );
    assert_eq!(
        alice
            .patch("/api/me", &Json::obj([("name_color", "red".into())]))
            .status,
        400
    );
    let res = alice.patch("/api/me", &Json::obj([("bio", "x".repeat(161).into())]));
    assert_eq!(
        (res.status, res.error().as_str()),
        (400, "A bio can be at most 160 characters")
    );
    let users = alice.get("/api/users").json();
    let Json::Arr(users) = users else { panic!() };
    let me = users.iter().find(|u| s(u, "username") == "alice").unwrap();
    assert_eq!(s(me, "name_color"), "#a1b2c3");
    assert_eq!(
        s(
            users.iter().find(|u| s(u, "username") == "bob").unwrap(),
            "presence"
        ),
        "active"
    );
}

/// Sends `requests` (method, path, JSON body) one after another on one keep-alive connection,
/// as `client`, and returns their statuses; it stops early when the server closes the connection.
fn statuses_on_one_connection(
    client: &crate::harness::Client,
    requests: &[(&str, &str, &str)],
) -> Vec<u16> {
    let server = client.server;
    let origin = server.origin();
    let cookie = format!(
        "minimost_session={}",
        client.cookie.as_deref().unwrap_or("")
    );
    let mut stream = server.connect();
    let mut statuses = Vec::new();
    for (method, path, body) in requests {
        let mut headers = vec![("Origin", origin.as_str()), ("Cookie", cookie.as_str())];
        if !body.is_empty() {
            headers.push(("Content-Type", "application/json"));
        }
        crate::harness::send_request(
            &mut *stream,
            server.addr.port(),
            method,
            path,
            &headers,
            body.as_bytes(),
        );
        let Some(res) = crate::harness::read_response(&mut *stream) else {
            break;
        };
        statuses.push(res.status);
        if res.header("connection") == Some("close") {
            break;
        }
    }
    statuses
}

#[test]
fn file_names_split_inside_a_character_are_refused_cleanly() {
    let server = Server::start();
    let alice = server.signup("alice");
    // 31 letters and a two-byte `é`: byte 32 falls inside the character.
    let name = format!("{}é", "a".repeat(31));
    let file_path = format!("/files/{}", enc(&name));
    let post_body = Json::obj([
        ("text", "see attached".into()),
        ("files", Json::Arr(vec![Json::str(name.as_str())])),
    ])
    .to_json_string();
    let get_file = ("GET", file_path.as_str(), "");
    let post = ("POST", "/api/channels/general/messages", post_body.as_str());
    let sidebar = ("GET", "/api/channels", "");
    assert_eq!(
        statuses_on_one_connection(&alice, &[get_file, sidebar]),
        [404, 200]
    );
    assert_eq!(
        statuses_on_one_connection(&alice, &[post, sidebar]),
        [400, 200]
    );
    assert!(!server.stderr().contains("panic"), "{}", server.stderr());
}
