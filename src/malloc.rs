//! glibc's allocator, tuned for training loops that free and allocate the same large
//! tensors every step.
//!
//! By default glibc serves blocks above 128 KiB (a threshold it raises only as such blocks
//! are freed) with fresh mmaps and trims the heap top above 128 KiB, so each step's
//! activations come back as new pages that the kernel must fault in and zero: 16% of a CNN
//! step on the CPU in a profile (page faults and `clear_page`), 1.9M minor faults in
//! `credit bench --network cnn`. Keeping freed memory in the process makes the CNN step
//! about 1.4× faster there (docs/PERFORMANCE.md, "CNN"). The price is that the process keeps
//! its peak heap until it exits.

/// Serve blocks up to 32 MiB (glibc's largest setting) from the heap, and keep freed memory
/// instead of returning it to the kernel. A no-op off glibc.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}
