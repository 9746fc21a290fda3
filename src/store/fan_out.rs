//! The fan-out protocol: journal the changes, hold the recipients' databases, commit one
//! transaction per recipient database (spread over the cores when there are many), release the
//! holds, and clear the journal entries whose every copy is committed. A copy that fails — an
//! error or a panic — fails only itself and keeps its journal entry for the next start.

use super::{Change, Fanout, Writer};
use crate::db;
use crate::model::Refusal;
use rusqlite::{Connection, TransactionBehavior};
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

/// Fan-outs to at least this many databases are spread over the cores.
const PARALLEL_FAN_OUT: usize = 8;

/// Applies the given fan-outs to one recipient's database in one transaction; true when a DM
/// appeared (or reappeared) in their sidebar.
fn apply_to(
    conn: &Connection,
    recipient: &str,
    fanouts: &[Fanout],
    indexes: &[usize],
) -> rusqlite::Result<bool> {
    db::maintenance::in_write_transaction(conn, || {
        let mut sidebar_changed = false;
        for i in indexes {
            let change = &fanouts[*i].change;
            if let Change::Insert { channel, .. } = change {
                if channel.starts_with("dm:") {
                    let hidden = db::user::hidden_dms(conn)?.contains_key(channel);
                    sidebar_changed |= hidden || !db::user::has_channel(conn, channel)?;
                    if hidden {
                        db::user::unhide_dm(conn, channel)?;
                    }
                }
            }
            if cfg!(debug_assertions) {
                fault_check("copy", recipient, change);
            }
            change.apply(conn, recipient, false)?;
        }
        Ok(sidebar_changed)
    })
}

/// The fault-injection hook for a change: its text rows, prefixed with `recipient:`.
pub(super) fn fault_check(point: &str, recipient: &str, change: &Change) {
    if let Change::Insert { rows, .. } = change {
        for row in rows {
            crate::base::fault::check(point, &format!("{recipient}:{}", row.content));
        }
    }
}

/// For each recipient database, the indexes of the fan-outs it receives.
pub(super) type ByRecipient<'f> = HashMap<&'f str, Vec<usize>>;

/// What a fan-out reports when `recipient`'s copy could not be committed.
pub(super) fn copy_failed(recipient: &str) -> String {
    format!(
        "cannot store the message for {recipient}; it will be completed when the server restarts"
    )
}

/// For each fan-out, whether it succeeded.
pub(super) type Outcomes = Vec<Result<(), Refusal>>;

/// Each fan-out's outcome from the failures recorded for it.
pub(super) fn outcomes(failed: &[Option<String>]) -> Outcomes {
    failed
        .iter()
        .map(|f| {
            f.clone()
                .map_or(Ok(()), |m| Err(Refusal::Failed(anyhow::anyhow!(m))))
        })
        .collect()
}

