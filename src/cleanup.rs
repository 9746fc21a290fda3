//! Cleanup (SPEC §12): old uploads by modification time, old messages from every users/*.db
//! with their reactions and receipts (search entries follow by trigger), used or expired reset
//! tokens, expired sessions, and uploads never attached within a day. `run_once` does one
//! pass and reports each deletion; `run_thread` repeats it on its own thread. One failing
//! database or file never stops the rest.

use crate::config::Settings;
use crate::db::{self, Kind};
use crate::messages::IMAGE_EXTENSIONS;
use rusqlite::params;
use std::path::Path;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, SystemTime};

/// Uploads not attached to a message within this long are removed.
const UNATTACHED_GRACE_SECS: f64 = 86_400.0;

/// Retention for one run.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub image_days: u32,
    pub file_days: u32,
    pub message_days: u32,
    pub session_idle_days: u32,
}

impl Retention {
    pub fn from_settings(s: &Settings) -> Retention {
        Retention {
            image_days: s.image_retention_days,
            file_days: s.file_retention_days,
            message_days: s.message_retention_days,
            session_idle_days: s.session_idle_days,
        }
    }
}

/// What a run deleted (or, dry, would delete).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    pub files: usize,
    pub file_bytes: u64,
    pub messages: usize,
    pub databases: usize,
    pub reset_tokens: usize,
    pub sessions: usize,
    pub unattached: usize,
    pub errors: Vec<String>,
}

impl Report {
    pub fn summary(&self, dry_run: bool) -> String {
        let verb = if dry_run { "Would delete" } else { "Deleted" };
        format!(
            "{verb} {} file{} ({}), {} message{} from {} database{}, {} reset token{}, {} expired session{}, {} unattached upload{}{}",
            self.files,
            plural(self.files),
            human_bytes(self.file_bytes),
            self.messages,
            plural(self.messages),
            self.databases,
            plural(self.databases),
            self.reset_tokens,
            plural(self.reset_tokens),
            self.sessions,
            plural(self.sessions),
            self.unattached,
            plural(self.unattached),
            if self.errors.is_empty() { ".".to_owned() } else { format!("; {} problem(s), see above.", self.errors.len()) },
        )
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

pub fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} bytes"),
    }
}

