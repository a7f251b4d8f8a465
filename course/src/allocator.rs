//! The allocator of the training examples: mimalloc, holding on to freed memory.
//!
//! An example installs it with
//!
//! ```
//! #[global_allocator]
//! static ALLOCATOR: course::Allocator = course::Allocator;
//! # fn main() { let _ = vec![0u8; 1 << 20]; }
//! ```
//!
//! Why not the system's malloc: a training step frees and reallocates the same buffers
//! every step (graph nodes, gradients, batch-sized activations). glibc hands large freed
//! blocks back to the kernel, so the next step faults them in again 4 KiB at a time:
//! about 110 000 page faults in the MNIST run. mimalloc serves them from arenas it asks
//! the kernel to back with 2 MiB pages, and its path for the many small allocations of a
//! graph (a probe step makes about 30) is shorter. Transparent huge pages stay off
//! (`no_thp`): on the VMs this was measured on, zeroing fresh 2 MiB pages cost more system
//! time than they saved. The engine itself is allocator-agnostic; an example that counts
//! heap bytes installs [`CountingAlloc`](crate::measure::CountingAlloc) instead.

/// mimalloc's allocator, for `#[global_allocator]` (see the module docs).
pub use mimalloc::MiMalloc as Allocator;

/// `mi_option_purge_delay` (`mimalloc.h`, the same index in mimalloc 2 and 3).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells mimalloc never to return freed pages to the kernel during the run: it would
/// otherwise do so 10 ms after a free, and a training loop reuses them within
/// microseconds. A run's peak memory is unchanged; it is simply kept until exit. Harmless
/// when mimalloc is not the global allocator (it then only sets an unused option).
pub(crate) fn keep_freed_memory() {
    // SAFETY: setting an option is a plain store into mimalloc's option table, valid at
    // any time from any thread; −1 is the documented "never purge" value.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) };
    debug_assert_eq!(
        // SAFETY: as above, a plain read.
        unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) },
        -1
    );
}
