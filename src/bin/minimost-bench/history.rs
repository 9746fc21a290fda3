//! The `history` scenario: how the cost grows with history. For each size it builds a data dir
//! whose 20 members share that many messages in #general (written straight into their
//! databases in the server's own layout, then checked through the API), restarts the server on
//! it, and measures what people feel: a newcomer's sign-up and how long everyone else's sends
//! wait meanwhile, a first search and the sends meanwhile, searches for a common and a rare
//! word, and the disk: bytes per message per member, with and without the search index, and
//! the WAL files. `wide` measures sends into channels of 50, 200 and 1,000 members.

use crate::client::{Client, Server};
use crate::json::Json;
use crate::{ms, percentile, Options};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MEMBERS: usize = 20;
/// A word in about half the messages, and one in ten messages of the whole history.
const COMMON: &str = "meeting";
const RARE: &str = "quasar";
const WORDS: [&str; 24] = [
    "the", "build", "is", "green", "again", "after", "lunch", "we", "ship", "friday", "review",
    "please", "deploy", "notes", "team", "update", "coffee", "tests", "fixed", "broken", "plan",
    "today", "tomorrow", "thanks",
];
/// Minutes between two messages of the built history (a busy channel for two years at 1 M).
const SPACING_SECS: f64 = 60.0;

pub fn run(o: &Options) -> anyhow::Result<()> {
    let sizes: &[u64] = match &o.sizes {
        Some(sizes) => sizes,
        None if o.quick => &[2_000],
        None => &[10_000, 100_000, 1_000_000],
    };
    for &size in sizes {
        one_size(o, size)?;
    }
    if !o.wide {
        return Ok(());
    }
    wide(o)
}

