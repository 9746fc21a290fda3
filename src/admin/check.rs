//! `minimost check`: an integrity check of every database in a data dir, read-only, with a
//! line per database and an exit status for scripts. Writes nothing.

use super::{databases, relative};
use crate::db;
use anyhow::bail;
use std::path::Path;
use std::process::ExitCode;

/// `minimost check`
pub fn check(data_dir: &Path) -> anyhow::Result<ExitCode> {
    crate::base::config::require_access(data_dir, false)?;
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
