//! Search through the real server: literal whole-word queries with a prefix last word, and
//! results that follow edits, deletes and who may read the channel.

use crate::harness::{enc, s, Server};
use crate::json::Json;

fn search(client: &mut crate::harness::Client, query: &str) -> Vec<String> {
    let res = client.get(&format!("/api/search?{query}"));
    assert_eq!(res.status, 200, "{}", res.text());
    let Json::Arr(results) = res.json() else {
        panic!()
    };
    results.iter().map(|m| s(m, "text").to_owned()).collect()
}

#[test]
fn search_is_literal_whole_word_with_a_prefix_last_word() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    alice.say("general", "We deploy on Friday");
    alice.say("general", "deployment notes: 100% done *really*");
    alice.say("general", "Déjà vu at the café");
    alice.say("general", "redeploy tomorrow");
    assert_eq!(
        search(&mut alice, "q=deplo"),
        vec![
            "deployment notes: 100% done *really*",
            "We deploy on Friday"
        ],
        "newest first; prefix only at word starts"
    );
    assert_eq!(
        search(&mut alice, "q=deplo%20friday"),
        Vec::<String>::new(),
        "earlier words are whole words"
    );
    assert_eq!(
        search(&mut alice, "q=DEPLOY%20fri"),
        vec!["We deploy on Friday"]
    );
    assert_eq!(
        search(&mut alice, "q=friday%20DEPLOY"),
        vec!["We deploy on Friday"]
    );
    assert_eq!(search(&mut alice, "q=cafe"), vec!["Déjà vu at the café"]);
    assert_eq!(
        search(&mut alice, &format!("q={}", enc("\"done\" OR *"))),
        Vec::<String>::new(),
        "quotes and operators are text"
    );
    assert_eq!(
        search(&mut alice, &format!("q={}", enc("100%"))),
        vec!["deployment notes: 100% done *really*"]
    );
    assert_eq!(
        search(&mut alice, &format!("q={}", enc("%*\""))),
        Vec::<String>::new()
    );
    assert_eq!(search(&mut alice, "q="), Vec::<String>::new());
}

