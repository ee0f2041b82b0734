//! The process's allocator, and the one moment the CLI asks it to give memory back.
//!
//! mimalloc rather than the C library's allocator: glibc gives every thread an arena of its own
//! and keeps what a thread freed in it, so eight import workers each parsing a large header in
//! turn kept eight headers' worth of memory resident (550 MB for a folder of crafted files
//! whose parses the memory budget allowed only two at a time, 145 MB with one arena).
//! mimalloc returns freed pages to the system, so the budget bounds what stays resident
//! ([`archive::memory`]); its small allocations are also cheaper for the parser's many maps.
//!
//! Two of its settings are changed, each unless the user sets it: arenas are committed as they
//! are used, for every command, from the start ([`configure`]; `MIMALLOC_ARENA_EAGER_COMMIT`),
//! and an export has freed pages given back after 1 ms ([`favour_memory`];
//! `MIMALLOC_PURGE_DELAY`). Measured on the standard machine, peak RSS, export at
//! anonymize-full:
//!
//! | setting | 1,000 real CT files | 100,200 synthetic files |
//! |---|---:|---:|
//! | mimalloc's defaults | 44 MB, 0.25 s | 185-199 MB, 9.7 s |
//! | arenas committed on use | 24 MB, 0.25 s | 165-177 MB, 9.9 s |
//! | and freed pages returned after 1 ms | 23 MB, 0.25 s | 131 MB, 10.3 s |
//!
//! - Arenas are committed as they are used, not whole when reserved: on a system that
//!   overcommits, mimalloc committed its 1 GiB arenas eagerly, and transparent huge pages then
//!   made whole 2 MiB pages resident for a few live objects. No cost measured; an import of the
//!   1,000 files takes 0.19 s either way, and 16 MB instead of 32.
//! - An export's freed pages go back to the system after 1 ms instead of mimalloc 3's 1,000
//!   ms. Its workers free every header they parse while the plan's entries grow; with a
//!   second's delay, pages freed by hundreds of files were still held (124 to 128 MB with 10 or
//!   50 ms at 100,200 files). It costs about 5 % of a 100,000-file export's time (1 s of system
//!   time), none measurable at 1,000 files. Not for the other commands, whose memory does not
//!   grow with the number of files: `depot anonymize` of 1,000 files of 0.5 MB took 0.25 to
//!   0.27 s with it and 0.20 to 0.22 s without (each file's buffers given back and faulted in
//!   again).

/// The allocator: see the module documentation.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_arena_eager_commit` and `mi_option_purge_delay` (their places in
/// mimalloc 3's `mi_option_t`, the version the bindings build, which they do not name).
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Arenas committed as they are used (see the module documentation), as a default that the
/// environment overrides (mimalloc reads `MIMALLOC_*` over a default). It must be set before
/// mimalloc starts: the first arena is reserved, and committed, by the first allocation,
/// before `main`. On Linux, [`CONFIGURE`] sets it first of all; `main` calls this too (a no-op
/// once mimalloc has read its options), for a system where that does not run.
#[allow(unsafe_code)] // the workspace's one exception (see Cargo.toml)
pub(crate) extern "C" fn configure() {
    // SAFETY: setting an option's default takes no pointer, allocates nothing and is safe
    // before mimalloc has started (it writes the option's entry in a static table).
    unsafe { libmimalloc_sys::mi_option_set_default(ARENA_EAGER_COMMIT, 0) }
}

/// Freed pages given back after 1 ms, for a command whose memory grows with the number of
/// files (an export), unless `MIMALLOC_PURGE_DELAY` says otherwise. mimalloc reads the delay
/// each time it schedules a purge, so this takes effect at once.
#[allow(unsafe_code)] // the workspace's one exception (see Cargo.toml)
pub(crate) fn favour_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: setting an option takes no pointer and is safe at any time from any thread.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 1) }
    }
}

/// [`configure`] run as the process starts, before mimalloc's own start (which runs at
/// constructor priority 101) and before any allocation.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // placing a constructor
#[used]
#[unsafe(link_section = ".init_array.00100")]
static CONFIGURE: extern "C" fn() = configure;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(unsafe_code)] // reading mimalloc's options
    fn get(option: libmimalloc_sys::mi_option_t) -> std::os::raw::c_long {
        // SAFETY: reading an option takes no pointer.
        unsafe { libmimalloc_sys::mi_option_get(option) }
    }

    #[test]
    fn the_settings_take_unless_the_environment_sets_them() {
        if std::env::var_os("DEPOT_ALLOCATOR_CHILD").is_some() {
            return;
        }
        let unset = |v| std::env::var_os(v).is_none();
        // (Set before mimalloc starts on Linux only, where the constructor runs.)
        if cfg!(target_os = "linux") && unset("MIMALLOC_ARENA_EAGER_COMMIT") {
            assert_eq!(get(ARENA_EAGER_COMMIT), 0);
        }
        if unset("MIMALLOC_PURGE_DELAY") {
            // mimalloc 3's default until an export asks.
            assert_eq!(get(PURGE_DELAY), 1000);
            favour_memory();
            assert_eq!(get(PURGE_DELAY), 1);
        }
        // The environment wins, and the places are the options meant: this test binary run
        // again with mimalloc's variables set reads them at those places.
        let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", "allocator::tests::child_reads_the_environment"])
            .env("DEPOT_ALLOCATOR_CHILD", "1")
            .env("MIMALLOC_ARENA_EAGER_COMMIT", "1")
            .env("MIMALLOC_PURGE_DELAY", "7")
            .output()
            .expect("the test binary runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("1 passed"),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn child_reads_the_environment() {
        if std::env::var_os("DEPOT_ALLOCATOR_CHILD").is_some() {
            favour_memory();
            assert_eq!((get(ARENA_EAGER_COMMIT), get(PURGE_DELAY)), (1, 7));
        }
    }
}
