//! The admin subcommands: reset-password, backup, clean, check, delete-user, healthcheck.
//! Each works on a data dir whether or not a server is running on it; writes that live users
//! should see go through the running server's control socket when there is one.

use crate::base::json::Json;
use crate::db;
use crate::server::control::{self, Request};
use crate::store::accounts::DeleteMode;
use anyhow::{bail, Context};
use rusqlite::Connection;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Overrides for one cleanup run (`None`: the value from settings.json).
#[derive(Debug, Clone, Default)]
pub struct CleanArgs {
    pub dry_run: bool,
    pub image_days: Option<u32>,
    pub file_days: Option<u32>,
    pub message_days: Option<u32>,
}

/// `minimost reset-password USER [--expires MIN] [--base-url URL]`
pub fn reset_password(
    data_dir: &Path,
    user: &str,
    minutes: u32,
    base_url: &str,
) -> anyhow::Result<()> {
    let ctx = crate::store::core::Core::open_for_admin(data_dir)?;
    let account = db::auth::find_user(&*ctx.auth_db.get()?, user)?
        .with_context(|| format!("no user named '{user}' (list them with: sqlite3 auth.db \"SELECT username FROM users;\")"))?;
    let token = crate::base::util::base64_url(&crate::base::util::random_bytes::<32>());
    let expires_ts = crate::base::util::now() + f64::from(minutes) * 60.0;
    db::auth::insert_reset_token(&*ctx.auth_db.get()?, &token, &account.username, expires_ts)?;
    drop(ctx);
    let unit = if minutes == 1 { "minute" } else { "minutes" };
    let text = format!(
        "A password reset has been requested for your account. The reset link will expire in \
         {minutes} {unit}. If you did not request this, please contact your administrators."
    );
    control::run(
        data_dir,
        Request::SystemNotice {
            user: account.username.clone(),
            text,
        },
    )?;
    println!(
        "Password reset URL for '{}' (expires in {minutes} {unit}):",
        account.username
    );
    println!("{base_url}/reset-password/{token}");
    Ok(())
}

/// `minimost delete-user USER --soft|--hard`
pub fn delete_user(data_dir: &Path, user: &str, hard: bool) -> anyhow::Result<()> {
    let ctx = crate::store::core::Core::open_for_admin(data_dir)?;
    let registered = db::auth::find_user(&*ctx.auth_db.get()?, user)?.map(|a| a.username);
    let name = match registered {
        Some(name) => name,
        // A deletion interrupted after the account row went can still be finished.
        None if data_dir.join("users").join(format!("{user}.db")).exists() => user.to_owned(),
        None => bail!("no user named '{user}'"),
    };
    crate::base::names::Username::parse_existing(&name).map_err(anyhow::Error::msg)?;
    drop(ctx);
    let mode = if hard {
        DeleteMode::Hard
    } else {
        DeleteMode::Soft
    };
    let (report, live) = control::run(
        data_dir,
        Request::DeleteUser {
            user: name.clone(),
            mode,
        },
    )?;
    let n = |k: &str| report.get(k).and_then(Json::as_u64).unwrap_or(0);
    let what = if hard {
        "deleted"
    } else {
        "re-attributed to 'Deleted User'"
    };
    println!(
        "Deleted {name} ({}): {} message{} {what} in {} database{}, {} file{} removed{}.",
        if hard { "hard" } else { "soft" },
        n("messages"),
        if n("messages") == 1 { "" } else { "s" },
        n("databases"),
        if n("databases") == 1 { "" } else { "s" },
        n("files"),
        if n("files") == 1 { "" } else { "s" },
        if live {
            "; their live sessions were closed"
        } else {
            ""
        },
    );
    Ok(())
}

