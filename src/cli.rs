//! Command-line parsing: pico-args into one `Command` enum with typed arguments, and the
//! `--help` texts. No I/O besides reading the `MINIMOST_*` environment variables.

use anyhow::{bail, Context};
use std::ffi::OsString;
use std::path::PathBuf;

pub use crate::admin::CleanArgs;
pub use crate::base::VERSION;
pub use crate::server::ServeArgs;

/// Options every subcommand accepts.
#[derive(Debug, Clone)]
pub struct Common {
    pub data_dir: PathBuf,
}

#[derive(Debug)]
pub enum Command {
    Serve(ServeArgs),
    ResetPassword {
        common: Common,
        user: String,
        expires_minutes: u32,
        /// `--base-url`; without it, settings.json's `public_url`, else the running server's
        /// address.
        base_url: Option<String>,
    },
    Backup {
        common: Common,
        dest: PathBuf,
    },
    Clean {
        common: Common,
        args: CleanArgs,
    },
    Check {
        common: Common,
    },
    Status {
        common: Common,
    },
    DeleteUser {
        common: Common,
        user: String,
        hard: bool,
    },
    Healthcheck {
        common: Common,
        /// `--url`; without it, the running server says where it answers.
        url: Option<String>,
        /// Where to look when neither `--url` nor a running server says (port and scheme from
        /// `--port`, `MINIMOST_PORT` and `MINIMOST_NO_TLS`).
        fallback: String,
    },
    Help(&'static str),
    Version,
}

pub const RESET_PASSWORD_HELP: &str = "\
minimost reset-password — make a one-time password reset link for a user

USAGE:
    minimost reset-password USER [--expires MIN] [--base-url URL] [--data-dir D]

Stores a single-use token, posts a notice into the user's system conversation, and prints:
    Password reset URL for 'USER' (expires in MIN minutes):
    <base-url>/reset-password/<token>
Share the link with the user by another channel (in person, phone, email).
Works while the server runs (the notice reaches the user at once).

OPTIONS:
    --expires MIN   minutes the link stays valid (1-10080)  [default 60]
    --base-url URL  the address users open  [default: public_url in settings.json, else
                    the running server's address under this machine's name]
    --data-dir D    the server's data dir  [env MINIMOST_DATA_DIR, default .]
    -h, --help      print this help

EXIT STATUS: 0 done; 1 unknown user or any error (message on stderr).
";

pub const BACKUP_HELP: &str = "\
minimost backup — a hot, consistent copy of the data dir

USAGE:
    minimost backup DEST [--data-dir D]

Copies every database through SQLite's online backup (consistent even while the server runs
and writes), then uploads, avatars, keys, certificates and settings, into DEST, which becomes a
data dir `minimost --data-dir DEST` starts on directly. DEST must not exist or be empty.
Shows progress on a terminal; prints a summary at the end.

OPTIONS:
    --data-dir D    the server's data dir  [env MINIMOST_DATA_DIR, default .]
    -h, --help      print this help

EXIT STATUS: 0 done; 1 on any error (DEST not empty, disk full, permission…), with the reason.
";

pub const CLEAN_HELP: &str = "\
minimost clean — run one cleanup now (the server also runs it every 24 hours)

USAGE:
    minimost clean [--dry-run] [--image-days N] [--file-days N] [--message-days N] [--data-dir D]