impl Writer<'_> {
    /// Journals, applies and commits `fanouts` (one transaction per recipient database) and
    /// reports, for each, whether every copy is committed. `journalled` runs once they are
    /// journalled, before the copies: it announces them.
    pub fn fan_out<T>(
        &mut self,
        fanouts: &[Fanout],
        journalled: impl FnOnce(&Self) -> T,
    ) -> (Outcomes, Option<T>) {
        let (journal_ids, by_recipient) = match self.begin_fan_out(fanouts) {
            Ok(begun) => begun,
            Err(failed) => return (failed, None),
        };
        let announced = journalled(self);
        let mut failed = vec![None; fanouts.len()];
        self.commit_round(fanouts, by_recipient, &mut failed);
        self.finish_fan_out(&journal_ids, &failed);
        (outcomes(&failed), Some(announced))
    }

    /// Journals `fanouts` and marks every recipient's database as held until its copy is
    /// committed; returns the journal ids and, per recipient, the fan-outs they receive. On
    /// failure nothing is written and every fan-out gets the error.
    pub(super) fn begin_fan_out<'f>(
        &mut self,
        fanouts: &'f [Fanout],
    ) -> Result<(Vec<i64>, ByRecipient<'f>), Outcomes> {
        let journal_ids = self.journal(fanouts).map_err(|e| {
            let message = format!("cannot record the change: {e:#}");
            fanouts
                .iter()
                .map(|_| Err(Refusal::Failed(anyhow::anyhow!(message.clone()))))
                .collect::<Vec<_>>()
        })?;
        let mut by_recipient: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, fanout) in fanouts.iter().enumerate() {
            for recipient in &fanout.recipients {
                by_recipient.entry(recipient.as_str()).or_default().push(i);
            }
        }
        self.core.user_dbs.hold(by_recipient.keys().copied());
        Ok((journal_ids, by_recipient))
    }

    /// Removes the journal entries of the fan-outs whose every copy is committed; the others
    /// are completed at the next start.
    pub(super) fn finish_fan_out(&mut self, journal_ids: &[i64], failed: &[Option<String>]) {
        let done: Vec<i64> = journal_ids
            .iter()
            .zip(failed)
            .filter(|(_, f)| f.is_none())
            .map(|(id, _)| *id)
            .collect();
        if let Err(e) = self.unjournal(&done) {
            crate::log!("warning: cannot clear the fan-out journal: {e:#}");
        }
    }

    /// Commits one round of copies, lets their readers go on and tells recipients whose
    /// sidebar changed; records failures in `failed` (by fan-out) and returns the recipients
    /// whose copies failed.
    pub(super) fn commit_round(
        &mut self,
        fanouts: &[Fanout],
        by_recipient: HashMap<&str, Vec<usize>>,
        failed: &mut [Option<String>],
    ) -> Vec<String> {
        let mut sidebar_changed: Vec<String> = Vec::new();
        let mut failed_recipients = Vec::new();
        let round: Vec<String> = by_recipient.keys().map(|r| (*r).to_owned()).collect();
        for (recipient, indexes, outcome) in self.apply_all(fanouts, by_recipient) {
            match outcome {
                Ok(true) => sidebar_changed.push(recipient.clone()),
                Ok(false) => {}
                Err(e) => {
                    crate::log!("error: cannot write to users/{recipient}.db: {e:#}");
                    for i in indexes {
                        failed[i] = Some(copy_failed(&recipient));
                    }
                    failed_recipients.push(recipient);
                }
            }
        }
        self.core.user_dbs.release(round.iter().map(String::as_str));
        if !sidebar_changed.is_empty() {
            let frame: Arc<str> = Arc::from(r#"{"type":"channels"}"#);
            self.core
                .hub
                .send_to(sidebar_changed.iter().map(String::as_str), &frame);
        }
        failed_recipients
    }

    /// Applies every recipient's share of `fanouts`, one transaction per database. Large
    /// fan-outs are spread over the cores: each database is independent, so its transaction
    /// can run on any thread.
    pub(super) fn apply_all(
        &mut self,
        fanouts: &[Fanout],
        by_recipient: HashMap<&str, Vec<usize>>,
    ) -> Vec<(String, Vec<usize>, anyhow::Result<bool>)> {
        let mut results = Vec::with_capacity(by_recipient.len());
        let mut jobs: Vec<(String, Connection, Vec<usize>)> =
            Vec::with_capacity(by_recipient.len());
        for (recipient, indexes) in by_recipient {
            match self.database(recipient) {
                Ok(Some(_)) => {
                    let (conn, _) = self.databases.remove(recipient).expect("opened just above");
                    jobs.push((recipient.to_owned(), conn, indexes));
                }
                // An account whose database is gone (e.g. removed by hand) receives nothing.
                Ok(None) => {}
                Err(e) => results.push((recipient.to_owned(), indexes, Err(e))),
            }
        }
        let threads = if jobs.len() >= PARALLEL_FAN_OUT {
            self.threads
        } else {
            1
        };
        let chunk = jobs.len().div_ceil(threads).max(1);
        let applied: Vec<(String, Connection, Vec<usize>, anyhow::Result<bool>)> =
            std::thread::scope(|scope| {
                let mut chunks = Vec::new();
                while !jobs.is_empty() {
                    let rest = jobs.split_off(chunk.min(jobs.len()));
                    chunks.push(std::mem::replace(&mut jobs, rest));
                }
                let run = |chunk: Vec<(String, Connection, Vec<usize>)>| {
                    chunk
                        .into_iter()
                        .map(|(recipient, conn, indexes)| {
                            // A panic fails this copy only: it stays journalled.
                            let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| {
                                apply_to(&conn, &recipient, fanouts, &indexes)
                            })) {
                                Ok(applied) => applied.map_err(anyhow::Error::from),
                                Err(_) => {
                                    db::maintenance::rollback(&conn);
                                    Err(anyhow::anyhow!("the copy panicked (logged above)"))
                                }
                            };
                            (recipient, conn, indexes, outcome)
                        })
                        .collect::<Vec<_>>()
                };
                let mut chunks = chunks.into_iter();
                let first = chunks.next();
                let handles: Vec<_> = chunks.map(|c| scope.spawn(move || run(c))).collect();
                let mut out = first.map(run).unwrap_or_default();
                for handle in handles {
                    out.extend(handle.join().unwrap_or_default());
                }
                out
            });
        self.core.checkpoints.mark(
            applied
                .iter()
                .filter_map(|(_, conn, ..)| conn.path().map(std::path::Path::new)),
        );
        for (recipient, conn, indexes, outcome) in applied {
            self.clock += 1;
            self.databases.insert(recipient.clone(), (conn, self.clock));
            self.index_soon(&recipient);
            results.push((recipient, indexes, outcome));
        }
        results
    }

    pub(super) fn journal(&mut self, fanouts: &[Fanout]) -> rusqlite::Result<Vec<i64>> {
        let tx = self
            .presence
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let ids = fanouts
            .iter()
            .map(|f| db::presence::journal_add(&tx, &f.to_json()))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        tx.commit()?;
        self.mark_presence();
        Ok(ids)
    }

    pub(super) fn mark_presence(&self) {
        self.core
            .checkpoints
            .mark(std::iter::once(self.core.presence_db.path()));
    }

    pub(super) fn unjournal(&mut self, ids: &[i64]) -> rusqlite::Result<()> {
        let tx = self
            .presence
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for id in ids {
            db::presence::journal_remove(&tx, *id)?;
        }
        tx.commit()?;
        self.mark_presence();
        Ok(())
    }
}
