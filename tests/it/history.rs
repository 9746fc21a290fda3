//! A newcomer's copy of the public history, made in chunks after the account exists: it
//! arrives whole, in order and once, beside messages sent meanwhile, searchable, and an
//! interrupted copy resumes at the next start (from another member if its source is gone).

use crate::harness::{s, Client, Options, Server, TempDir, PASSWORD};
use crate::json::Json;
use std::path::Path;
use std::time::{Duration, Instant};

const OLD: usize = 2_500;
const OLD_TS: f64 = 1_600_000_000.0;

/// Writes `n` messages of #general, `text(i)` each, into a member's database as the server
/// would have.
fn write_history(db: &Path, n: usize, text: impl Fn(usize) -> String) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch("BEGIN").unwrap();
    for i in 0..n {
        conn.execute(
            "INSERT INTO messages(channel, sender, content, ts, read) VALUES ('general', ?1, ?2, ?3, 1)",
            rusqlite::params![if i % 2 == 0 { "alice" } else { "bob" }, text(i), OLD_TS + i as f64],
        )
        .unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
}

/// Writes `OLD` messages of #general into a member's database, every 500th with a needle.
fn write_old_history(db: &Path) {
    write_history(db, OLD, |i| {
        if i % 500 == 0 {
            format!("old {i} needle")
        } else {
            format!("old {i}")
        }
    });
}

/// A data dir where alice and bob share `OLD` old messages and one sent live.
fn two_members_with_history(temp: &TempDir) {
    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    let mut alice = server.signup("alice");
    server.signup("bob");
    alice.say("general", "live before");
    drop(alice);
    server.terminate();
    for who in ["alice", "bob"] {
        write_old_history(&temp.path().join(format!("users/{who}.db")));
    }
}

/// Every message of #general `client` can page back to, oldest first.
fn whole_history(client: &mut Client) -> Vec<Json> {
    let mut all: Vec<Json> = Vec::new();
    let mut path = "/api/channels/general/messages?limit=200".to_owned();
    loop {
        let res = client.get(&path);
        assert_eq!(res.status, 200, "{}", res.text());
        let Json::Arr(page) = res.json() else {
            panic!()
        };
        let Some(first) = page.first() else { break };
        path = format!(
            "/api/channels/general/messages?limit=200&before={}",
            s(first, "id")
        );
        let done = page.len() < 200;
        all.splice(0..0, page);
        if done {
            break;
        }
    }
    all
}

