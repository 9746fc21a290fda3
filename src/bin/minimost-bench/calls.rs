//! The calls scenario: the STUN responder's answers per second and its latency over loopback,
//! and what 20 concurrent 1:1 calls being signalled cost the server (media never reaches it):
//! each pair starts and answers a call, then relays an offer, an answer and ten ICE candidates
//! each way through the server, one at a time, timing each relay.

#[path = "../../base/stun.rs"]
#[allow(dead_code)]
mod stun;

use crate::client::{cpu_seconds, rss_kib, Server};
use crate::json::{self, Json};
use crate::{percentile, Options};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub fn run(o: &Options) -> anyhow::Result<()> {
    let port = UdpSocket::bind("0.0.0.0:0")?.local_addr()?.port();
    let settings = format!(
        r#"{{"channels": ["general"], "rate_limits": {{"login": [1000000, 1], "signup": [1000000, 1]}}, "max_connections_per_ip": 0, "stun_port": {port}}}"#
    );
    let server = Server::start_with(&o.server, &settings)?;
    stun_figures(&server, port, o.quick)?;
    signalling(&server, if o.quick { 2 } else { 20 })?;
    Ok(())
}

fn stun_figures(server: &Server, port: u16, quick: bool) -> anyhow::Result<()> {
    let to = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let client = UdpSocket::bind("127.0.0.1:0")?;
    client.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut buf = [0u8; 1500];
    let mut latencies = Vec::new();
    for i in 0..if quick { 200 } else { 5000 } {
        let id = transaction(i);
        let sent = Instant::now();
        client.send_to(&stun::binding_request(id, true), to)?;
        let (n, _) = client.recv_from(&mut buf)?;
        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(
            stun::mapped_address(&buf[..n], id).is_some(),
            "a bad STUN answer"
        );
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "calls     stun binding, one client, one at a time  p50 {:>7.3} ms  p99 {:>7.3} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    // Four clients, each keeping 16 requests in flight.
    let answers = AtomicU64::new(0);
    let window = Duration::from_secs_f64(if quick { 0.5 } else { 3.0 });
    let cpu = cpu_seconds(server.pid());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..4u64 {
            let answers = &answers;
            scope.spawn(move || -> anyhow::Result<()> {
                let client = UdpSocket::bind("127.0.0.1:0")?;
                client.set_read_timeout(Some(Duration::from_millis(200)))?;
                let mut buf = [0u8; 1500];
                let request = stun::binding_request(transaction(t), false);
                let mut in_flight = 0;
                while started.elapsed() < window {
                    while in_flight < 16 {
                        client.send_to(&request, to)?;
                        in_flight += 1;
                    }
                    match client.recv_from(&mut buf) {
                        Ok(_) => {
                            answers.fetch_add(1, Ordering::Relaxed);
                            in_flight -= 1;
                        }
                        // A dropped datagram: send another.
                        Err(_) => in_flight = 0,
                    }
                }
                Ok(())
            });
        }
    });
    let secs = started.elapsed().as_secs_f64();
    println!(
        "calls     stun binding, 4 clients × 16 in flight   {:>8.0} answers/s  server cpu {:.0} %",
        answers.load(Ordering::Relaxed) as f64 / secs,
        (cpu_seconds(server.pid()) - cpu) / secs * 100.0
    );
    Ok(())
}

fn transaction(i: u64) -> [u8; 12] {
    let mut id = [0u8; 12];
    id[4..].copy_from_slice(&i.to_be_bytes());
    id
}

type Socket = tungstenite::WebSocket<Box<dyn crate::client::Io>>;

