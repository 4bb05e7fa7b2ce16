//! The process's allocator policy: large buffers go back to the operating system when
//! they are freed.
//!
//! glibc serves an allocation above its mmap threshold from a mapping of its own and
//! unmaps it on free, but by default the threshold moves: every freed mapping raises it
//! (up to 32 MiB), and from then on buffers of megabytes come from the heap arenas and
//! stay in the process after they are freed. A worker allocates and frees many such
//! buffers (a graph's parsed edge blocks and their shuffle, message batches, per-superstep
//! arrays), so with the moving threshold its resident memory keeps the high-water mark
//! of every phase: on R-MAT 20 about 150 MiB per worker after the graph is built. A fixed
//! threshold keeps every buffer of a megabyte or more on its own mapping.

/// Buffers of at least this many bytes get mappings of their own.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 1 << 20;

/// Sets the policy for this process; called first thing by `main_with`.
pub(crate) fn return_large_buffers_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes a glibc allocator parameter; it is called before
    // any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}
