//! Panics injected into the writer (`MINIMOST_FAULT`, debug builds only): a panic costs only
//! the job or the copy it hit, and a copy that failed stays journalled for the next start.

use crate::harness::{s, sqlite3, Options, Server, TempDir, PASSWORD};

/// The fault hook exists in debug builds only; a release binary under test has none.
fn hook_available() -> bool {
    let available = std::env::var_os("MINIMOST_TEST_BINARY").is_none();
    if !available {
        eprintln!("skipped: MINIMOST_TEST_BINARY has no fault-injection hook");
    }
    available
}

fn with_fault(spec: &str) -> Options {
    Options {
        env: vec![("MINIMOST_FAULT".into(), spec.into())],
        ..Options::default()
    }
}

fn texts(messages: &[crate::json::Json]) -> Vec<String> {
    messages.iter().map(|m| s(m, "text").to_owned()).collect()
}

fn journal_entries(server: &Server) -> String {
    sqlite3(
        &server.data_dir().join("presence.db"),
        "SELECT count(*) FROM fanout_journal",
    )
    .trim()
    .to_owned()
}

#[test]
fn a_panic_while_posting_costs_only_that_post() {
    if !hook_available() {
        return;
    }
    let temp = TempDir::new();
    let server = Server::start_in(temp.path(), with_fault("batch:alice:BOOM")).unwrap();
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    let res = alice.post(
        "/api/channels/general/messages",
        &crate::json::Json::obj([("text", "BOOM once".into())]),
    );
    assert_eq!(res.status, 500, "{}", res.text());
    // The writer goes on: later posts are stored and delivered, readers are not held up.
    alice.say("general", "still here");
    assert_eq!(texts(&bob.messages("general")), ["still here"]);
    // The failed post was journalled, so the next start completes it for everyone.
    assert_eq!(journal_entries(&server), "1");
    let (status, _) = server.terminate();
    assert!(status.success());
    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    for name in ["alice", "bob"] {
        let mut client = server.client();
        assert_eq!(client.login(name, PASSWORD).status, 200);
        assert_eq!(
            texts(&client.messages("general")),
            ["BOOM once", "still here"]
        );
    }
    assert_eq!(journal_entries(&server), "0");
}

#[test]
fn a_panic_in_one_copy_keeps_the_journal_for_that_copy() {
    if !hook_available() {
        return;
    }
    let temp = TempDir::new();
    let server = Server::start_in(temp.path(), with_fault("copy:user7:BOOM")).unwrap();
    let mut alice = server.signup("alice");
    // Enough members that the copies are written by several threads at once.
    let mut members: Vec<_> = (0..9).map(|i| server.signup(&format!("user{i}"))).collect();
    alice.say("general", "BOOM for all");
    alice.say("general", "and then this");
    for (i, member) in members.iter_mut().enumerate() {
        let expected: &[&str] = if i == 7 {
            &["and then this"]
        } else {
            &["BOOM for all", "and then this"]
        };
        assert_eq!(texts(&member.messages("general")), expected, "user{i}");
    }
    assert_eq!(journal_entries(&server), "1");
    let (status, _) = server.terminate();
    assert!(status.success());
    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    let mut user7 = server.client();
    assert_eq!(user7.login("user7", PASSWORD).status, 200);
    assert_eq!(
        texts(&user7.messages("general")),
        ["BOOM for all", "and then this"]
    );
    assert_eq!(journal_entries(&server), "0");
}