fn signalling(server: &Server, pairs: usize) -> anyhow::Result<()> {
    let mut people = Vec::new();
    for i in 0..pairs {
        let n = crate::unique();
        let names = (format!("caller{n}x{i}"), format!("callee{n}x{i}"));
        let a = server.signup(&names.0)?;
        let b = server.signup(&names.1)?;
        let a_ws = server.websocket(&a.cookie)?;
        let b_ws = server.websocket(&b.cookie)?;
        people.push((names, a, b, a_ws, b_ws));
    }
    let rss_before = rss_kib(server.pid());
    let cpu = cpu_seconds(server.pid());
    let started = Instant::now();
    let results: Vec<anyhow::Result<Vec<f64>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = people
            .iter_mut()
            .map(|(names, a, b, a_ws, b_ws)| scope.spawn(move || one_call(names, a, b, a_ws, b_ws)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a caller panicked")))
            })
            .collect()
    });
    let secs = started.elapsed().as_secs_f64();
    let cpu = (cpu_seconds(server.pid()) - cpu) / secs * 100.0;
    let rss_after = rss_kib(server.pid());
    let mut relays = Vec::new();
    for r in results {
        relays.extend(r?);
    }
    relays.sort_by(f64::total_cmp);
    println!(
        "calls     {pairs} 1:1 calls signalled at once          {} relays  p50 {:>6.2} ms  p99 {:>6.2} ms  server cpu {cpu:.0} % over {secs:.1} s  rss {:.1} → {:.1} MB",
        relays.len(),
        percentile(&relays, 0.5),
        percentile(&relays, 0.99),
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0
    );
    Ok(())
}

/// One call: start, answer, then an offer, an answer and ten candidates each way.
fn one_call(
    (a_name, b_name): &(String, String),
    a: &mut crate::client::Client,
    b: &mut crate::client::Client,
    a_ws: &mut Socket,
    b_ws: &mut Socket,
) -> anyhow::Result<Vec<f64>> {
    let channel = if a_name < b_name {
        format!("dm:{a_name}:{b_name}")
    } else {
        format!("dm:{b_name}:{a_name}")
    };
    let call = a.json(
        "POST",
        "/api/calls",
        Some(&Json::obj([("channel", channel.as_str().into())])),
    )?;
    let id = call
        .get("call_id")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_owned();
    b.json(
        "POST",
        &format!("/api/calls/{id}/accept"),
        Some(&Json::obj([])),
    )?;
    let sdp = "v=0 ".repeat(500); // about the size of a real offer
    let candidate = "candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host ".repeat(2);
    let mut relays = Vec::new();
    let mut relay = |from: &mut Socket, to: &mut Socket, to_name: &str, data: &str| {
        let signal = Json::obj([
            ("type", "call_signal".into()),
            ("call_id", id.as_str().into()),
            ("to", to_name.into()),
            ("data", Json::obj([("sdp", data.into())])),
        ]);
        let sent = Instant::now();
        from.send(tungstenite::Message::Text(signal.to_json_string()))?;
        wait_for_signal(to)?;
        relays.push(sent.elapsed().as_secs_f64() * 1000.0);
        anyhow::Ok(())
    };
    relay(a_ws, b_ws, b_name, &sdp)?;
    relay(b_ws, a_ws, a_name, &sdp)?;
    for _ in 0..10 {
        relay(a_ws, b_ws, b_name, &candidate)?;
        relay(b_ws, a_ws, a_name, &candidate)?;
    }
    a.json(
        "POST",
        &format!("/api/calls/{id}/leave"),
        Some(&Json::obj([])),
    )?;
    b.json(
        "POST",
        &format!("/api/calls/{id}/leave"),
        Some(&Json::obj([])),
    )?;
    Ok(relays)
}

fn wait_for_signal(ws: &mut Socket) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match ws.read() {
            Ok(tungstenite::Message::Text(text)) => {
                let event = json::parse(&text).map_err(anyhow::Error::msg)?;
                match event.get("type").and_then(Json::as_str) {
                    Some("call_signal") => return Ok(()),
                    Some("call_signal_refused") => anyhow::bail!("a signal was refused: {text}"),
                    _ => {}
                }
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => anyhow::bail!("websocket: {e}"),
        }
    }
    anyhow::bail!("a call signal did not arrive within 10 s")
}