/// `minimost clean [--dry-run] [--image-days N] [--file-days N] [--message-days N]`
pub fn clean(data_dir: &Path, args: &CleanArgs) -> anyhow::Result<ExitCode> {
    if !data_dir.join("auth.db").exists() {
        bail!(
            "{} is not a MiniMost data dir (no auth.db); pass --data-dir",
            data_dir.display()
        );
    }
    let settings =
        crate::base::config::load_settings(data_dir, &mut |w| eprintln!("warning: {w}"))?;
    let mut retention = crate::store::cleanup::Retention::from_settings(&settings);
    retention.image_days = args.image_days.unwrap_or(retention.image_days);
    retention.file_days = args.file_days.unwrap_or(retention.file_days);
    retention.message_days = args.message_days.unwrap_or(retention.message_days);
    let prefix = if args.dry_run {
        "would delete "
    } else {
        "deleted "
    };
    let mut say = |line: String| {
        if line.starts_with("error: ") {
            eprintln!("{line}");
        } else {
            println!("{prefix}{line}");
        }
    };
    // A running server does the deletions on its writer and tells open clients; without one,
    // the same code runs here on a local writer.
    if let Some(client) = crate::server::control::Client::connect(data_dir) {
        let request = crate::server::control::Request::Clean {
            retention,
            dry_run: args.dry_run,
        };
        let answer = client.patient().call(&request)?;
        if let Some(Json::Arr(lines)) = answer.get("lines") {
            for line in lines.iter().filter_map(Json::as_str) {
                say(line.to_owned());
            }
        }
        println!(
            "{}",
            answer.get("summary").and_then(Json::as_str).unwrap_or("")
        );
        let errors = answer.get("errors").and_then(Json::as_u64).unwrap_or(1);
        return Ok(if errors == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let ctx = crate::store::core::Core::open_for_admin(data_dir)?;
    crate::store::repair(&ctx)?;
    let report = std::thread::scope(|scope| {
        let ctx = &ctx;
        let writer = std::thread::Builder::new()
            .name("writer".into())
            .spawn_scoped(scope, move || crate::store::run(ctx))?;
        let report = crate::store::cleanup::run_once(ctx, retention, args.dry_run, &mut say);
        ctx.store.stop();
        let _ = writer.join();
        anyhow::Ok(report)
    })?;
    println!("{}", report.summary(args.dry_run));
    Ok(if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every database of a data dir: auth.db, presence.db, users/*.db (sorted).
fn databases(data_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut users: Vec<PathBuf> = std::fs::read_dir(data_dir.join("users"))
        .with_context(|| format!("cannot read {}", data_dir.join("users").display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "db"))
        .collect();
    users.sort();
    let mut all = vec![data_dir.join("auth.db"), data_dir.join("presence.db")];
    all.extend(users);
    Ok(all)
}

fn relative(data_dir: &Path, path: &Path) -> String {
    path.strip_prefix(data_dir)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// `minimost check`
pub fn check(data_dir: &Path) -> anyhow::Result<ExitCode> {
    if !data_dir.join("auth.db").exists() {
        bail!(
            "{} is not a MiniMost data dir (no auth.db); pass --data-dir",
            data_dir.display()
        );
    }
    let mut problems = 0;
    for path in databases(data_dir)? {
        let name = relative(data_dir, &path);
        let result = db::maintenance::integrity_check(&path);
        match result {
            Ok(lines) if lines == ["ok"] => println!("{name}: ok"),
            Ok(lines) => {
                problems += 1;
                println!(
                    "{name}: {} problem{}",
                    lines.len(),
                    if lines.len() == 1 { "" } else { "s" }
                );
                for line in lines {
                    println!("    {line}");
                }
            }
            Err(e) => {
                problems += 1;
                println!("{name}: cannot be checked: {e}");
            }
        }
    }
    if problems > 0 {
        println!("{problems} database{} with problems; restore them from a backup (see docs/administration.md)", if problems == 1 { "" } else { "s" });
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Files besides databases that make a data dir.
const KEY_FILES: [&str; 6] = [
    "settings.json",
    "secret.key",
    "cert.pem",
    "key.pem",
    "ca.pem",
    "ca-key.pem",
];

/// `minimost backup DEST`
pub fn backup(data_dir: &Path, dest: &Path) -> anyhow::Result<()> {
    if !data_dir.join("auth.db").exists() {
        bail!(
            "{} is not a MiniMost data dir (no auth.db); pass --data-dir",
            data_dir.display()
        );
    }
    let created = match std::fs::read_dir(dest) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{} is not empty; back up into a new or empty directory",
                    dest.display()
                );
            }
            false
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dest)
                .with_context(|| format!("cannot create {}", dest.display()))?;
            true
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dest.display())),
    };
    let result = copy_data_dir(data_dir, dest);
    if result.is_err() {
        // Never leave a half backup that looks complete.
        if created {
            let _ = std::fs::remove_dir_all(dest);
        } else if let Ok(entries) = std::fs::read_dir(dest) {
            for entry in entries.filter_map(Result::ok) {
                let _ = if entry.path().is_dir() {
                    std::fs::remove_dir_all(entry.path())
                } else {
                    std::fs::remove_file(entry.path())
                };
            }
        }
    }
    result.map_err(|e| explain_io(e, dest))
}

fn explain_io(e: anyhow::Error, dest: &Path) -> anyhow::Error {
    let full = e
        .root_cause()
        .downcast_ref::<std::io::Error>()
        .and_then(std::io::Error::raw_os_error)
        == Some(libc::ENOSPC)
        || format!("{e:#}").contains("full");
    if full {
        e.context(format!(
            "the disk holding {} is full; nothing was kept",
            dest.display()
        ))
    } else {
        e.context("the backup failed; nothing was kept")
    }
}

fn copy_data_dir(data_dir: &Path, dest: &Path) -> anyhow::Result<()> {
    let start = Instant::now();
    // SAFETY: isatty only inspects a file descriptor number.
    let terminal = unsafe { libc::isatty(2) } == 1;
    let progress = |text: String| {
        if terminal {
            eprint!("\r\x1b[2K{text}");
        }
    };
    for sub in ["users", "uploads", "avatars"] {
        std::fs::create_dir_all(dest.join(sub))
            .with_context(|| format!("cannot create {}", dest.join(sub).display()))?;
    }
    // A consistent cut: a running server holds its writes while every snapshot is opened.
    let paths = databases(data_dir)?;
    let freeze = control::Client::connect(data_dir)
        .and_then(|mut client| client.call(&Request::Freeze).ok().map(|_| client));
    let snapshots: anyhow::Result<Vec<Connection>> = paths
        .iter()
        .map(|path| db::maintenance::snapshot(path))
        .collect();
    if let Some(client) = freeze {
        client.thaw();
    }
    let snapshots = snapshots?;
    let mut db_bytes = 0u64;
    for (n, (path, source)) in paths.iter().zip(&snapshots).enumerate() {
        let name = relative(data_dir, path);
        progress(format!("[{}/{}] {name}", n + 1, paths.len()));
        let target = dest.join(&name);
        db::maintenance::copy_snapshot(source, &target, &name)?;
        db_bytes += std::fs::metadata(&target).map_or(0, |m| m.len());
    }
    drop(snapshots);
    let mut counts = [0usize; 2];
    let mut file_bytes = 0u64;
    for (i, sub) in ["uploads", "avatars"].iter().enumerate() {
        let Ok(entries) = std::fs::read_dir(data_dir.join(sub)) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !entry.path().is_file() {
                continue;
            }
            progress(format!("{sub}/{name}"));
            file_bytes += copy_file(&entry.path(), &dest.join(sub).join(&name))?;
            counts[i] += 1;
        }
    }
    for file in KEY_FILES {
        let path = data_dir.join(file);
        if path.exists() {
            copy_file(&path, &dest.join(file))?;
        }
    }
    if terminal {
        eprintln!("\r\x1b[2K");
    }
    println!(
        "Backed up {} databases ({}), {} uploads ({}), {} avatars, and the keys, certificates and settings to {} in {:.1} s.",
        paths.len(),
        crate::store::cleanup::human_bytes(db_bytes),
        counts[0],
        crate::store::cleanup::human_bytes(file_bytes),
        counts[1],
        dest.display(),
        start.elapsed().as_secs_f64()
    );
    println!(
        "Start a server on it with: minimost --data-dir {}",
        dest.display()
    );
    Ok(())
}

/// Copies a file keeping its modification time (cleanup retention goes by it); mode 0600.
fn copy_file(from: &Path, to: &Path) -> anyhow::Result<u64> {
    let bytes = std::fs::copy(from, to)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    let modified = std::fs::metadata(from).and_then(|m| m.modified());
    if let Ok(modified) = modified {
        let file = std::fs::File::options().write(true).open(to)?;
        file.set_modified(modified)?;
        file.sync_all()
            .with_context(|| format!("cannot write {}", to.display()))?;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600))?;
    Ok(bytes)
}

/// `minimost healthcheck [--url BASE]`
pub fn healthcheck(data_dir: &Path, url: &str) -> anyhow::Result<()> {
    let (tls, rest) = match url.split_once("://") {
        Some(("https", rest)) => (true, rest),
        Some(("http", rest)) => (false, rest),
        _ => bail!("--url must start with https:// or http://"),
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (
            h.trim_start_matches('[').trim_end_matches(']'),
            p.parse::<u16>().context("bad port in --url")?,
        ),
        _ => (authority, if tls { 443 } else { 80 }),
    };
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .with_context(|| format!("cannot resolve {host}"))?
        .next()
        .with_context(|| format!("cannot resolve {host}"))?;
    let tcp = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("cannot connect to {addr}"))?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    tcp.set_write_timeout(Some(Duration::from_secs(5)))?;
    let request =
        format!("GET /healthz HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    if tls {
        let config = client_config(data_dir, addr.ip().is_loopback() || host == "localhost")?;
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .context("bad host in --url")?;
        let conn = rustls::ClientConnection::new(config, name)?;
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        stream.write_all(request.as_bytes())?;
        let _ = stream.read_to_end(&mut answer);
    } else {
        let mut tcp = tcp;
        tcp.write_all(request.as_bytes())?;
        let _ = tcp.read_to_end(&mut answer);
    }
    let status_line = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned();
    if status_line.split(' ').nth(1) == Some("200") {
        println!("ok: {url}/healthz answered {status_line}");
        Ok(())
    } else if status_line.is_empty() {
        bail!("{url}/healthz gave no answer (TLS refused or connection closed)")
    } else {
        bail!("{url}/healthz answered {status_line}")
    }
}

fn client_config(data_dir: &Path, loopback: bool) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let config = if loopback {
        // On this machine any certificate will do: the check is whether the server answers.
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        let ca = data_dir.join(crate::server::tls::CA_FILE);
        if let Ok(certs) = rustls::pki_types::CertificateDer::pem_file_iter(&ca) {
            for cert in certs.flatten() {
                roots.add(cert)?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
