//! How to import: the options a caller sets, and the bounds they are held to.

use std::time::Duration;

pub use crate::zip_entries::MAX_ZIP_ENTRY;

/// Files up to this size are read into memory once; bigger ones are parsed from disk and
/// streamed into the store (one at a time, to bound memory).
pub const IN_MEMORY_LIMIT: u64 = 8 * 1024 * 1024;

/// The most worker threads an import starts ([`ImportOptions::workers`] above it is capped).
pub const MAX_WORKERS: usize = 256;

/// The most files per batch ([`ImportOptions::batch_files`] above it is capped).
pub const MAX_BATCH_FILES: usize = 100_000;

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Project to file subjects in (created if new).
    pub project: String,
    /// Worker threads; 0 picks a default from the number of CPUs; at most [`MAX_WORKERS`].
    pub workers: usize,
    /// Most files per index transaction (1 to [`MAX_BATCH_FILES`]).
    pub batch_files: usize,
    /// Longest time a file waits for its batch to commit.
    pub batch_interval: Duration,
    /// Fsync staged files and folders before committing (the default). Turning it off is only
    /// for measuring what durability costs: a power cut could then lose files the index lists.
    pub durable: bool,
}

impl Default for ImportOptions {
    fn default() -> ImportOptions {
        ImportOptions {
            project: "default".to_string(),
            workers: 0,
            batch_files: 500,
            batch_interval: Duration::from_millis(500),
            durable: true,
        }
    }
}
