//! Floors measured in the same run as the scenarios, so a figure can be judged against what
//! the machine can do at all: raw SQLite commits into 50 WAL databases from one thread, and a
//! raw TLS WebSocket round trip on loopback with no server logic.

use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Floors {
    pub sqlite_commits_per_sec: f64,
    pub ws_round_trip_ms: f64,
}

pub fn measure(quick: bool) -> anyhow::Result<Floors> {
    Ok(Floors {
        sqlite_commits_per_sec: sqlite_commits(quick)?,
        ws_round_trip_ms: ws_round_trip(quick)?,
    })
}

/// One single-row transaction per database, round-robin over 50 WAL databases.
fn sqlite_commits(quick: bool) -> anyhow::Result<f64> {
    let dir = std::env::temp_dir().join(format!(
        "minimost-bench-floor-{}-{}",
        std::process::id(),
        crate::unique()
    ));
    std::fs::create_dir_all(&dir)?;
    let conns = (0..50)
        .map(|i| {
            let conn = rusqlite::Connection::open(dir.join(format!("{i}.db")))?;
            conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
            conn.execute_batch(
                "PRAGMA synchronous = NORMAL;
                 CREATE TABLE messages(id INTEGER PRIMARY KEY, channel TEXT, sender TEXT, content TEXT, ts REAL);
                 CREATE INDEX messages_by_channel_ts ON messages(channel, ts);",
            )?;
            Ok(conn)
        })
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let limit = Duration::from_secs_f64(if quick { 0.5 } else { 3.0 });
    let start = Instant::now();
    let mut commits = 0u64;
    while start.elapsed() < limit {
        for conn in &conns {
            conn.execute_batch("BEGIN")?;
            conn.execute(
                "INSERT INTO messages(channel, sender, content, ts) VALUES ('general', 'bench', 'a short chat message', ?1)",
                [commits as f64],
            )?;
            conn.execute_batch("COMMIT")?;
            commits += 1;
        }
    }
    let rate = commits as f64 / start.elapsed().as_secs_f64();
    drop(conns);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(rate)
}

/// Median round trip of a small text frame through a TLS WebSocket echo on loopback.
fn ws_round_trip(quick: bool) -> anyhow::Result<f64> {
    let key = rcgen::KeyPair::generate()?;
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])?.self_signed(&key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )?,
    );
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone())?;
    let client_config = Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let echo = std::thread::spawn(move || -> anyhow::Result<()> {
        let (tcp, _) = listener.accept()?;
        tcp.set_nodelay(true)?;
        let tls = rustls::StreamOwned::new(rustls::ServerConnection::new(server_config)?, tcp);
        let mut ws = tungstenite::accept(tls).map_err(|e| anyhow::anyhow!("{e}"))?;
        while let Ok(message) = ws.read() {
            if message.is_close() {
                break;
            }
            ws.send(message)?;
        }
        Ok(())
    });
    let tcp = std::net::TcpStream::connect(addr)?;
    tcp.set_nodelay(true)?;
    let tls = rustls::StreamOwned::new(
        rustls::ClientConnection::new(client_config, "localhost".try_into()?)?,
        tcp,
    );
    let (mut ws, _) = tungstenite::client::client(format!("wss://localhost:{}/", addr.port()), tls)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let rounds = if quick { 200 } else { 2000 };
    let frame = r#"{"type":"message","message":{"id":"1716000000.123456","channel":"general","sender":"alice","text":"a short chat message"}}"#;
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        ws.send(tungstenite::Message::Text(frame.to_owned()))?;
        ws.read()?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let _ = ws.close(None);
    let _ = ws.flush();
    drop(ws);
    let _ = echo.join();
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}
