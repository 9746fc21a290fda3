//! Handing memory back to the system after a burst. glibc keeps what a burst of logins or
//! connections freed: heap blocks in its arenas, and the stacks of ended threads (up to
//! 40 MiB of them, with every page they touched). musl's allocator and thread exit return
//! both by themselves, so everything here is for glibc builds and does nothing on musl.

/// Called by a connection's thread when its work is done: returns its stack's unused pages
/// and the heap's free pages.
pub fn release_after_thread() {
    release_unused_stack();
    release_freed_heap();
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
