//! Cleanup: old uploads by modification time, old messages from every users/*.db
//! with their reactions and receipts (search entries follow by trigger), used or expired reset
//! tokens, expired sessions, and uploads never attached within a day. `run_once` does one
//! pass and reports each deletion; `run_thread` repeats it on its own thread. One failing
//! database or file never stops the rest.

use crate::base::config::Settings;
use crate::base::json::Json;
use crate::base::names::Username;
use crate::base::stop::Stop;
use crate::db;
use crate::files::uploads::IMAGE_EXTENSIONS;
use crate::model::Refusal;
use crate::store::core::Core;
use crate::store::Writer;
use std::sync::Arc;
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
    /// Caps in MB (0: none): all uploads together, and each user's database.
    pub uploads_cap_mb: u32,
    pub messages_cap_mb: u32,
}

impl Retention {
    pub fn from_settings(s: &Settings) -> Retention {
        Retention {
            image_days: s.image_retention_days,
            file_days: s.file_retention_days,
            message_days: s.message_retention_days,
            session_idle_days: s.session_idle_days,
            uploads_cap_mb: s.max_uploads_mb,
            messages_cap_mb: s.max_messages_mb_per_user,
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

/// Rows deleted per writer job: small enough that a message sent meanwhile waits at most a
/// few milliseconds behind a purge.
const PURGE_CHUNK: usize = 500;

/// One cleanup pass. `say` receives one line per deletion (or error). Database deletions run
/// on the writer in chunks, in step with fan-out, so they never race it or hold it up for long;
/// open clients are told when messages expired. Files are removed from this thread.
pub fn run_once(
    core: &Core,
    retention: Retention,
    dry_run: bool,
    say: &mut dyn FnMut(String),
) -> Report {
    let mut pass = Pass {
        core,
        retention,
        dry_run,
        now: crate::base::util::now(),
        report: Report::default(),
        say,
    };
    pass.old_files();
    pass.uploads_over_cap();
    let expired = pass.old_messages();
    pass.messages_over_cap();
    pass.old_reactions_and_receipts();
    pass.unattached_uploads();
    pass.tokens_and_sessions();
    if expired > 0 && !dry_run {
        let event = Json::obj([
            ("type", "messages_expired".into()),
            ("before_ts", Json::Num(pass.message_cutoff())),
        ]);
        core.hub.broadcast(&Arc::from(event.to_json_string()));
    }
    pass.report
}

/// One run's state: what to keep, and what was done so far.
struct Pass<'a> {
    core: &'a Core,
    retention: Retention,
    dry_run: bool,
    now: f64,
    report: Report,
    say: &'a mut dyn FnMut(String),
}

impl Pass<'_> {
    fn fail(&mut self, what: String) {
        (self.say)(format!("error: {what}"));
        self.report.errors.push(what);
    }

    fn message_cutoff(&self) -> f64 {
        self.now - f64::from(self.retention.message_days) * 86_400.0
    }

    /// Old uploads, by modification time; images and other files keep separate periods.
    fn old_files(&mut self) {
        let uploads = self.core.data_dir.join("uploads");
        let entries = match std::fs::read_dir(&uploads) {
            Ok(entries) => entries,
            Err(e) => return self.fail(format!("cannot read {}: {e}", uploads.display())),
        };
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
                self.retention.image_days
            } else {
                self.retention.file_days
            };
            if age_days < f64::from(keep_days) {
                continue;
            }
            if !self.dry_run {
                if let Err(e) = std::fs::remove_file(entry.path()) {
                    self.fail(format!("cannot delete uploads/{name}: {e}"));
                    continue;
                }
            }
            (self.say)(format!(
                "uploads/{name} ({}, {} days old, {})",
                if image { "image" } else { "file" },
                age_days as u64,
                human_bytes(meta.len())
            ));
            self.report.files += 1;
            self.report.file_bytes += meta.len();
        }
    }

    /// The oldest uploads, while all of them together are over `max_uploads_mb`.
    fn uploads_over_cap(&mut self) {
        let cap = u64::from(self.retention.uploads_cap_mb) << 20;
        if cap == 0 {
            return;
        }
        let uploads = self.core.data_dir.join("uploads");
        let mut files: Vec<(SystemTime, u64, String)> = std::fs::read_dir(&uploads)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|e| {
                        let meta = e.metadata().ok().filter(|m| m.is_file())?;
                        let name = e.file_name().to_string_lossy().into_owned();
                        Some((meta.modified().ok()?, meta.len(), name))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut total: u64 = files.iter().map(|(_, size, _)| size).sum();
        files.sort();
        for (_, size, name) in files {
            if total <= cap {
                break;
            }
            if !self.dry_run {
                if let Err(e) = std::fs::remove_file(uploads.join(&name)) {
                    self.fail(format!("cannot delete uploads/{name}: {e}"));
                    continue;
                }
            }
            (self.say)(format!(
                "uploads/{name} (oldest while uploads are over max_uploads_mb {} MB, {})",
                self.retention.uploads_cap_mb,
                human_bytes(size)
            ));
            total -= size;
            self.report.files += 1;
            self.report.file_bytes += size;
        }
    }

    /// Each user's oldest messages, while their database is over `max_messages_mb_per_user`;
    /// their open clients are told which history went.
    fn messages_over_cap(&mut self) {
        let cap = u64::from(self.retention.messages_cap_mb) << 20;
        if cap == 0 {
            return;
        }
        for name in user_names(&self.core.data_dir) {
            let Ok(user) = Username::parse_existing(&name) else {
                continue;
            };
            // How many of the oldest rows to remove to get a tenth under the cap.
            let plan = self.core.user_dbs.get(&user).and_then(|conn| {
                let Some(conn) = conn else { return Ok(None) };
                let used = db::retention::used_bytes(&conn)?;
                if used <= cap {
                    return Ok(None);
                }
                let rows = db::retention::message_rows(&conn)?.max(1);
                let per_row = used as f64 / rows as f64;
                let excess = (used - cap) as f64 + cap as f64 / 10.0;
                let n = ((excess / per_row).ceil() as u64).min(rows);
                let before = db::retention::ts_after_oldest(&conn, n)?.unwrap_or(f64::MAX);
                Ok(Some((before, used)))
            });
            let (before, used) = match plan {
                Ok(Some(plan)) => plan,
                Ok(None) => continue,
                Err(e) => {
                    self.fail(format!("users/{name}.db: {e:#}"));
                    continue;
                }
            };
            let result = messages_before(self.core, &user, before, self.dry_run);
            match result {
                Ok(0) => {}
                Ok(n) => {
                    (self.say)(format!(
                        "users/{name}.db: {n} oldest message row{} ({} used, over max_messages_mb_per_user {} MB)",
                        plural(n),
                        human_bytes(used),
                        self.retention.messages_cap_mb
                    ));
                    self.report.messages += n;
                    self.report.databases += 1;
                    if !self.dry_run {
                        let event = Json::obj([
                            ("type", "messages_expired".into()),
                            ("before_ts", Json::Num(before)),
                        ]);
                        self.core
                            .hub
                            .send_to([user.as_str()], &Arc::from(event.to_json_string()));
                    }
                }
                Err(e) => self.fail(format!("users/{name}.db: {e:#}")),
            }
        }
    }

    /// Old messages, from every user's database; returns how many expired.
    fn old_messages(&mut self) -> usize {
        let cutoff = self.message_cutoff();
        let mut total = 0;
        for name in user_names(&self.core.data_dir) {
            let Ok(user) = Username::parse_existing(&name) else {
                continue;
            };
            let result = messages_before(self.core, &user, cutoff, self.dry_run);
            match result {
                Ok(0) => {}
                Ok(n) => {
                    (self.say)(format!(
                        "users/{name}.db: {n} message{} older than {} days",
                        plural(n),
                        self.retention.message_days
                    ));
                    self.report.messages += n;
                    self.report.databases += 1;
                    total += n;
                }
                Err(e) => self.fail(format!("users/{name}.db: {e:#}")),
            }
        }
        total
    }

    /// Reactions and receipts of expired messages.
    fn old_reactions_and_receipts(&mut self) {
        if self.dry_run {
            return;
        }
        let cutoff = self.message_cutoff();
        let purged = purge_in_chunks(self.core, move |w| {
            let n =
                db::retention::delete_old_reactions_and_receipts(&w.presence, cutoff, PURGE_CHUNK)?;
            w.core
                .checkpoints
                .mark(std::iter::once(w.core.presence_db.path()));
            Ok(n)
        });
        if let Err(e) = purged {
            self.fail(format!("presence.db: {e:#}"));
        }
    }

    /// Uploads never attached to a message within a day: forgotten on the writer (so one
    /// being attached right now is kept), then their files removed.
    fn unattached_uploads(&mut self) {
        let before = self.now - UNATTACHED_GRACE_SECS;
        let listed = self
            .core
            .presence_db
            .get()
            .and_then(|conn| Ok(db::retention::unattached_uploads(&conn, before)?));
        let names = match listed {
            Ok(names) => names,
            Err(e) => return self.fail(format!("presence.db: {e:#}")),
        };
        let uploads = self.core.data_dir.join("uploads");
        for name in names {
            if !self.dry_run {
                let forget = name.clone();
                let forgotten = self.core.store.run(move |w| {
                    Ok(db::retention::delete_unattached_upload(
                        &w.presence,
                        &forget,
                    )?)
                });
                match forgotten {
                    Ok(true) => {}
                    Ok(false) => continue, // attached meanwhile
                    Err(e) => {
                        self.fail(format!("presence.db: {e}"));
                        continue;
                    }
                }
                if crate::files::uploads::is_stored_name(&name) {
                    let _ = std::fs::remove_file(uploads.join(&name));
                }
            }
            (self.say)(format!("uploads/{name} (never attached to a message)"));
            self.report.unattached += 1;
        }
    }

    /// Used or expired reset tokens, and sessions idle past their expiry.
    fn tokens_and_sessions(&mut self) {
        let session_cutoff = self.now - f64::from(self.retention.session_idle_days) * 86_400.0;
        let (now, delete) = (self.now, !self.dry_run);
        let counted = self.core.auth_db.get().and_then(|conn| {
            Ok(db::retention::expired_tokens_and_sessions(
                &conn,
                now,
                session_cutoff,
                delete,
            )?)
        });
        match counted {
            Ok((tokens, sessions)) => {
                if tokens > 0 {
                    (self.say)(format!(
                        "auth.db: {tokens} used or expired reset token{}",
                        plural(tokens)
                    ));
                }
                if sessions > 0 {
                    (self.say)(format!(
                        "auth.db: {sessions} session{} idle more than {} days",
                        plural(sessions),
                        self.retention.session_idle_days
                    ));
                }
                self.report.reset_tokens = tokens;
                self.report.sessions = sessions;
            }
            Err(e) => self.fail(format!("auth.db: {e:#}")),
        }
    }
}

