//! `minimost`: parse the command line, dispatch, print the error chain once. A dispatcher,
//! not a program: the work lives in the library (`lib.rs` and the modules below it).

use std::process::ExitCode;

fn main() -> ExitCode {
    // Nothing we write is for other users: databases, keys and uploads are 0600, dirs 0700.
    // SAFETY: umask only changes this process's file-creation mask.
    unsafe { libc::umask(0o077) };
    // glibc gives each thread that allocates its own malloc arena; with a thread per connection
    // that multiplies idle memory. Two arenas serve two cores. And glibc raises its mmap
    // threshold after each large free, after which a freed 19 MiB Argon2 buffer stays in an
    // arena: every login would leave its buffer behind. A fixed threshold keeps large blocks
    // in their own mappings, returned to the system when freed, as musl's allocator does.
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only tunes the allocator; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
    match minimost::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
