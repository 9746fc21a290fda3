//! Administration: the subcommands (reset-password, delete-user and clean here; backup, check
//! and healthcheck in their own files), the control socket a running server listens on, and
//! cleanup. Each subcommand works on a data dir whether or not a server is running on it;
//! writes that live users should see go through the running server's control socket when
//! there is one, and run on a local writer otherwise.

pub mod backup;
pub mod check;
pub mod cleanup;
pub mod control;
pub mod healthcheck;
pub mod status;

pub use backup::backup;
pub use check::check;
pub use healthcheck::healthcheck;
pub use status::status;

use crate::base::json::Json;
use crate::db;
use crate::store::accounts::DeleteMode;
use anyhow::{bail, Context};
use control::Request;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
    base_url: Option<&str>,
) -> anyhow::Result<()> {
    let ctx = crate::store::core::Core::open_for_admin(data_dir)?;
    let base_url = match base_url {
        Some(url) => url.to_owned(),
        None => link_base(data_dir, ctx.settings.public_url.as_deref()),
    };
    let base_url = base_url.as_str();
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
    let mut retention = crate::admin::cleanup::Retention::from_settings(&settings);
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
    if let Some(client) = crate::admin::control::Client::connect(data_dir) {
        let request = crate::admin::control::Request::Clean {
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
        let report = crate::admin::cleanup::run_once(ctx, retention, args.dry_run, &mut say);
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
pub(super) fn databases(data_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
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

pub(super) fn relative(data_dir: &Path, path: &Path) -> String {
    path.strip_prefix(data_dir)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Where users open the server, for links: `public_url` from settings.json, else the running
/// server's scheme and port under this machine's name (when it listens on every interface) or
/// its address; else `https://<host name>:5000`. Warns when the link can only work here.
fn link_base(data_dir: &Path, public_url: Option<&str>) -> String {
    if let Some(url) = public_url {
        return url.to_owned();
    }
    let host = crate::base::util::hostname();
    let (url, listen) = control::whereabouts(data_dir).unwrap_or_default();
    let scheme = url
        .split("://")
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("https");
    let listen: Option<std::net::SocketAddr> = listen.parse().ok();
    let base = match (listen, host) {
        (Some(addr), Some(host)) if addr.ip().is_unspecified() => {
            format!("{scheme}://{host}:{}", addr.port())
        }
        (Some(addr), _) if !addr.ip().is_unspecified() => format!("{scheme}://{addr}"),
        (None, Some(host)) => format!("https://{host}:5000"),
        _ => "https://127.0.0.1:5000".to_owned(),
    };
    if base.contains("://127.") || base.contains("://[::1]") {
        eprintln!(
            "note: this link only works on this machine; set \"public_url\" in settings.json \
             (e.g. \"https://chat.example.lan:5000\") or pass --base-url"
        );
    }
    base
}