/// Waits until `client` sees `expected` messages in #general; returns them.
fn wait_for_history(client: &mut Client, expected: usize) -> Vec<Json> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let all = whole_history(client);
        if all.len() >= expected || Instant::now() > deadline {
            return all;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assert_whole_and_in_order(all: &[Json], live: &[&str]) {
    let texts: Vec<&str> = all.iter().map(|m| s(m, "text")).collect();
    let mut expected: Vec<String> = (0..OLD)
        .map(|i| {
            if i % 500 == 0 {
                format!("old {i} needle")
            } else {
                format!("old {i}")
            }
        })
        .collect();
    expected.extend(live.iter().map(|t| t.to_string()));
    assert_eq!(texts.len(), expected.len(), "every message once");
    assert_eq!(texts, expected, "in ts order");
    let ts: Vec<f64> = all
        .iter()
        .map(|m| m.get("ts").and_then(Json::as_f64).unwrap())
        .collect();
    assert!(ts.windows(2).all(|w| w[0] < w[1]), "ts strictly increasing");
}

#[test]
fn a_newcomers_history_arrives_whole_in_order_once_and_searchable() {
    let temp = TempDir::new();
    two_members_with_history(&temp);
    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    let mut alice = server.client();
    assert_eq!(alice.login("alice", PASSWORD).status, 200);
    let mut carol = server.signup("carol");
    // The newest history is there at once; a message sent meanwhile arrives once, live.
    let newest = carol.messages("general");
    assert_eq!(s(newest.last().unwrap(), "text"), "live before");
    alice.say("general", "sent while carol's copy is made");
    let all = wait_for_history(&mut carol, OLD + 2);
    assert_whole_and_in_order(&all, &["live before", "sent while carol's copy is made"]);
    // Copies are indexed as they are made: newest first, nothing waiting.
    let found = carol.get("/api/search?q=needle");
    assert_eq!(found.header("x-search-unindexed"), None);
    let Json::Arr(found) = found.json() else {
        panic!()
    };
    let texts: Vec<&str> = found.iter().map(|m| s(m, "text")).collect();
    assert_eq!(
        texts,
        [
            "old 2000 needle",
            "old 1500 needle",
            "old 1000 needle",
            "old 500 needle",
            "old 0 needle"
        ]
    );
    drop((alice, carol));
    server.terminate();
    let db = rusqlite::Connection::open(temp.path().join("users/carol.db")).unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    db.execute_batch("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
        .unwrap();
    let left: i64 = db
        .query_row("SELECT COUNT(*) FROM history_seed", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0, "the plan is gone once the copy is whole");
}

#[test]
fn an_interrupted_copy_resumes_at_the_next_start_even_when_its_source_is_gone() {
    let temp = TempDir::new();
    two_members_with_history(&temp);
    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    let mut carol = server.signup("carol");
    assert_eq!(wait_for_history(&mut carol, OLD + 1).len(), OLD + 1);
    carol.say("general", "carol was here");
    drop(carol);
    server.terminate();

    // As if the server died half-way through a copy from a member since deleted: the older
    // half missing, the plan pointing at it, the source gone.
    let db = rusqlite::Connection::open(temp.path().join("users/carol.db")).unwrap();
    let middle = OLD_TS + (OLD / 2) as f64;
    // Copies keep their ids from the source; rows received live come after the reserved ids.
    let reserve: i64 = 1 << 32;
    let newest: f64 = db
        .query_row(
            "SELECT MAX(ts) FROM messages WHERE id <= ?1",
            [reserve],
            |r| r.get(0),
        )
        .unwrap();
    db.execute_batch("BEGIN").unwrap();
    db.execute("DELETE FROM messages WHERE ts < ?1", [middle])
        .unwrap();
    db.execute(
        "INSERT INTO history_seed(channel, newest_ts, before_ts, reserve, done) VALUES ('general', ?1, ?2, ?3, 0)",
        rusqlite::params![newest, middle, reserve],
    )
    .unwrap();
    db.execute_batch("COMMIT").unwrap();
    drop(db);
    let presence = rusqlite::Connection::open(temp.path().join("presence.db")).unwrap();
    presence
        .execute(
            "INSERT INTO history_seeds(username, source) VALUES ('carol', 'dora')",
            [],
        )
        .unwrap();
    drop(presence);

    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    let mut carol = server.client();
    assert_eq!(carol.login("carol", PASSWORD).status, 200);
    let all = wait_for_history(&mut carol, OLD + 2);
    assert_whole_and_in_order(&all, &["live before", "carol was here"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server
        .stderr()
        .contains("copied the channels' history into users/carol.db")
    {
        assert!(Instant::now() < deadline, "{}", server.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sizes of the WAL files in the data dir, by file name.
fn wal_sizes(dir: &Path) -> Vec<(String, u64)> {
    let mut sizes = Vec::new();
    for sub in [dir.to_owned(), dir.join("users")] {
        for entry in std::fs::read_dir(sub).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with("-wal") {
                sizes.push((name, entry.metadata().unwrap().len()));
            }
        }
    }
    sizes
}

#[test]
fn wal_files_are_emptied_once_writes_stop() {
    let temp = TempDir::new();
    let options = Options {
        env: vec![("MINIMOST_WAL_QUIET_SECS".into(), "1".into())],
        ..Options::default()
    };
    let server = Server::start_in(temp.path(), options).unwrap();
    let mut alice = server.signup("alice");
    server.signup("bob");
    // A burst that writes several MB into each member's WAL.
    let text = "w".repeat(9_000);
    for _ in 0..250 {
        alice.say("general", &text);
    }
    let grown: u64 = wal_sizes(temp.path()).iter().map(|(_, n)| n).sum();
    assert!(grown > 2 << 20, "the burst wrote {grown} bytes of WAL");
    // Quiet for a second: every WAL written lately is folded in and emptied.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let sizes = wal_sizes(temp.path());
        if sizes.iter().all(|(_, n)| *n == 0) {
            break;
        }
        assert!(Instant::now() < deadline, "WAL files left: {sizes:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Nothing was lost on the way.
    assert_eq!(alice.messages("general").len(), 100, "the newest page");
    assert_eq!(
        server.stderr().matches("warning").count(),
        0,
        "{}",
        server.stderr()
    );
}

#[test]
fn a_long_copy_folds_its_wal_back_as_it_goes_and_finishes() {
    // About 60 MB of history: copied in one go, the newcomer's WAL would grow to its size.
    const ROWS: usize = 200_000;
    let temp = TempDir::new();
    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    server.signup("alice");
    server.terminate();
    let filler = "a longer message about the build, the tests and lunch ".repeat(3);
    write_history(&temp.path().join("users/alice.db"), ROWS, |i| {
        format!("{i} {filler}")
    });
    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    server.signup("carol");
    let wal = temp.path().join("users/carol.db-wal");
    let carol = rusqlite::Connection::open(temp.path().join("users/carol.db")).unwrap();
    carol.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut largest = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        let (planned, copied): (i64, i64) = carol
            .query_row(
                "SELECT (SELECT COUNT(*) FROM history_seed), (SELECT COUNT(*) FROM messages)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        if planned == 0 && copied as usize >= ROWS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the copy stalled at {copied} rows"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // 16 MiB, then folded back before the next chunk; a chunk adds at most a couple of MB.
    assert!(largest < 24 << 20, "the WAL reached {largest} bytes");
}

#[test]
fn a_full_disk_refuses_new_things_in_words_keeps_deleting_and_recovers_by_itself() {
    let temp = TempDir::new();
    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    let mut alice = server.signup("alice");
    let kept = alice.say("general", "written before the disk filled");
    // The floor above any disk's free space, as if the disk were full (read live).
    let settings = temp.path().join("settings.json");
    let before = std::fs::read_to_string(&settings).unwrap();
    assert!(before.contains("\"min_free_disk_mb\": 200,"), "{before}");
    let full = before.replace(
        "\"min_free_disk_mb\": 200,",
        "\"min_free_disk_mb\": 4294967295,",
    );
    std::fs::write(&settings, &full).unwrap();
    let full_message =
        "The server's storage is full, so nothing new can be saved; tell your administrator";
    let refused = [
        alice.post(
            "/api/channels/general/messages",
            &Json::obj([("text", "one more".into())]),
        ),
        server.client().post(
            "/api/signup",
            &Json::obj([
                ("username", "bob".into()),
                ("password", PASSWORD.into()),
                ("confirm_password", PASSWORD.into()),
            ]),
        ),
        alice.post(
            &format!(
                "/api/channels/general/messages/{}/reactions",
                s(&kept, "id")
            ),
            &Json::obj([("emoji", "thumbsup".into())]),
        ),
    ];
    for res in refused {
        assert_eq!(res.status, 507, "{}", res.text());
        assert!(res.text().contains(full_message), "{}", res.text());
    }
    // Reading and deleting still work, so space can be freed.
    assert_eq!(alice.messages("general").len(), 1);
    let res = alice.delete(&format!(
        "/api/channels/general/messages/{}",
        s(&kept, "id")
    ));
    assert_eq!(res.status, 204);
    assert!(
        server
            .stderr()
            .contains("new messages, uploads and accounts are refused"),
        "{}",
        server.stderr()
    );
    // Room again: writes resume without a restart.
    std::fs::write(
        &settings,
        before.replacen('{', "{\"min_free_disk_mb\": 0,", 1),
    )
    .unwrap();
    let later = std::time::SystemTime::now() + Duration::from_secs(2);
    std::fs::File::options()
        .write(true)
        .open(&settings)
        .unwrap()
        .set_modified(later)
        .unwrap();
    alice.say("general", "space again");
}

#[test]
fn size_caps_trim_the_oldest_uploads_and_messages_first_and_say_so() {
    let temp = TempDir::new();
    let server = Server::start_in(temp.path(), Options::default()).unwrap();
    let mut alice = server.signup("alice");
    let mut alice_ws = alice.ws();
    let text = "m".repeat(5_000);
    let mut first = None;
    for i in 0..400 {
        let message = alice.say("general", &format!("{i} {text}"));
        first.get_or_insert(message);
    }
    let newest = alice.say("general", "the newest");
    // Three 600 KB uploads, oldest first.
    let uploads = temp.path().join("uploads");
    let now = std::time::SystemTime::now();
    for (i, age_hours) in [(1, 30u64), (2, 20), (3, 10)] {
        let path = uploads.join(format!("{:032x}_file{i}.bin", i));
        std::fs::write(&path, vec![b'x'; 600 * 1024]).unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(now - Duration::from_secs(age_hours * 3600))
            .unwrap();
    }
    let settings = temp.path().join("settings.json");
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(
        &settings,
        text.replacen(
            '{',
            "{\"max_uploads_mb\": 1, \"max_messages_mb_per_user\": 1,",
            1,
        ),
    )
    .unwrap();

    let out = crate::harness::cli(temp.path(), &["clean"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", out.stdout, out.stderr);
    // The two oldest uploads went, the newest stayed.
    assert!(!uploads.join(format!("{:032x}_file1.bin", 1)).exists());
    assert!(!uploads.join(format!("{:032x}_file2.bin", 2)).exists());
    assert!(uploads.join(format!("{:032x}_file3.bin", 3)).exists());
    assert!(
        out.stdout
            .contains("oldest while uploads are over max_uploads_mb 1 MB"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("over max_messages_mb_per_user 1 MB"),
        "{}",
        out.stdout
    );
    // The oldest messages went from alice's copy; the newest stayed; her tab was told.
    let left = whole_history(&mut alice);
    assert!(left.len() < 401 && left.len() > 20, "{} left", left.len());
    assert_eq!(s(left.last().unwrap(), "id"), s(&newest, "id"));
    assert!(left
        .iter()
        .all(|m| s(m, "id") != s(first.as_ref().unwrap(), "id")));
    let expired = alice_ws.expect_event("messages_expired");
    assert!(expired.get("before_ts").and_then(Json::as_f64).is_some());
    let db = rusqlite::Connection::open(temp.path().join("users/alice.db")).unwrap();
    let used: i64 = db
        .query_row(
            "SELECT (SELECT page_count FROM pragma_page_count) - (SELECT freelist_count FROM pragma_freelist_count)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        used * 4096 <= 1 << 20,
        "alice's database still uses {used} pages"
    );
}