#[test]
fn search_follows_edits_deletes_and_access() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    let mut carol = server.signup("carol");
    let edited = alice.say("general", "banana bread");
    let gone = alice.say("general", "banana split");
    let between = alice.say("dm:alice:bob", "banana between us");
    let created = alice
        .post(
            "/api/private-channels",
            &Json::obj([
                ("name", "fruit".into()),
                ("members", Json::Arr(vec!["bob".into()])),
            ]),
        )
        .json();
    let private = s(&created, "id").to_owned();
    alice.say(&private, "banana plans");
    let path = |m: &Json| format!("/api/channels/general/messages/{}", s(m, "id"));
    assert_eq!(
        alice
            .patch(&path(&edited), &Json::obj([("text", "apple bread".into())]))
            .status,
        200
    );
    assert_eq!(alice.delete(&path(&gone)).status, 204);
    assert_eq!(
        search(&mut bob, "q=banana"),
        vec!["banana plans", "banana between us"]
    );
    assert_eq!(search(&mut bob, "q=apple"), vec!["apple bread"]);
    assert_eq!(
        search(&mut carol, "q=banana"),
        Vec::<String>::new(),
        "no DM or private channel of others"
    );
    // Leaving a private channel removes it from search at once.
    let n = private.strip_prefix("private:").unwrap();
    assert_eq!(
        bob.post(&format!("/api/private-channels/{n}/leave"), &Json::Null)
            .status,
        204
    );
    assert_eq!(search(&mut bob, "q=banana"), vec!["banana between us"]);
    // Filters.
    bob.say("general", "banana from bob");
    assert_eq!(
        search(&mut alice, "q=banana&from=BOB"),
        vec!["banana from bob"]
    );
    assert_eq!(
        search(
            &mut alice,
            &format!("q=banana&channel={}", enc("dm:alice:bob"))
        ),
        vec!["banana between us"]
    );
    assert_eq!(
        carol
            .get(&format!(
                "/api/search?q=banana&channel={}",
                enc("dm:alice:bob")
            ))
            .status,
        403
    );
    let hit = alice.get("/api/search?q=between").json();
    let Json::Arr(hits) = hit else { panic!() };
    assert_eq!(
        s(&hits[0], "channel"),
        "dm:alice:bob",
        "results say where to jump"
    );
    // Hits carry their reactions like any message, each its own.
    let react = format!(
        "/api/channels/{}/messages/{}/reactions",
        enc("dm:alice:bob"),
        s(&between, "id")
    );
    let heart = Json::obj([("emoji", "heart".into())]);
    assert_eq!(bob.post(&react, &heart).status, 200);
    let Json::Arr(hits) = alice.get("/api/search?q=banana").json() else {
        panic!()
    };
    let reactions: Vec<(String, String)> = hits
        .iter()
        .map(|m| {
            (
                s(m, "text").to_owned(),
                m.get("reactions").unwrap().to_json_string(),
            )
        })
        .collect();
    assert!(
        reactions.contains(&("banana between us".into(), r#"{"heart":["bob"]}"#.into())),
        "{reactions:?}"
    );
    assert!(
        reactions
            .iter()
            .filter(|(text, _)| text != "banana between us")
            .all(|(_, r)| r == "{}"),
        "{reactions:?}"
    );
}

/// System notices are searchable like messages, and a hit says it is one (`system: true`, sent
/// by `system`), so the UI can show it as a notice rather than as something a person wrote.
#[test]
fn a_system_notice_found_by_search_says_it_is_one() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    server.signup("bob");
    let created = alice.post(
        "/api/private-channels",
        &Json::obj([
            ("name", "launch".into()),
            ("members", Json::Arr(vec!["bob".into()])),
        ]),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    alice.say("general", "The launch is at noon");
    let Json::Arr(hits) = alice.get("/api/search?q=launch").json() else {
        panic!("search answers a list")
    };
    let found: Vec<(String, String, Option<&Json>)> = hits
        .iter()
        .map(|m| {
            (
                s(m, "text").to_owned(),
                s(m, "sender").to_owned(),
                m.get("system"),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                "The launch is at noon".to_owned(),
                "alice".to_owned(),
                Some(&Json::Bool(false))
            ),
            (
                "alice created the channel launch".to_owned(),
                "system".to_owned(),
                Some(&Json::Bool(true))
            ),
        ]
    );
}

#[test]
fn a_large_backlog_or_an_older_index_is_rebuilt_in_the_background_and_answers_say_so() {
    let temp = crate::harness::TempDir::new();
    let server = Server::start_in(temp.path(), crate::harness::Options::default()).unwrap();
    let mut alice = server.signup("alice");
    let live = alice.say("general", "a needle written live is indexed at once");
    let live_ts = live.get("ts").and_then(Json::as_f64).unwrap();
    assert_eq!(search(&mut alice, "q=needle").len(), 1);
    drop(alice);
    server.terminate();

    // The index as the previous release left it (with per-row sizes, merged by FTS5 itself):
    // this one rebuilds it smaller, from the start, with no search or message to ask for it.
    let path = temp.path().join("users/alice.db");
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(
        "DROP TABLE messages_fts;
         CREATE VIRTUAL TABLE messages_fts USING fts5(
             content, content='messages', content_rowid='id',
             tokenize='unicode61 remove_diacritics 2');
         INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
         PRAGMA user_version = 8;",
    )
    .unwrap();
    drop(db);
    let server = Server::start_in(temp.path(), crate::harness::Options::default()).unwrap();
    let db = rusqlite::Connection::open(&path).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    // Upgraded (the new index is there, which the writer's first look at the database does)
    // and caught up.
    let caught_up = || -> bool {
        db.query_row(
            "SELECT indexed_upto >= (SELECT MAX(id) FROM messages)
                    AND (SELECT sql FROM sqlite_master WHERE name = 'messages_fts')
                        LIKE '%columnsize=0%'
             FROM fts_state",
            [],
            |r| r.get(0),
        )
        .unwrap_or(false)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !caught_up() {
        assert!(std::time::Instant::now() < deadline, "never rebuilt");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // 5,000 rows the index has not seen yet, written behind the server's back (as the
    // manual's sqlite3 commands can).
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    for i in 0..5_000 {
        let text = if i % 100 == 0 {
            format!("old needle {i}")
        } else {
            format!("hay {i}")
        };
        db.execute(
            "INSERT INTO messages(channel, sender, content, ts, read) VALUES ('general', 'bob', ?1, ?2, 1)",
            rusqlite::params![text, live_ts + 0.001 * (i + 1) as f64],
        )
        .unwrap();
    }
    db.execute_batch("COMMIT").unwrap();
    drop(db);

    let mut alice = server.client();
    assert_eq!(alice.login("alice", crate::harness::PASSWORD).status, 200);
    let first = alice.get("/api/search?q=needle");
    assert_eq!(first.status, 200);
    let waiting: u64 = first
        .header("x-search-unindexed")
        .expect("the answer says rows were not looked at")
        .parse()
        .unwrap();
    assert!(waiting > 2_000, "{waiting}");
    // A message written meanwhile waits behind the old rows, then is found with them.
    alice.say("general", "a new needle");
    // Caught up in the background, in chunks; then the answer is whole and says nothing.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let res = alice.get("/api/search?q=needle");
        if res.header("x-search-unindexed").is_none() {
            let Json::Arr(found) = res.json() else {
                panic!()
            };
            let texts: Vec<&str> = found.iter().map(|m| s(m, "text")).collect();
            assert_eq!(texts.len(), 50, "{texts:?}");
            assert_eq!(texts[0], "a new needle", "newest first");
            assert_eq!(texts[1], "old needle 4900");
            assert_eq!(texts[49], "old needle 100");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never caught up");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The row indexed before the upgrade is found again, in the smaller index, which is whole.
    assert_eq!(
        search(&mut alice, "q=written%20live"),
        ["a needle written live is indexed at once"]
    );
    drop(alice);
    server.terminate();
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
        .unwrap();
}
