//! `minimost status`: where the disk goes — the data dir's size by part, the largest
//! databases, the WAL files, the free space and the floor below which the server refuses new
//! things — whether the search indexes are being built, and whether a newcomer's history is
//! still being copied. Read-only, safe while the server runs.

use super::{databases, relative};
use std::path::Path;
use std::process::ExitCode;

/// Bytes in the files directly under `dir` (0 if it is missing) and how many there are.
fn folder(dir: &Path) -> (u64, usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    entries
        .flatten()
        .filter_map(|e| e.metadata().ok().filter(|m| m.is_file()))
        .fold((0, 0), |(bytes, n), m| (bytes + m.len(), n + 1))
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// A database with its WAL and shared-memory files.
fn with_wal(path: &Path) -> (u64, u64) {
    let side = |suffix: &str| {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        size(Path::new(&p))
    };
    (size(path), side("-wal") + side("-shm"))
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / (1 << 20) as f64)
}

/// `minimost status`
pub fn status(data_dir: &Path) -> anyhow::Result<ExitCode> {
    crate::base::config::require_access(data_dir, false)?;
    if !data_dir.join("auth.db").exists() {
        anyhow::bail!(
            "{} is not a MiniMost data dir (no auth.db); pass --data-dir",
            data_dir.display()
        );
    }
    let dir = std::fs::canonicalize(data_dir)?;
    let mut dbs: Vec<(String, u64, u64)> = databases(&dir)?
        .iter()
        .map(|p| {
            let (db, wal) = with_wal(p);
            (relative(&dir, p), db, wal)
        })
        .collect();
    let user_dbs: Vec<&(String, u64, u64)> = dbs
        .iter()
        .filter(|(n, ..)| n.starts_with("users/"))
        .collect();
    let users_bytes: u64 = user_dbs.iter().map(|(_, d, w)| d + w).sum();
    let (uploads, n_uploads) = folder(&dir.join("uploads"));
    let (avatars, n_avatars) = folder(&dir.join("avatars"));
    let wal_total: u64 = dbs.iter().map(|(_, _, w)| w).sum();
    let total = dbs.iter().map(|(_, d, w)| d + w).sum::<u64>() + uploads + avatars;
    println!("data dir:  {}", dir.display());
    println!("in all:    {}", mb(total));
    println!(
        "  users/       {} in {} databases",
        mb(users_bytes),
        user_dbs.len()
    );
    println!("  uploads/     {} in {n_uploads} files", mb(uploads));
    println!("  avatars/     {} in {n_avatars} files", mb(avatars));
    for name in ["auth.db", "presence.db"] {
        if let Some((_, d, w)) = dbs.iter().find(|(n, ..)| n == name) {
            println!("  {name:<12} {}", mb(d + w));
        }
    }
    println!(
        "  of which WAL files: {} (emptied after 30 s without writes)",
        mb(wal_total)
    );
    dbs.retain(|(n, ..)| n.starts_with("users/"));
    dbs.sort_by_key(|(_, d, w)| std::cmp::Reverse(d + w));
    if !dbs.is_empty() {
        println!("largest:");
        for (name, d, w) in dbs.iter().take(5) {
            println!("  {name:<32} {}", mb(d + w));
        }
    }
    // Indexes far behind (an upgrade rebuilds every one; rows waiting for the next round are
    // normal): searches there say their results may be incomplete until they catch up.
    let behind: Vec<(String, u64)> = dbs
        .iter()
        .filter_map(|(name, ..)| {
            let conn = crate::db::open_for_maintenance(
                &dir.join(name),
                crate::db::Access::ReadOnly,
                std::time::Duration::from_secs(5),
            )
            .ok()?;
            let waiting = crate::db::search::unindexed(&conn).ok()?;
            // A search indexes this many itself: fewer never leave an answer incomplete.
            (waiting > crate::db::search::INLINE_INDEX_ROWS).then(|| (name.clone(), waiting))
        })
        .collect();
    if behind.is_empty() {
        println!("search:    every index is up to date");
    } else {
        let rows: u64 = behind.iter().map(|(_, n)| n).sum();
        println!(
            "search:    {} of {} databases are being indexed ({rows} older messages to go; the \
             server does it in the background): searches there may be incomplete until then",
            behind.len(),
            dbs.len()
        );
    }
    let settings = crate::base::config::load_settings(&dir, &mut |_| {}).unwrap_or_default();
    let floor = u64::from(settings.min_free_disk_mb) << 20;
    match crate::base::disk::free_bytes(&dir) {
        Ok(free) => {
            println!("free:      {} (new messages, uploads and accounts are refused below {}, min_free_disk_mb)", mb(free), mb(floor));
            if free <= floor {
                println!("           NOW REFUSING: free space with `minimost clean`, lower the retention days in settings.json, or add disk");
                return Ok(ExitCode::FAILURE);
            }
        }
        Err(e) => println!("free:      cannot be read: {e}"),
    }
    let copying: Vec<String> = crate::db::open_for_maintenance(
        &dir.join("presence.db"),
        crate::db::Access::ReadOnly,
        std::time::Duration::from_secs(5),
    )
    .ok()
    .and_then(|c| crate::db::presence::seeds(&c).ok())
    .unwrap_or_default()
    .into_iter()
    .map(|(user, _)| user)
    .collect();
    if !copying.is_empty() {
        println!(
            "copying:   the channels' history into {}'s database",
            copying.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