/// Sends into channels of 50, 200 and 1,000 members (#general with everyone, private channels
/// for the smaller ones): the sender's 201, which comes once every copy is journalled and the
/// sender's own is committed.
fn wide(o: &Options) -> anyhow::Result<()> {
    let sizes: &[usize] = if o.quick {
        &[10, 20]
    } else {
        &[50, 200, 1_000]
    };
    let everyone = *sizes.last().unwrap_or(&1);
    let server = Server::start(&o.server)?;
    let mut cookies = Vec::with_capacity(everyone);
    for i in 0..everyone {
        cookies.push(server.signup(&format!("w{i}"))?.cookie);
    }
    let mut sender = server.client_for(&cookies[0])?;
    let sends = if o.quick { 5 } else { 40 };
    for &members in sizes {
        let channel = if members == everyone {
            "general".to_owned()
        } else {
            let names: Vec<Json> = (1..members).map(|i| Json::str(format!("w{i}"))).collect();
            let created = sender.json(
                "POST",
                "/api/private-channels",
                Some(&Json::obj([
                    ("name", Json::str(format!("wide {members}"))),
                    ("members", Json::Arr(names)),
                ])),
            )?;
            created
                .get("id")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        // Not measured: the first message opens every member's database, after its 201. A
        // member's read waits until every copy is committed, so the sends below do not queue
        // behind it.
        anyhow::ensure!(
            sender.post(&channel, "warm-up")? == 201,
            "warm-up send failed"
        );
        let mut member = server.client_for(&cookies[members - 1])?;
        let path = format!(
            "/api/channels/{}/messages?limit=1",
            channel.replace(':', "%3A")
        );
        member.json("GET", &path, None)?;
        let mut acks = Vec::with_capacity(sends);
        for n in 0..sends {
            let start = Instant::now();
            let status = sender.post(&channel, &format!("wide {n}"))?;
            anyhow::ensure!(status == 201, "send failed: {status}");
            acks.push(ms(start.elapsed()));
            // One at a time, as a person sends: the copies of one are done before the next.
            std::thread::sleep(Duration::from_millis(50));
        }
        acks.sort_by(f64::total_cmp);
        println!(
            "wide      a send into {members:>5} members          201 p50 {:>7.2} ms  p99 {:>7.2} ms  ({sends} sends)  budget p50 ≤ 20 at 1,000",
            percentile(&acks, 0.5),
            percentile(&acks, 0.99)
        );
    }
    Ok(())
}

fn one_size(o: &Options, size: u64) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!(
        "minimost-bench-history-{}-{}",
        std::process::id(),
        crate::unique()
    ));
    std::fs::create_dir_all(&dir)?;
    let result = measure(o, size, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure(o: &Options, size: u64, dir: &Path) -> anyhow::Result<()> {
    std::fs::write(
        dir.join("settings.json"),
        r#"{"channels": ["general"], "rate_limits": {"login": [1000000, 1], "signup": [1000000, 1]}, "max_connections_per_ip": 0}"#,
    )?;
    // The members, through the API; then their shared history, straight into the files.
    let server = Server::start_on(&o.server, dir)?;
    let mut cookies = Vec::new();
    for i in 0..MEMBERS {
        cookies.push(server.signup(&format!("h{i}"))?.cookie);
    }
    server.terminate()?;
    let built = Instant::now();
    let (db_bytes, first_ts, second_ts) = build_history(dir, size)?;
    let build_secs = built.elapsed().as_secs_f64();

    let server = Server::start_on(&o.server, dir)?;
    // A sample through the API: the newest page is the built history's end.
    let mut reader = server.client_for(&cookies[3])?;
    let page = reader.json("GET", "/api/channels/general/messages?limit=5", None)?;
    let newest = format!("history {}", size - 1);
    anyhow::ensure!(
        page.to_json_string().contains(&newest),
        "the built history does not read back through the API"
    );

    // A newcomer signs up while a member keeps sending, until the newcomer's copy of the
    // history reaches its first message (it is made after the sign-up answers).
    let mut signup_ms = 0.0;
    let (whole_ms, during_signup) = while_sending(&server, &cookies[1], || {
        let start = Instant::now();
        let mut newcomer = server.signup("newcomer")?;
        signup_ms = ms(start.elapsed());
        let oldest = format!("/api/channels/general/messages?limit=1&before={second_ts}");
        let first_id = format!("\"id\":\"{first_ts}\"");
        while !newcomer
            .json("GET", &oldest, None)?
            .to_json_string()
            .contains(&first_id)
        {
            anyhow::ensure!(
                start.elapsed() < Duration::from_secs(600),
                "the newcomer's history never became whole"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(ms(start.elapsed()))
    })?;
    // A first search no longer builds anything: timed alone.
    let mut searcher = server.client_for(&cookies[2])?;
    let start = Instant::now();
    searcher.json("GET", &format!("/api/search?q={COMMON}"), None)?;
    let first_search_ms = ms(start.elapsed());
    let common = searches(&mut searcher, COMMON, 20)?;
    let rare = searches(&mut searcher, RARE, 20)?;
    // The common word not typed out: a prefix, which FTS5 answers by gathering every match.
    let partial = searches(&mut searcher, &COMMON[..COMMON.len() - 1], 20)?;
    let copied =
        file_size(&dir.join("users/newcomer.db")) + file_size(&dir.join("users/newcomer.db-wal"));
    let indexed = file_size(&dir.join("users/h2.db")) + file_size(&dir.join("users/h2.db-wal"));
    let wal_total: u64 = std::fs::read_dir(dir.join("users"))?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with("-wal"))
        .map(|e| e.metadata().map_or(0, |m| m.len()))
        .sum();
    server.terminate()?;

    // An upgrade that rebuilds every search index (as this release's does): the server
    // catches them all up in the background from its start, while a member keeps sending.
    let databases: Vec<PathBuf> = std::fs::read_dir(dir.join("users"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "db"))
        .collect();
    // Each database's newest row now: rows sent meanwhile are indexed in rounds every 2 s.
    let mut newest: Vec<i64> = Vec::with_capacity(databases.len());
    for path in &databases {
        let conn = rusqlite::Connection::open(path)?;
        conn.execute_batch(
            "INSERT INTO messages_fts(messages_fts) VALUES ('delete-all');
             UPDATE fts_state SET indexed_upto = 0;",
        )?;
        newest.push(conn.query_row("SELECT MAX(id) FROM messages", [], |r| r.get(0))?);
    }
    let server = Server::start_on(&o.server, dir)?;
    let (rebuild_ms, during_rebuild) = while_sending(&server, &cookies[1], || {
        let start = Instant::now();
        for (path, newest) in databases.iter().zip(&newest) {
            let conn = rusqlite::Connection::open(path)?;
            conn.busy_timeout(Duration::from_secs(10))?;
            while conn.query_row("SELECT indexed_upto FROM fts_state", [], |r| {
                r.get::<_, i64>(0)
            })? < *newest
            {
                anyhow::ensure!(
                    start.elapsed() < Duration::from_secs(1800),
                    "the search indexes were never rebuilt"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(ms(start.elapsed()))
    })?;
    drop(server);

    let mb = |b: u64| b as f64 / (1 << 20) as f64;
    println!("history   {size:>9} msgs × {MEMBERS} members: built in {build_secs:.1} s; a member's db {:.1} MB ({:.0} B/msg), {:.1} MB with the search index ({:.0} B/msg)",
        mb(db_bytes), db_bytes as f64 / size as f64, mb(indexed), indexed as f64 / size as f64);
    println!("history   {size:>9}  sign-up {signup_ms:>8.1} ms, history whole after {whole_ms:>8.1} ms   others' sends meanwhile p50 {:>7.2} p99 {:>7.2} max {:>7.2} ms ({} sends)  budget p99 ≤ 10",
        percentile(&during_signup, 0.5), percentile(&during_signup, 0.99), during_signup.last().copied().unwrap_or(f64::NAN), during_signup.len());
    println!("history   {size:>9}  first search {first_search_ms:>6.1} ms; every index rebuilt (an upgrade) in {:.1} s, sends meanwhile p50 {:>7.2} p99 {:>7.2} max {:>7.2} ms ({} sends)  budget p99 ≤ 10",
        rebuild_ms / 1000.0, percentile(&during_rebuild, 0.5), percentile(&during_rebuild, 0.99), during_rebuild.last().copied().unwrap_or(f64::NAN), during_rebuild.len());
    println!("history   {size:>9}  search common word p50 {:>7.2} p99 {:>7.2} ms (budget ≤ 20 / ≤ 100)   rare word p50 {:>6.2} ms (budget ≤ 5)   WAL files {:.1} MB in all",
        percentile(&common, 0.5), percentile(&common, 0.99), percentile(&rare, 0.5), mb(wal_total));
    println!("history   {size:>9}  search for the common word's first {} letters p50 {:>7.2} p99 {:>7.2} ms   the newcomer's copy {:.1} MB ({:.0} B/msg)",
        COMMON.len() - 1, percentile(&partial, 0.5), percentile(&partial, 0.99), mb(copied), copied as f64 / size as f64);
    Ok(())
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Writes `size` messages of #general into h0's database in the server's layout (the members
/// take turns; every message read), then copies that file to every other member.
fn build_history(dir: &Path, size: u64) -> anyhow::Result<(u64, f64, f64)> {
    let users = dir.join("users");
    let first = users.join("h0.db");
    let start = (crate::client::now() - size as f64 * SPACING_SECS - 3600.0).round();
    {
        let conn = rusqlite::Connection::open(&first)?;
        conn.execute_batch("PRAGMA synchronous = OFF; BEGIN")?;
        let mut insert = conn.prepare(
            "INSERT INTO messages(channel, sender, content, content_type, ts, read)
             VALUES ('general', ?1, ?2, 'text', ?3, 1)",
        )?;
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut text = String::new();
        for i in 0..size {
            text.clear();
            let words = 6 + (next(&mut seed) % 10) as usize;
            for w in 0..words {
                if w > 0 {
                    text.push(' ');
                }
                text.push_str(WORDS[(next(&mut seed) % WORDS.len() as u64) as usize]);
            }
            if next(&mut seed) % 2 == 0 {
                text.push(' ');
                text.push_str(COMMON);
            }
            if i % (size / 10).max(1) == 0 {
                text.push(' ');
                text.push_str(RARE);
            }
            if i == size - 1 {
                text = format!("history {i}");
            }
            let ts = ((start + i as f64 * SPACING_SECS) * 1e6).round() / 1e6;
            insert.execute(rusqlite::params![
                format!("h{}", i % MEMBERS as u64),
                text,
                ts
            ])?;
        }
        drop(insert);
        // Indexed for search, as the server's indexing rounds would have left it over time:
        // merged into one segment (a bulk insert without FTS5's own merging leaves dozens).
        conn.execute_batch(
            "INSERT INTO messages_fts(rowid, content)
                 SELECT id, content FROM messages WHERE content IS NOT NULL AND content != '';
             INSERT INTO messages_fts(messages_fts) VALUES ('optimize');
             UPDATE fts_state SET indexed_upto = (SELECT MAX(id) FROM messages);
             COMMIT; PRAGMA wal_checkpoint(TRUNCATE);",
        )?;
    }
    for i in 1..MEMBERS {
        let path = users.join(format!("h{i}.db"));
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        std::fs::copy(&first, &path)?;
    }
    let ts = |i: u64| ((start + i as f64 * SPACING_SECS) * 1e6).round() / 1e6;
    Ok((file_size(&first), ts(0), ts(1)))
}

/// xorshift64: the same history every run.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Runs `action` while the member with `cookie` posts to #general every 20 ms; returns what
/// the action returned and the sorted latencies of the sends that started while it ran.
fn while_sending(
    server: &Server,
    cookie: &str,
    action: impl FnOnce() -> anyhow::Result<f64>,
) -> anyhow::Result<(f64, Vec<f64>)> {
    let stop = Arc::new(AtomicBool::new(false));
    let sends: Arc<Mutex<Vec<(Instant, f64)>>> = Arc::default();
    let mut sender = server.client_for(cookie)?;
    let result = std::thread::scope(|scope| {
        let (stop_flag, log) = (stop.clone(), sends.clone());
        scope.spawn(move || {
            let mut n = 0u64;
            while !stop_flag.load(Ordering::Relaxed) {
                let start = Instant::now();
                if let Ok(201) = sender.post("general", &format!("while busy {n}")) {
                    log.lock().unwrap().push((start, ms(start.elapsed())));
                }
                n += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        std::thread::sleep(Duration::from_millis(200));
        let began = Instant::now();
        let result = action();
        let ended = Instant::now();
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, Ordering::Relaxed);
        result.map(|r| (r, began, ended))
    });
    let (value, began, ended) = result?;
    let mut during: Vec<f64> = sends
        .lock()
        .unwrap()
        .iter()
        // A send that was waiting when the action began counts too.
        .filter(|(start, took)| {
            *start <= ended && *start + Duration::from_secs_f64(took / 1000.0) >= began
        })
        .map(|(_, took)| *took)
        .collect();
    during.sort_by(f64::total_cmp);
    Ok((value, during))
}

fn searches(client: &mut Client, word: &str, n: usize) -> anyhow::Result<Vec<f64>> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let found = client.json("GET", &format!("/api/search?q={word}"), None)?;
        times.push(ms(start.elapsed()));
        anyhow::ensure!(
            matches!(&found, Json::Arr(items) if !items.is_empty()),
            "no result for {word}"
        );
    }
    times.sort_by(f64::total_cmp);
    Ok(times)
}