Deletes uploads older than the image/file retention (by modification time), messages older
than the message retention from every users/*.db (with their reactions, receipts and search
entries), used or expired reset tokens, expired sessions, and uploads never attached to a
message within 24 hours. Prints each file and count it deletes, then a summary.

OPTIONS:
    --dry-run          only print what would be deleted
    --image-days N     keep images N days        [default: image_retention_days]
    --file-days N      keep other files N days   [default: file_retention_days]
    --message-days N   keep messages N days      [default: message_retention_days]
    --data-dir D       the server's data dir  [env MINIMOST_DATA_DIR, default .]
    -h, --help         print this help

EXIT STATUS: 0 done; 1 if any part failed (the rest still ran).
";

pub const STATUS_HELP: &str = "\
minimost status — where the disk goes

USAGE:
    minimost status [--data-dir D]

Prints the data dir's size by part (users/, uploads/, avatars/, auth.db, presence.db, the WAL
files), its five largest databases, the free space against the floor below which the server
refuses new messages, uploads and accounts (min_free_disk_mb in settings.json), and any
newcomer's history still being copied. Exit status 1 while below the floor. Read-only; safe
while the server runs.

OPTIONS:
    --data-dir D    the server's data dir  [env MINIMOST_DATA_DIR, default .]
    -h, --help      print this help
";

pub const CHECK_HELP: &str = "\
minimost check — integrity check of every database

USAGE:
    minimost check [--data-dir D]

Runs `PRAGMA integrity_check` on auth.db, presence.db and every users/*.db, naming each file
and its problems. Safe while the server runs.

OPTIONS:
    --data-dir D    the server's data dir  [env MINIMOST_DATA_DIR, default .]
    -h, --help      print this help

EXIT STATUS: 0 all databases ok; 1 a problem was found (or a database could not be opened).
";

pub const DELETE_USER_HELP: &str = "\
minimost delete-user — delete an account without its password (admin override)

USAGE:
    minimost delete-user USER --soft|--hard [--data-dir D]

--soft keeps the user's messages, shown as sent by `Deleted User`; --hard deletes every message
they sent from every database, their files and their own database. Both remove credentials,
settings, avatar, sessions (live sessions end at once), presence, receipts, reactions,
private-channel memberships and call participation. Private channels they created stay.
Safe to run again after an interruption: it finishes the job.

OPTIONS:
    --soft          keep messages, re-attributed to `Deleted User`
    --hard          delete every message the user sent
    --data-dir D    the server's data dir  [env MINIMOST_DATA_DIR, default .]
    -h, --help      print this help

EXIT STATUS: 0 done; 1 on any error.
";

pub const HEALTHCHECK_HELP: &str = "\
minimost healthcheck — exit 0 if the server answers /healthz (for Docker HEALTHCHECK)

USAGE:
    minimost healthcheck [--url BASE] [--port P] [--data-dir D]

Requests BASE/healthz. Without --url or --port, the server running on the data dir says where it
answers (its scheme, address and port); if none says, https://127.0.0.1:<port> (http:// under
MINIMOST_NO_TLS=1), the port from --port or MINIMOST_PORT, else 5000. HTTPS trusts the data
dir's ca.pem, and any certificate on a loopback address.

OPTIONS:
    --url BASE      the server's base URL
    --port P        port for the default URL  [env MINIMOST_PORT, default 5000]
    --data-dir D    the server's data dir  [env MINIMOST_DATA_DIR, default .]
    -h, --help      print this help

EXIT STATUS: 0 healthy; 1 not (the reason on stderr).
";

pub const MAIN_HELP: &str = "\
minimost — a self-hosted team chat server in one binary

USAGE:
    minimost [serve] [--host H] [--port P] [--data-dir D] [--no-tls]
    minimost <SUBCOMMAND> --help

SUBCOMMANDS:
    serve           serve the chat (the default when no subcommand is given)
    reset-password  make a one-time password reset link for a user
    backup          hot, consistent copy of the data dir into a new directory
    clean           run one cleanup now (old files and messages, expired tokens)
    check           integrity check of every database
    status          where the disk goes, the largest databases, the free space
    delete-user     delete an account (--soft or --hard) without its password
    healthcheck     exit 0 if the server answers (for Docker)

OPTIONS (flags win over environment variables):
    --host H        address to listen on          [env MINIMOST_HOST, default 127.0.0.1]
    --port P        TCP port; 0 picks a free one  [env MINIMOST_PORT, default 5000]
    --data-dir D    directory holding all state   [env MINIMOST_DATA_DIR, default .]
    --no-tls        plain HTTP, for use behind a TLS-terminating reverse proxy
                                                  [env MINIMOST_NO_TLS=1]
    -h, --help      print this help
    -V, --version   print the version

TUNING (environment only):
    MINIMOST_STUN_PORT=3478            UDP port of the STUN responder for calls (0: off)
    MINIMOST_RING_TIMEOUT_SECS=30      how long a call rings before it ends unanswered
    MINIMOST_IDLE_TIMEOUT_MS=30000     how long a kept-alive connection may sit idle
    MINIMOST_HEAD_TIMEOUT_MS=10000     TLS handshake plus request head, in all
    MINIMOST_BODY_MIN_RATE=1024        bytes per second a request body must average
    MINIMOST_CLEANUP_DELAY_SECS=300    when the cleanup thread first runs
    MINIMOST_CLEANUP_INTERVAL_SECS=86400  how often it runs after that
    MINIMOST_WAL_QUIET_SECS=30         how long without writes before WAL files are emptied

The first line printed is `listening on https://ADDR:PORT` with the real address.
Exit status: 0 after a clean shutdown (SIGTERM/SIGINT), 1 on a startup error.
";

/// Parses `args` (without the program name) with `env` as the source of `MINIMOST_*` values.
pub fn parse(args: Vec<OsString>, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Command> {
    let mut args = pico_args::Arguments::from_vec(args);
    if args.contains(["-V", "--version"]) {
        return Ok(Command::Version);
    }
    let subcommand = args
        .subcommand()
        .context("the subcommand is not valid UTF-8")?;
    let help = args.contains(["-h", "--help"]);
    let command = match subcommand.as_deref() {
        None | Some("serve") => {
            if help {
                return Ok(Command::Help(MAIN_HELP));
            }
            Command::Serve(parse_serve(&mut args, env)?)
        }
        Some("help") => return Ok(Command::Help(MAIN_HELP)),
        Some("reset-password") if help => return Ok(Command::Help(RESET_PASSWORD_HELP)),
        Some("reset-password") => {
            let common = parse_common(&mut args, env)?;
            let expires: Option<u32> = args
                .opt_value_from_str("--expires")
                .context("--expires takes a number of minutes")?;
            let expires_minutes = expires.unwrap_or(60);
            if !(1..=10_080).contains(&expires_minutes) {
                bail!("--expires must be from 1 to 10080 minutes (a week)");
            }
            let base_url: Option<String> = args.opt_value_from_str("--base-url")?;
            if base_url
                .as_deref()
                .is_some_and(|u| !(u.starts_with("https://") || u.starts_with("http://")))
            {
                bail!("--base-url must start with https:// or http://");
            }
            let user = free_arg(&mut args, "USER", RESET_PASSWORD_HELP)?;
            Command::ResetPassword {
                common,
                user,
                expires_minutes,
                base_url: base_url.map(|u| u.trim_end_matches('/').to_owned()),
            }
        }
        Some("backup") if help => return Ok(Command::Help(BACKUP_HELP)),
        Some("backup") => {
            let common = parse_common(&mut args, env)?;
            let dest = PathBuf::from(free_arg(&mut args, "DEST", BACKUP_HELP)?);
            Command::Backup { common, dest }
        }
        Some("clean") if help => return Ok(Command::Help(CLEAN_HELP)),
        Some("clean") => {
            let common = parse_common(&mut args, env)?;
            let days = |args: &mut pico_args::Arguments,
                        flag: &'static str|
             -> anyhow::Result<Option<u32>> {
                let n: Option<u32> = args
                    .opt_value_from_str(flag)
                    .with_context(|| format!("{flag} takes a number of days"))?;
                if n == Some(0) {
                    bail!("{flag} must be at least 1");
                }
                Ok(n)
            };
            let args_ = CleanArgs {
                dry_run: args.contains("--dry-run"),
                image_days: days(&mut args, "--image-days")?,
                file_days: days(&mut args, "--file-days")?,
                message_days: days(&mut args, "--message-days")?,
            };
            Command::Clean {
                common,
                args: args_,
            }
        }
        Some("status") if help => return Ok(Command::Help(STATUS_HELP)),
        Some("status") => Command::Status {
            common: parse_common(&mut args, env)?,
        },
        Some("check") if help => return Ok(Command::Help(CHECK_HELP)),
        Some("check") => Command::Check {
            common: parse_common(&mut args, env)?,
        },
        Some("delete-user") if help => return Ok(Command::Help(DELETE_USER_HELP)),
        Some("delete-user") => {
            let common = parse_common(&mut args, env)?;
            let (soft, hard) = (args.contains("--soft"), args.contains("--hard"));
            if soft && hard {
                bail!("say --soft (keep messages) or --hard (delete messages), not both; see `minimost delete-user --help`");
            }
            if !soft && !hard {
                bail!("say --soft (keep messages) or --hard (delete messages); see `minimost delete-user --help`");
            }
            let user = free_arg(&mut args, "USER", DELETE_USER_HELP)?;
            Command::DeleteUser { common, user, hard }
        }
        Some("healthcheck") if help => return Ok(Command::Help(HEALTHCHECK_HELP)),
        Some("healthcheck") => {
            let common = parse_common(&mut args, env)?;
            let url: Option<String> = args.opt_value_from_str("--url")?;
            let port: Option<u16> = args
                .opt_value_from_str("--port")
                .context("--port takes a port number")?;
            // An explicit --port is a URL of its own; MINIMOST_PORT only fills in the fallback.
            let explicit = port.is_some();
            let port = match port {
                Some(p) => p,
                None => env("MINIMOST_PORT")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(5000),
            };
            let no_tls =
                env("MINIMOST_NO_TLS").is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes"));
            let scheme = if no_tls { "http" } else { "https" };
            let fallback = format!("{scheme}://127.0.0.1:{port}");
            let url = url
                .map(|u| u.trim_end_matches('/').to_owned())
                .or_else(|| explicit.then(|| fallback.clone()));
            Command::Healthcheck {
                common,
                url,
                fallback,
            }
        }
        Some(other) => bail!("unknown subcommand `{other}`; run `minimost --help` for the list"),
    };
    let rest = args.finish();
    if !rest.is_empty() {
        bail!("unexpected argument {:?}; run `minimost --help`", rest[0]);
    }
    Ok(command)
}

/// The one positional argument of a subcommand.
fn free_arg(args: &mut pico_args::Arguments, what: &str, help: &str) -> anyhow::Result<String> {
    let value: Option<String> = args.opt_free_from_str()?;
    match value {
        Some(v) if !v.starts_with('-') => Ok(v),
        // An option this command does not know, where the argument was expected.
        Some(v) => bail!("unknown option {v}\n\n{help}"),
        None => bail!("missing {what}\n\n{help}"),
    }
}

fn parse_common(
    args: &mut pico_args::Arguments,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Common> {
    let data_dir: Option<PathBuf> = args.opt_value_from_os_str("--data-dir", |s| {
        Ok::<_, std::convert::Infallible>(PathBuf::from(s))
    })?;
    let data_dir = data_dir
        .or_else(|| {
            env("MINIMOST_DATA_DIR")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from("."));
    Ok(Common { data_dir })
}

fn parse_serve(
    args: &mut pico_args::Arguments,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<ServeArgs> {
    let common = parse_common(args, env)?;
    let host: Option<String> = args.opt_value_from_str("--host")?;
    let host = host
        .or_else(|| env("MINIMOST_HOST").filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "127.0.0.1".to_owned());
    let port: Option<u16> = args
        .opt_value_from_str("--port")
        .context("--port takes a number from 0 to 65535")?;
    let port = match port {
        Some(p) => p,
        None => match env("MINIMOST_PORT").filter(|s| !s.is_empty()) {
            Some(text) => text.parse().with_context(|| {
                format!("MINIMOST_PORT={text:?} is not a port number (0-65535)")
            })?,
            None => 5000,
        },
    };
    let no_tls = args.contains("--no-tls")
        || env("MINIMOST_NO_TLS").is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes"));
    Ok(ServeArgs {
        data_dir: common.data_dir,
        host,
        port,
        tls: !no_tls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_with(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Command> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        parse(args.iter().map(OsString::from).collect(), &lookup)
    }

    #[test]
    fn serve_defaults_and_flags() {
        let Command::Serve(s) = parse_with(&[], &[]).unwrap() else {
            panic!()
        };
        assert_eq!((s.host.as_str(), s.port, s.tls), ("127.0.0.1", 5000, true));
        let Command::Serve(s) = parse_with(
            &["serve", "--port", "0", "--no-tls", "--data-dir", "/x"],
            &[],
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!((s.port, s.tls, s.data_dir), (0, false, PathBuf::from("/x")));
    }

    #[test]
    fn flags_win_over_environment() {
        let env = [("MINIMOST_PORT", "6000"), ("MINIMOST_HOST", "0.0.0.0")];
        let Command::Serve(s) = parse_with(&["--port", "7000"], &env).unwrap() else {
            panic!()
        };
        assert_eq!((s.host.as_str(), s.port), ("0.0.0.0", 7000));
    }

    #[test]
    fn subcommands_take_flags_in_any_order() {
        let Command::Backup { common, dest } =
            parse_with(&["backup", "/dest", "--data-dir", "/srv"], &[]).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (common.data_dir, dest),
            (PathBuf::from("/srv"), PathBuf::from("/dest"))
        );
        let Command::Backup { common, .. } = parse_with(
            &["backup", "--data-dir", "/srv", "/dest"],
            &[("MINIMOST_DATA_DIR", "/env")],
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(common.data_dir, PathBuf::from("/srv"));
        let Command::Check { common } =
            parse_with(&["check"], &[("MINIMOST_DATA_DIR", "/env")]).unwrap()
        else {
            panic!()
        };
        assert_eq!(common.data_dir, PathBuf::from("/env"));
        let Command::ResetPassword {
            user,
            expires_minutes,
            base_url,
            ..
        } = parse_with(
            &[
                "reset-password",
                "alice",
                "--expires",
                "30",
                "--base-url",
                "https://chat.example.com/",
            ],
            &[],
        )
        .unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (
                user.as_str(),
                expires_minutes,
                base_url.as_deref().unwrap_or("")
            ),
            ("alice", 30, "https://chat.example.com")
        );
        let Command::Clean { args, .. } =
            parse_with(&["clean", "--dry-run", "--image-days", "90"], &[]).unwrap()
        else {
            panic!()
        };
        assert!(args.dry_run);
        assert_eq!((args.image_days, args.file_days), (Some(90), None));
        assert!(parse_with(&["delete-user", "bob"], &[]).is_err());
        assert!(parse_with(&["delete-user", "bob", "--soft", "--hard"], &[]).is_err());
        assert!(parse_with(&["reset-password"], &[]).is_err());
        assert!(parse_with(&["reset-password", "a", "--expires", "0"], &[]).is_err());
        assert!(matches!(
            parse_with(&["backup", "--help"], &[]).unwrap(),
            Command::Help(_)
        ));
    }

    #[test]
    fn refuses_bad_input() {
        assert!(parse_with(&["--port", "99999"], &[]).is_err());
        assert!(parse_with(&[], &[("MINIMOST_PORT", "x")]).is_err());
        assert!(parse_with(&["frobnicate"], &[]).is_err());
        assert!(parse_with(&["--bogus"], &[]).is_err());
    }
}