/// One cleanup pass over `data_dir`. `say` receives one line per deletion (or error).
pub fn run_once(
    data_dir: &Path,
    retention: Retention,
    dry_run: bool,
    say: &mut dyn FnMut(String),
) -> Report {
    let mut report = Report::default();
    let now = crate::util::now();
    let fail = |report: &mut Report, say: &mut dyn FnMut(String), what: String| {
        say(format!("error: {what}"));
        report.errors.push(what);
    };

    // Old uploads, by modification time; images and other files keep separate periods.
    let uploads = data_dir.join("uploads");
    match std::fs::read_dir(&uploads) {
        Ok(entries) => {
            for entry in entries.filter_map(Result::ok) {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Ok(meta) = entry.metadata() else { continue };
                if !meta.is_file() {
                    continue;
                }
                let age_days = meta
                    .modified()
                    .ok()
                    .and_then(|m| SystemTime::now().duration_since(m).ok())
                    .map_or(0.0, |d| d.as_secs_f64() / 86_400.0);
                let image = name.rsplit_once('.').is_some_and(|(_, ext)| {
                    IMAGE_EXTENSIONS.iter().any(|i| i.eq_ignore_ascii_case(ext))
                });
                let keep_days = if image {
                    retention.image_days
                } else {
                    retention.file_days
                };
                if age_days < f64::from(keep_days) {
                    continue;
                }
                let kind = if image { "image" } else { "file" };
                if !dry_run {
                    if let Err(e) = std::fs::remove_file(entry.path()) {
                        fail(
                            &mut report,
                            say,
                            format!("cannot delete uploads/{name}: {e}"),
                        );
                        continue;
                    }
                }
                say(format!(
                    "uploads/{name} ({kind}, {} days old, {})",
                    age_days as u64,
                    human_bytes(meta.len())
                ));
                report.files += 1;
                report.file_bytes += meta.len();
            }
        }
        Err(e) => fail(
            &mut report,
            say,
            format!("cannot read {}: {e}", uploads.display()),
        ),
    }

    // Old messages, from every user's database.
    let cutoff = now - f64::from(retention.message_days) * 86_400.0;
    let mut databases: Vec<_> = std::fs::read_dir(data_dir.join("users"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "db"))
                .collect()
        })
        .unwrap_or_default();
    databases.sort();
    for path in &databases {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let result = (|| -> anyhow::Result<usize> {
            let Some(conn) = db::open_existing(path, Kind::User)? else {
                return Ok(0);
            };
            Ok(if dry_run {
                conn.query_row(
                    "SELECT COUNT(*) FROM messages WHERE ts < ?1",
                    [cutoff],
                    |r| r.get::<_, i64>(0),
                )? as usize
            } else {
                conn.execute("DELETE FROM messages WHERE ts < ?1", [cutoff])?
            })
        })();
        match result {
            Ok(0) => {}
            Ok(n) => {
                say(format!(
                    "users/{name}: {n} message{} older than {} days",
                    plural(n),
                    retention.message_days
                ));
                report.messages += n;
                report.databases += 1;
            }
            Err(e) => fail(&mut report, say, format!("users/{name}: {e:#}")),
        }
    }

    // Reactions and receipts of those messages; unattached uploads.
    match db::open_existing(&data_dir.join("presence.db"), Kind::Presence) {
        Ok(Some(presence)) => {
            if !dry_run {
                let purged = presence
                    .execute("DELETE FROM message_reactions WHERE msg_ts < ?1", [cutoff])
                    .and_then(|_| {
                        presence.execute("DELETE FROM read_receipts WHERE msg_ts < ?1", [cutoff])
                    });
                if let Err(e) = purged {
                    fail(&mut report, say, format!("presence.db: {e}"));
                }
            }
            match unattached_uploads(&presence, now - UNATTACHED_GRACE_SECS) {
                Ok(names) => {
                    for name in names {
                        if !dry_run {
                            if crate::uploads::is_stored_name(&name) {
                                let _ = std::fs::remove_file(uploads.join(&name));
                            }
                            if let Err(e) =
                                presence.execute("DELETE FROM uploads WHERE name = ?1", [&name])
                            {
                                fail(&mut report, say, format!("presence.db: {e}"));
                                continue;
                            }
                        }
                        say(format!("uploads/{name} (never attached to a message)"));
                        report.unattached += 1;
                    }
                }
                Err(e) => fail(&mut report, say, format!("presence.db: {e}")),
            }
        }
        Ok(None) => {}
        Err(e) => fail(&mut report, say, format!("presence.db: {e:#}")),
    }

    // Used or expired reset tokens, and sessions idle past their expiry.
    match db::open_existing(&data_dir.join("auth.db"), Kind::Auth) {
        Ok(Some(auth)) => {
            let session_cutoff = now - f64::from(retention.session_idle_days) * 86_400.0;
            let counted = if dry_run {
                let tokens: rusqlite::Result<i64> = auth.query_row(
                    "SELECT COUNT(*) FROM password_reset_tokens WHERE used = 1 OR expires_ts < ?1",
                    [now],
                    |r| r.get(0),
                );
                let sessions: rusqlite::Result<i64> = auth.query_row(
                    "SELECT COUNT(*) FROM sessions WHERE last_seen_ts < ?1",
                    [session_cutoff],
                    |r| r.get(0),
                );
                tokens.and_then(|t| sessions.map(|s| (t as usize, s as usize)))
            } else {
                auth.execute(
                    "DELETE FROM password_reset_tokens WHERE used = 1 OR expires_ts < ?1",
                    params![now],
                )
                .and_then(|t| {
                    auth.execute(
                        "DELETE FROM sessions WHERE last_seen_ts < ?1",
                        params![session_cutoff],
                    )
                    .map(|s| (t, s))
                })
            };
            match counted {
                Ok((tokens, sessions)) => {
                    if tokens > 0 {
                        say(format!(
                            "auth.db: {tokens} used or expired reset token{}",
                            plural(tokens)
                        ));
                    }
                    if sessions > 0 {
                        say(format!(
                            "auth.db: {sessions} session{} idle more than {} days",
                            plural(sessions),
                            retention.session_idle_days
                        ));
                    }
                    report.reset_tokens = tokens;
                    report.sessions = sessions;
                }
                Err(e) => fail(&mut report, say, format!("auth.db: {e}")),
            }
        }
        Ok(None) => {}
        Err(e) => fail(&mut report, say, format!("auth.db: {e:#}")),
    }
    report
}

fn unattached_uploads(conn: &rusqlite::Connection, before: f64) -> rusqlite::Result<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT name FROM uploads WHERE attached_ts IS NULL AND created_ts < ?1")?;
    let rows = stmt.query_map([before], |r| r.get(0))?;
    rows.collect()
}

/// Stops the cleanup thread promptly.
#[derive(Default)]
pub struct Stopper {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Stopper {
    pub fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.wake.notify_all();
    }

    /// Sleeps up to `d`; true if stopped meanwhile.
    pub fn sleep(&self, d: Duration) -> bool {
        let stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        let (stopped, _) = self
            .wake
            .wait_timeout_while(stopped, d, |s| !*s)
            .unwrap_or_else(|e| e.into_inner());
        *stopped
    }
}

/// The cleanup thread: waits `first`, then runs every `every`, re-reading settings.json each
/// time (a retention change applies at the next run, without a restart).
pub fn run_thread(data_dir: &Path, first: Duration, every: Duration, stopper: &Stopper) {
    let mut wait = first;
    loop {
        if stopper.sleep(wait) {
            return;
        }
        wait = every;
        let settings = match crate::config::load_settings(data_dir, &mut |w| {
            eprintln!("cleanup: warning: {w}")
        }) {
            Ok(settings) => settings,
            Err(e) => {
                eprintln!("cleanup: skipped this run: {e:#}");
                continue;
            }
        };
        let report = run_once(
            data_dir,
            Retention::from_settings(&settings),
            false,
            &mut |line| eprintln!("cleanup: {line}"),
        );
        eprintln!("cleanup: {}", report.summary(false));
    }
}