/// Runs `chunk` on the writer until it deletes fewer than a chunk's worth; returns the total.
/// Each chunk is its own writer job, so fan-out interleaves with a long purge.
/// Deletes (or, dry, counts) the messages older than `before` in `user`'s database, in chunks
/// on the writer.
fn messages_before(
    core: &Core,
    user: &Username,
    before: f64,
    dry_run: bool,
) -> anyhow::Result<usize> {
    if dry_run {
        return Ok(match core.user_dbs.get(user)? {
            Some(conn) => db::retention::count_old_messages(&conn, before)?,
            None => 0,
        });
    }
    let user = user.clone();
    purge_in_chunks(core, move |w| {
        let Some(conn) = w.database(user.as_str())? else {
            return Ok(0);
        };
        let n = db::retention::delete_old_messages(conn, before, PURGE_CHUNK)?;
        let path = conn.path().map(std::path::PathBuf::from);
        w.core.checkpoints.mark(path.as_deref().into_iter());
        Ok(n)
    })
}

/// The names of the databases in users/, sorted.
fn user_names(data_dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data_dir.join("users"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_suffix(".db").map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn purge_in_chunks(
    core: &Core,
    chunk: impl Fn(&mut Writer) -> anyhow::Result<usize> + Send + Clone + 'static,
) -> anyhow::Result<usize> {
    let mut total = 0;
    loop {
        let job = chunk.clone();
        let n = core
            .store
            .run(move |w| job(w).map_err(Refusal::from))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        total += n;
        if n < PURGE_CHUNK {
            return Ok(total);
        }
    }
}

/// The cleanup thread: waits `first`, then runs every `every`, re-reading settings.json each
/// time (a retention change applies at the next run, without a restart).
pub fn run_thread(core: &Core, first: Duration, every: Duration, stop: &Stop) {
    let mut wait = first;
    loop {
        if stop.sleep(wait) {
            return;
        }
        wait = every;
        let settings = match crate::base::config::load_settings(&core.data_dir, &mut |w| {
            crate::log!("cleanup: warning: {w}")
        }) {
            Ok(settings) => settings,
            Err(e) => {
                crate::log!("cleanup: skipped this run: {e:#}");
                continue;
            }
        };
        let report = run_once(
            core,
            Retention::from_settings(&settings),
            false,
            &mut |line| crate::log!("cleanup: {line}"),
        );
        crate::log!("cleanup: {}", report.summary(false));
    }
}
