//! Avatar files in `avatars/`: storing a new one under a generated name, finding and deleting
//! one named in `user_settings.avatar_file`. A name read from the database is used only when it
//! has the shape of a generated one, so no stored value can reach outside the directory. No
//! HTTP and no SQL: callers record the name.

use std::path::{Path, PathBuf};

/// Writes a new avatar (already checked to be an image of type `ext`) under a fresh name, and
/// returns that name.
pub fn store(data_dir: &Path, bytes: &[u8], ext: &str) -> anyhow::Result<String> {
    let name = format!(
        "{}.{ext}",
        crate::base::util::hex(&crate::base::util::random_bytes::<16>())
    );
    crate::base::config::write_new_private_file(&dir(data_dir).join(&name), bytes)?;
    Ok(name)
}

/// The path of an avatar named in the database, if the name is one we could have generated.
pub fn path(data_dir: &Path, file: &str) -> Option<PathBuf> {
    is_avatar_file_name(file).then(|| dir(data_dir).join(file))
}

/// Deletes an avatar file named in `user_settings.avatar_file` (never outside `avatars/`).
pub fn remove(data_dir: &Path, file: Option<&str>) {
    if let Some(path) = file.and_then(|f| path(data_dir, f)) {
        let _ = std::fs::remove_file(path);
    }
}

fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("avatars")
}

fn is_avatar_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_generated_shapes_become_paths() {
        let dir = Path::new("/data");
        assert_eq!(
            path(dir, "0a1b.png"),
            Some(PathBuf::from("/data/avatars/0a1b.png"))
        );
        for bad in ["", ".hidden", "../auth.db", "a/b.png", "é.png"] {
            assert_eq!(path(dir, bad), None, "{bad:?}");
        }
    }
}
