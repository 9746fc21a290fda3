//! The process around the server: SIGTERM/SIGINT through a signalfd (which starts the
//! shutdown), systemd's watchdog pings, and the open-file limit. Each waits on the shutdown
//! `Stop`, so none wakes while the server idles.

use crate::api::ctx::Ctx;
use crate::base::stop::Stop;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd};
use std::time::Duration;

pub(super) fn block_shutdown_signals() -> libc::sigset_t {
    // SAFETY: plain libc calls on a local sigset_t.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Waits for SIGTERM/SIGINT, then starts the shutdown; returns early when `stop` is signalled
/// (the server is stopping for another reason). Sleeps in poll(2) meanwhile: no periodic
/// wake-ups.
pub(super) fn wait_for_signal(set: &libc::sigset_t, ctx: &Ctx) {
    // SAFETY: set is a valid sigset_t; signalfd returns a new descriptor we own, or -1.
    let fd = unsafe { libc::signalfd(-1, set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) };
    if fd < 0 {
        crate::log!(
            "error: cannot wait for signals ({}); stop the server with SIGKILL",
            std::io::Error::last_os_error()
        );
        return;
    }
    // SAFETY: fd is a fresh descriptor owned by nothing else.
    let signals = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    while !ctx.stop.is_stopped() {
        let _ = ctx.stop.wait_fd(signals.as_raw_fd(), libc::POLLIN);
        // SAFETY: reads one signalfd_siginfo into a zeroed local of the right size.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        let n = unsafe {
            libc::read(
                signals.as_raw_fd(),
                (&mut info as *mut libc::signalfd_siginfo).cast(),
                size,
            )
        };
        let sig = i32::try_from(info.ssi_signo).unwrap_or(0);
        if usize::try_from(n) == Ok(size) && (sig == libc::SIGTERM || sig == libc::SIGINT) {
            // Stop first, then say so, and never fail on a closed stderr: a panic here would
            // leave a server that no signal can stop.
            ctx.stop.stop();
            let _ = writeln!(std::io::stderr(), "shutting down");
        }
    }
}

/// Raises the soft open-file limit to the hard one (each WebSocket needs two descriptors).
pub(super) fn raise_fd_limit() -> usize {
    // SAFETY: getrlimit/setrlimit on a local struct.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max.min(1 << 20);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        }
        usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
    }
}

pub(super) fn watchdog_interval() -> Option<Duration> {
    let mut usec = 0;
    sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec / 2))
}

/// Pings systemd's watchdog at half its timeout until shutdown (the stop ends the wait).
pub(super) fn watchdog(stop: &Stop, interval: Duration) {
    loop {
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
        if stop.sleep(interval) {
            return;
        }
    }
}
