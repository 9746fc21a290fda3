//! `minimost backup DEST`: a consistent copy of a data dir — databases through SQLite's backup
//! API (while a running server holds its writes through the control socket), files copied —
//! into a new or empty directory. Never touches the source.

use super::control::{self, Request};
use super::{databases, relative};
use crate::db;
use anyhow::{bail, Context};
use rusqlite::Connection;
use std::path::Path;
use std::time::Instant;

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
        crate::admin::cleanup::human_bytes(db_bytes),
        counts[0],
        crate::admin::cleanup::human_bytes(file_bytes),
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
