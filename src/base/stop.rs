//! `Stop`: the one way a background thread is told to end, and the one way it sleeps. A thread
//! that waits for time sleeps on it (`sleep`), a thread that waits for work waits for a nudge
//! (`ticket` + `wait`), and a thread that waits for a descriptor polls it beside the stop's
//! eventfd (`wait_fd`). Every wait ends at once when the stop is given, so nothing wakes on a
//! timer to check a flag. Owns no thread and knows nothing of what it stops.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

/// The longest a `wait_fd` sleeps without a reason.
const SAFETY_NET: Duration = Duration::from_secs(3600);

#[derive(Default)]
pub struct Stop {
    stopped: AtomicBool,
    /// How many nudges were given (work arrived); waiters compare it with their ticket.
    nudges: Mutex<u64>,
    wake: Condvar,
    /// Made on the first `wait_fd`; readable from the stop on.
    fd: OnceLock<WakeFd>,
}

impl Stop {
    /// Ends every wait, now and later.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        drop(self.lock());
        self.wake.notify_all();
        if let Some(fd) = self.fd.get() {
            fd.signal();
        }
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Sleeps for `d` unless stopped first; true if stopped.
    pub fn sleep(&self, d: Duration) -> bool {
        let guard = self.lock();
        drop(
            self.wake
                .wait_timeout_while(guard, d, |_| !self.is_stopped())
                .unwrap_or_else(|e| e.into_inner()),
        );
        self.is_stopped()
    }

    /// Tells a waiting thread that work arrived.
    pub fn nudge(&self) {
        *self.lock() += 1;
        self.wake.notify_all();
    }

    /// Take a ticket before looking for work, then `wait` with it when there was none: a nudge
    /// given in between is never lost.
    pub fn ticket(&self) -> u64 {
        *self.lock()
    }

    /// Waits until a nudge since `ticket` or the stop; true if stopped.
    pub fn wait(&self, ticket: u64) -> bool {
        let guard = self.lock();
        drop(
            self.wake
                .wait_while(guard, |n| *n == ticket && !self.is_stopped())
                .unwrap_or_else(|e| e.into_inner()),
        );
        self.is_stopped()
    }

    /// `wait`, but also returns at `deadline`; true if stopped.
    pub fn wait_until(&self, ticket: u64, deadline: std::time::Instant) -> bool {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let guard = self.lock();
        drop(
            self.wake
                .wait_timeout_while(guard, left, |n| *n == ticket && !self.is_stopped())
                .unwrap_or_else(|e| e.into_inner()),
        );
        self.is_stopped()
    }

    /// Waits until `fd` has one of `events` or the stop (or an hour passes: a safety net, as
    /// callers loop on `is_stopped` and the descriptor, never on time).
    pub fn wait_fd(&self, fd: RawFd, events: i16) -> std::io::Result<()> {
        self.wait_fds(&[fd], events)
    }

    /// `wait_fd` for several descriptors: returns when any has one of `events`.
    pub fn wait_fds(&self, fds: &[RawFd], events: i16) -> std::io::Result<()> {
        let wake = match self.fd.get() {
            Some(wake) => wake,
            None => {
                let made = WakeFd::new()?;
                self.fd.get_or_init(|| made)
            }
        };
        // A stop given before the fd existed signalled nothing: look at the flag after.
        if self.is_stopped() {
            return Ok(());
        }
        wake.wait_with_all(fds, events, SAFETY_NET)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, u64> {
        self.nudges.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An eventfd a thread polls beside another descriptor; signalling it wakes the thread.
pub struct WakeFd(OwnedFd);

impl WakeFd {
    pub fn new() -> std::io::Result<WakeFd> {
        // SAFETY: eventfd returns a new descriptor we own, or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor owned by nobody else.
        Ok(WakeFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    pub fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to our own eventfd. A full counter (EAGAIN)
        // still leaves it readable, which is all a wake-up needs.
        unsafe { libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    pub fn drain(&self) {
        let mut count: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64 from our own non-blocking eventfd.
        unsafe { libc::read(self.0.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
    }

    pub fn raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    /// Waits up to `timeout` until `fd` has one of `events` or this wake fd is signalled.
    pub fn wait_with(&self, fd: RawFd, events: i16, timeout: Duration) -> std::io::Result<()> {
        self.wait_with_all(&[fd], events, timeout)
    }

    /// `wait_with` for several descriptors (at most 7).
    pub fn wait_with_all(
        &self,
        fds: &[RawFd],
        events: i16,
        timeout: Duration,
    ) -> std::io::Result<()> {
        let mut polled = [libc::pollfd {
            fd: -1,
            events: 0,
            revents: 0,
        }; 8];
        let n = fds.len().min(7);
        for (slot, fd) in polled.iter_mut().zip(&fds[..n]) {
            slot.fd = *fd;
            slot.events = events;
        }
        polled[n] = libc::pollfd {
            fd: self.raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: the first n + 1 entries of polled are valid pollfd for the duration of the call.
        if unsafe { libc::poll(polled.as_mut_ptr(), (n + 1) as libc::nfds_t, ms) } < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn every_kind_of_wait_ends_at_the_stop() {
        let stop = Stop::default();
        let (read, _write) = std::os::unix::net::UnixStream::pair().unwrap();
        let started = Instant::now();
        std::thread::scope(|s| {
            s.spawn(|| assert!(stop.sleep(Duration::from_secs(3600))));
            s.spawn(|| assert!(stop.wait(stop.ticket())));
            s.spawn(|| stop.wait_fd(read.as_raw_fd(), libc::POLLIN).unwrap());
            std::thread::sleep(Duration::from_millis(50));
            stop.stop();
        });
        assert!(started.elapsed() < Duration::from_secs(30));
        // After the stop, waits return at once.
        assert!(stop.sleep(Duration::from_secs(3600)));
        stop.wait_fd(read.as_raw_fd(), libc::POLLIN).unwrap();
    }

    #[test]
    fn a_nudge_between_ticket_and_wait_is_not_lost() {
        let stop = Stop::default();
        let ticket = stop.ticket();
        stop.nudge();
        assert!(!stop.wait(ticket), "returns for the nudge, not a stop");
    }
}
