//! The process's allocator, and the one moment the CLI asks it to give memory back.
//!
//! mimalloc rather than the C library's allocator: glibc gives every thread an arena of its own
//! and keeps what a thread freed in it, so eight import workers each parsing a large header in
//! turn kept eight headers' worth of memory resident (550 MB for a folder of crafted files
//! whose parses the memory budget allowed only two at a time, 145 MB with one arena).
//! mimalloc returns freed pages to the system, so the budget bounds what stays resident
//! ([`archive::memory`]); its small allocations are also cheaper for the parser's many maps.

/// The allocator: see the module documentation.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Returns the memory every thread has freed to the system now, instead of after mimalloc's
/// purge delay, which only runs when the thread allocates again. Called between the phases
/// of an export: the plan's workers free every parsed header, and without this the write
/// phase starts with their pages still resident (peak RSS of a 40,000-file export 255 MB without
/// this, 222 MB with it). Purging
/// at every free instead (`MIMALLOC_PURGE_DELAY=0`) doubled the export's system time.
pub(crate) fn return_freed_memory() {
    rayon::broadcast(|_| collect());
    collect();
}

#[allow(unsafe_code)] // the workspace's one exception (see Cargo.toml)
fn collect() {
    // SAFETY: mi_collect only walks the calling thread's heap (and abandoned segments); it
    // takes no pointer and is safe to call at any time from any thread.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
