//! The ways the server is deployed besides a bare binary. The Docker image, built and run for
//! real with podman + runc from the static musl binary the test command builds on this machine
//! (no registry is needed): its size, its non-root user, HTTPS on port 5000, the HEALTHCHECK
//! (also under MINIMOST_NO_TLS=1 on another port), data in the `/data` volume outliving its
//! container, and a prompt stop on SIGTERM. Skipped with one line where no container can start,
//! or where tests/run could not build the static binary (and said why); otherwise, under CI, a
//! missing podman or binary is a failure. And the systemd unit, checked by
//! `systemd-analyze verify`.

use crate::harness::{client_config, read_response, send_request, TempDir, PASSWORD};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const MUSL_BINARY: &str = "target/x86_64-unknown-linux-musl/release/minimost";

struct Podman {
    conf: TempDir,
    tag: String,
    volume: String,
    containers: Vec<String>,
}

impl Podman {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("podman")
            .env("CONTAINERS_CONF", self.conf.path().join("containers.conf"))
            .args(args)
            .output()
            .expect("podman runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "podman {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Starts a container of the image on the host's network with the data volume.
    fn start(&mut self, env: &[&str]) -> String {
        let name = format!(
            "{}-{}",
            self.tag.replace([':', '/'], "-"),
            self.containers.len()
        );
        let mut args = vec![
            "--runtime",
            "runc",
            "run",
            "-d",
            "--network",
            "host",
            "--name",
            &name,
            "-v",
        ];
        let volume = format!("{}:/data", self.volume);
        args.push(&volume);
        for e in env {
            args.extend(["-e", e]);
        }
        args.push(&self.tag);
        self.ok(&args);
        self.containers.push(name.clone());
        name
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        for name in &self.containers {
            let _ = self.run(&["rm", "-f", name]);
        }
        let _ = self.run(&["volume", "rm", "-f", &self.volume]);
        let _ = self.run(&["rmi", "-f", &self.tag]);
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Why no container can be tried here, if so (a failure under CI, unless tests/run said why).
fn unavailable() -> Option<String> {
    if let Ok(why) = std::env::var("MINIMOST_IMAGE_SKIP") {
        return Some(why);
    }
    if !repo().join(MUSL_BINARY).exists() {
        return Some(format!(
            "no static binary at {MUSL_BINARY} (tests/run builds it)"
        ));
    }
    match Command::new("podman").arg("--version").output() {
        Ok(out) if out.status.success() => None,
        _ => Some("podman is not installed (tests/run installs it)".into()),
    }
}

/// GET or POST over HTTPS to the container, trusting the CA in its volume.
fn https(port: u16, ca: &Path, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("the container listens");
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let conn =
        rustls::ClientConnection::new(client_config(ca), "localhost".try_into().unwrap()).unwrap();
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    let origin = format!("https://localhost:{port}");
    let headers: &[(&str, &str)] = if body.is_empty() {
        &[]
    } else {
        &[("Origin", &origin), ("Content-Type", "application/json")]
    };
    send_request(&mut stream, port, method, path, headers, body);
    let res = read_response(&mut stream).expect("an answer");
    (res.status, String::from_utf8_lossy(&res.body).into_owned())
}

fn wait_healthy(podman: &Podman, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = podman.run(&["healthcheck", "run", name]);
        if out.status.success() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never became healthy: {}{}\nlogs: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            podman.ok(&["logs", name])
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_image_runs_as_documented() {
    if let Some(why) = unavailable() {
        let explained = std::env::var_os("MINIMOST_IMAGE_SKIP").is_some();
        assert!(
            explained || std::env::var_os("CI").is_none(),
            "under CI: {why}"
        );
        eprintln!("skipping the container test: {why}");
        return;
    }
    let conf = TempDir::new();
    std::fs::write(
        conf.path().join("containers.conf"),
        "[containers]\ndefault_ulimits = []\n",
    )
    .unwrap();
    let id = std::process::id();
    let mut podman = Podman {
        conf,
        tag: format!("localhost/minimost-test:{id}"),
        volume: format!("minimost-test-data-{id}"),
        containers: Vec::new(),
    };
    let repo = repo();
    let built = podman.run(&[
        "build",
        "--format",
        "docker",
        "--build-arg",
        "BINARY=host",
        "-t",
        &podman.tag,
        repo.to_str().unwrap(),
    ]);
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );

    // Small, and not root.
    let size: u64 = podman
        .ok(&["image", "inspect", "--format", "{{.Size}}", &podman.tag])
        .parse()
        .unwrap();
    assert!(size <= 6 * 1024 * 1024, "the image is {size} bytes");
    let user = podman.ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Config.User}}",
        &podman.tag,
    ]);
    assert_eq!(user, "10001:10001");

