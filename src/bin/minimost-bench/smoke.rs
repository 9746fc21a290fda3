//! The `smoke` scenario: proves a server binary boots and serves a chat, end to end, on the
//! machine (or the emulated CPU) it runs on. The release script runs it against every binary it
//! builds, under qemu-user with the boards' real CPU models. Unlike the other scenarios it fails
//! (exits non-zero) when anything is wrong, and it measures nothing.

use crate::client::Server;
use crate::json::Json;
use crate::Options;
use std::time::{Duration, Instant};

pub fn run(o: &Options) -> anyhow::Result<()> {
    let started = Instant::now();
    let server = Server::start_with(&o.server, r#"{"channels": ["general"]}"#)?;
    let booted = started.elapsed();

    // The health endpoint, as a load balancer or the container's HEALTHCHECK asks it.
    let mut anonymous = server.client_from(None, "", Duration::from_secs(120))?;
    let (status, _, _) = anonymous.request("GET", "/healthz", None)?;
    anyhow::ensure!(status == 200, "GET /healthz answered {status}");
    // The embedded web UI.
    let (status, page, _) = anonymous.request("GET", "/login", None)?;
    anyhow::ensure!(
        status == 200 && String::from_utf8_lossy(&page).contains("<html"),
        "GET /login answered {status} without the embedded page"
    );

    // Two people sign up (password hashing is the heaviest thing a small board does); one
    // listens on the live socket while the other posts.
    let mut ada = server.signup("ada")?;
    let bob = server.signup("bob")?;
    let mut socket = server.websocket(&bob.cookie)?;
    let text = format!("hello from {}", std::env::consts::ARCH);
    let status = ada.post("general", &text)?;
    anyhow::ensure!(status == 201, "posting a message answered {status}");

    let deadline = Instant::now() + Duration::from_secs(60);
    let delivered = loop {
        match socket.read() {
            Ok(tungstenite::Message::Text(t)) if t.contains(&text) => break true,
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) && Instant::now() < deadline => {}
            Err(e) => anyhow::bail!("the live socket failed: {e}"),
        }
        if Instant::now() >= deadline {
            break false;
        }
    };
    anyhow::ensure!(delivered, "bob's live socket never got ada's message");

    let mut bob = bob;
    let history = bob.json("GET", "/api/channels/general/messages", None)?;
    anyhow::ensure!(
        history.to_json_string().contains(&text),
        "ada's message is missing from #general's history"
    );
    let me = bob.json("GET", "/api/me", None)?;
    anyhow::ensure!(
        me.get("username").and_then(Json::as_str) == Some("bob"),
        "GET /api/me did not answer bob"
    );
    println!(
        "smoke     booted in {:.0} ms; /healthz, the web UI, 2 sign-ups, a message live and in history: ok ({:.1} s in all)",
        booted.as_secs_f64() * 1000.0,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
