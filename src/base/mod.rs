//! The bottom layer: building blocks that know nothing of chat — time and encodings, JSON, the
//! data dir and settings, password hashing, signed cookies, rate-limit windows, the embedded
//! web UI, allocator tuning and the debug-only fault hook. Nothing here uses another layer.

/// The version every page, `/api/me` and `minimost --version` report.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub mod assets;
pub mod config;
pub mod disk;
pub mod fault;
pub mod json;
pub mod limits;
pub mod memory;
pub mod names;
pub mod password;
pub mod sessions;
pub mod stop;
pub mod stun;
pub mod util;

/// Writes a line to stderr like `eprintln!`, but never panics: a server whose stderr was closed
/// (`minimost 2>&1 | head -1`) must keep serving, and stay stoppable. The line goes out in one
/// write: stderr is unbuffered, so formatting straight into it wrote a line in pieces, which
/// threads could interleave and a reader (journald, a test) could see half of.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let line = format!("{}\n", format_args!($($arg)*));
        let _ = std::io::stderr().write_all(line.as_bytes());
    }};
}