    // Where no container can start (no privileges, no cgroups), say so once and stop.
    let probe = podman.run(&[
        "--runtime",
        "runc",
        "run",
        "--rm",
        "--network",
        "host",
        &podman.tag,
        "--version",
    ]);
    if !probe.status.success() {
        let why = String::from_utf8_lossy(&probe.stderr).into_owned();
        eprintln!("skipping the container test: no container can start here: {why}");
        return;
    }

    // HTTPS on port 5000, healthy, serving as uid 10001.
    let first = podman.start(&[]);
    wait_healthy(&podman, &first);
    let pid: u32 = podman
        .ok(&["inspect", "--format", "{{.State.Pid}}", &first])
        .parse()
        .unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid_line
            .split_whitespace()
            .skip(1)
            .all(|uid| uid == "10001"),
        "{uid_line}"
    );
    let data = PathBuf::from(podman.ok(&[
        "volume",
        "inspect",
        "--format",
        "{{.Mountpoint}}",
        &podman.volume,
    ]));
    let ca = data.join("ca.pem");
    assert_eq!(https(5000, &ca, "GET", "/healthz", b"").0, 200);
    let signup = format!(
        r#"{{"username":"alice","password":"{PASSWORD}","confirm_password":"{PASSWORD}"}}"#
    );
    let (status, body) = https(5000, &ca, "POST", "/api/signup", signup.as_bytes());
    assert_eq!(status, 201, "{body}");

    // SIGTERM stops it within 5 s, cleanly.
    let stopping = Instant::now();
    podman.ok(&["--runtime", "runc", "stop", "-t", "10", &first]);
    let took = stopping.elapsed();
    assert!(took < Duration::from_secs(5), "stopping took {took:?}");
    let code = podman.ok(&["inspect", "--format", "{{.State.ExitCode}}", &first]);
    assert_eq!(code, "0", "logs: {}", podman.ok(&["logs", &first]));

    // A new container on the same volume has the account, and is healthy under plain HTTP on
    // another port too.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let port_env = format!("MINIMOST_PORT={port}");
    let second = podman.start(&["MINIMOST_NO_TLS=1", &port_env]);
    wait_healthy(&podman, &second);
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let login = format!(r#"{{"username":"alice","password":"{PASSWORD}"}}"#);
    let origin = format!("http://localhost:{port}");
    send_request(
        &mut tcp,
        port,
        "POST",
        "/api/login",
        &[("Origin", &origin), ("Content-Type", "application/json")],
        login.as_bytes(),
    );
    let res = read_response(&mut tcp).expect("an answer");
    assert_eq!(res.status, 200, "the account outlived its container");
    podman.ok(&["--runtime", "runc", "stop", "-t", "10", &second]);
}

/// `deploy/minimost.service` passes `systemd-analyze verify` (with `ExecStart` pointed at the
/// binary under test, since verify wants the program to exist).
#[test]
fn the_systemd_unit_verifies() {
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    if !analyze.is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "under CI: systemd-analyze is missing (tests/run installs systemd)"
        );
        eprintln!("skipping the systemd unit check: no systemd-analyze here");
        return;
    }
    let unit = std::fs::read_to_string(repo().join("deploy/minimost.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/minimost serve"));
    let temp = TempDir::new();
    let path = temp.path().join("minimost.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/minimost", crate::harness::binary()),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        !said.contains("minimost.service"),
        "the unit has warnings: {said}"
    );
}
