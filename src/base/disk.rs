//! Free space on the data dir's file system, and the floor below which the server stops taking
//! what would fill it (messages, uploads, new accounts) instead of letting a write fail
//! half-way. Deleting and reading always work, so space can be freed; writes resume by
//! themselves once there is room again.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes free for an unprivileged writer on the file system holding `path`.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::other("a path with a NUL byte"))?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a zeroed out-parameter of the right type.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

/// What a refused write tells the person who tried it.
pub const FULL_MESSAGE: &str =
    "The server's storage is full, so nothing new can be saved; tell your administrator";

/// When the last "storage is low" warning was logged (seconds since the epoch).
static LAST_WARNING: AtomicU64 = AtomicU64::new(0);

/// Ok when `dir` has more than `floor_bytes` free (or when free space cannot be read: the
/// write itself will say what is wrong). Logs a warning at most once a minute while refusing.
pub fn require_room(dir: &Path, floor_bytes: u64) -> Result<(), &'static str> {
    let Ok(free) = free_bytes(dir) else {
        return Ok(());
    };
    if free > floor_bytes {
        return Ok(());
    }
    let now = crate::base::util::now() as u64;
    let last = LAST_WARNING.load(Ordering::Relaxed);
    if now >= last + 60
        && LAST_WARNING
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        crate::log!(
            "warning: only {} MB free where {} lives (the floor is {} MB, min_free_disk_mb in \
             settings.json): new messages, uploads and accounts are refused until space is \
             freed (minimost clean, or lower the retention days)",
            free >> 20,
            dir.display(),
            floor_bytes >> 20
        );
    }
    Err(FULL_MESSAGE)
}
