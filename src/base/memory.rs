//! Handing memory back to the system after a burst. glibc keeps what a burst of logins or
//! connections freed: heap blocks in its arenas, and the stacks of ended threads (up to
//! 40 MiB of them, with every page they touched). musl's allocator and thread exit return
//! both by themselves, so everything here is for glibc builds and does nothing on musl.
//!
//! A heap trim walks the whole heap under the arena locks, so it must not run once per ended
//! thread: 4,000 connections cut at the same deadline would each walk a heap of 200 MB. Ended
//! threads ask the `Trimmer`, whose thread trims at most once per interval and once more after
//! the last request of a burst.

use super::stop::Stop;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Called by a connection's thread when its work is done: returns its stack's unused pages,
/// and asks for the heap's free pages to be returned.
pub fn release_after_thread(trimmer: &Trimmer) {
    release_unused_stack();
    trimmer.request();
}

/// Coalesces heap trims: however many threads ask, the heap is trimmed at most once per
/// `interval`, and always once after the last request.
pub struct Trimmer {
    pending: AtomicBool,
    wake: Stop,
    interval: Duration,
}

impl Trimmer {
    pub fn new(interval: Duration) -> Trimmer {
        Trimmer {
            pending: AtomicBool::new(false),
            wake: Stop::default(),
            interval,
        }
    }

    /// Asks for a trim (cheap: a flag, and a nudge when none was pending).
    pub fn request(&self) {
        if cfg!(target_env = "gnu") && !self.pending.swap(true, Ordering::AcqRel) {
            self.wake.nudge();
        }
    }

    /// The trimming thread: sleeps until asked, trims, then lets requests gather for an
    /// interval; ends at the stop.
    pub fn run(&self, trim: impl Fn()) {
        loop {
            let ticket = self.wake.ticket();
            if !self.pending.swap(false, Ordering::AcqRel) {
                if self.wake.wait(ticket) {
                    return;
                }
                continue;
            }
            trim();
            if self.wake.sleep(self.interval) {
                return;
            }
        }
    }

    pub fn stop(&self) {
        self.wake.stop();
    }
}

/// Returns free heap pages (in every arena) to the system.
pub fn release_freed_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free memory to the system; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Gives the pages of this thread's stack below the current frame back to the system, so a
/// stack glibc keeps for reuse keeps only the pages its thread start needs.
#[inline(never)]
fn release_unused_stack() {
    #[cfg(target_env = "gnu")]
    // SAFETY: pthread_getattr_np/pthread_attr_getstack describe this thread's own stack; the
    // range passed to madvise lies between its lowest address and the page of the current
    // frame, which no live frame uses. MADV_DONTNEED on private anonymous memory only makes
    // those pages read as zero when next touched, and a new stack frame writes before it reads.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return;
        }
        let mut low: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let found = libc::pthread_attr_getstack(&attr, &mut low, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        let here = std::ptr::addr_of!(low) as usize;
        let page = 4096;
        let low = low as usize;
        let end = here & !(page - 1);
        if found == 0 && low % page == 0 && end > low && here < low + size {
            libc::madvise(low as *mut libc::c_void, end - low, libc::MADV_DONTNEED);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn a_burst_of_requests_costs_few_trims_and_the_last_is_never_lost() {
        let trimmer = Trimmer::new(Duration::from_millis(200));
        let trims = AtomicUsize::new(0);
        std::thread::scope(|s| {
            s.spawn(|| {
                trimmer.run(|| {
                    trims.fetch_add(1, Ordering::SeqCst);
                })
            });
            for _ in 0..10_000 {
                trimmer.request();
            }
            // A request after the burst is trimmed for too, once the interval has passed.
            std::thread::sleep(Duration::from_millis(50));
            trimmer.request();
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while trimmer.pending.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            trimmer.stop();
        });
        let trims = trims.load(Ordering::SeqCst);
        if cfg!(target_env = "gnu") {
            assert!(
                (1..=3).contains(&trims),
                "{trims} trims for 10,001 requests"
            );
            assert!(
                !trimmer.pending.load(Ordering::SeqCst),
                "the last request was trimmed for"
            );
        } else {
            assert_eq!(trims, 0, "musl returns memory by itself");
        }
    }
}
