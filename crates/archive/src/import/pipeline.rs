//! What the stages of an import pass each other and share: the run's context, the jobs the
//! discovery hands the workers, what a worker hands the committer, and the committed tally.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use super::options::ImportOptions;
use super::report::{ImportObserver, ImportSummary};
use crate::content_hash::HashAlgorithm;
use crate::db::RunCounts;
use crate::grouping::HeaderFacts;
use crate::store::{self, RunDir};

/// A unit of work for the workers.
pub(super) enum Job {
    /// A file on disk; `spooled` files are our own temporary copies of large zip entries.
    File {
        path: PathBuf,
        source: String,
        spooled: bool,
    },
    /// An in-memory zip entry.
    Bytes { source: String, data: Vec<u8> },
}

/// Why a file is not filed: rejected (recorded, exit code 1) or passed over (counted only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refusal {
    Rejected(String),
    Skipped(String),
}

impl From<String> for Refusal {
    fn from(reason: String) -> Refusal {
        Refusal::Rejected(reason)
    }
}

/// A worker's result, for the committer.
pub(crate) enum Prepared {
    /// A readable DICOM file with usable keys, staged at `temp` (None when the pre-check found
    /// the very same instance archived).
    Candidate {
        source: String,
        facts: Box<HeaderFacts>,
        content_hash: String,
        size: u64,
        temp: Option<PathBuf>,
    },
    /// Not usable.
    Rejected {
        source: String,
        reason: String,
        content_hash: Option<String>,
        size: Option<u64>,
    },
    /// Passed over on purpose (a DICOMDIR).
    Skipped {
        source: String,
        reason: String,
        size: u64,
    },
}

pub(crate) struct Ctx<'a> {
    pub(crate) root: &'a Path,
    /// The run's project: an archived instance is a duplicate only within it.
    pub(crate) project_id: i64,
    pub(crate) index: PathBuf,
    pub(crate) run_dir: &'a RunDir,
    pub(crate) opts: &'a ImportOptions,
    /// `opts.batch_files`, within 1 to [`MAX_BATCH_FILES`](super::MAX_BATCH_FILES).
    pub(crate) batch_files: usize,
    pub(crate) observer: &'a dyn ImportObserver,
    /// Canonical archive root, skipped when walking inputs.
    pub(crate) skip: Option<PathBuf>,
    /// The archive's content hash algorithm.
    pub(crate) hash: HashAlgorithm,
    /// Serialises the parsing of big files: one lock for every file the import (or an intake
    /// of the receiver, across its associations) prepares.
    pub(crate) big_file: &'a Mutex<()>,
    /// Stage each file durably on its own (fsync by the thread that prepared it) instead of
    /// flushing the file system once per batch: for callers filing files one at a time as they
    /// arrive (see [`crate::intake`]), where a batch holds few files and `syncfs` would also
    /// wait for every other writer of the disk.
    pub(crate) sync_each_file: bool,
}

impl Ctx<'_> {
    /// Whether workers fsync each staged file (when the batch cannot be flushed at once, or
    /// when the caller stages files one by one, see [`Ctx::sync_each_file`]).
    pub(super) fn fsync_each_file(&self) -> bool {
        self.opts.durable && (self.sync_each_file || !store::CAN_SYNC_FILESYSTEM)
    }

    /// Whether the committer flushes the whole file system before renaming a batch.
    pub(super) fn sync_batch(&self) -> bool {
        self.opts.durable && store::CAN_SYNC_FILESYSTEM && !self.sync_each_file
    }
}

/// What the committed batches of a run filed.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) counts: RunCounts,
    pub(crate) warnings: u64,
    pub(crate) bytes_seen: u64,
}

impl Tally {
    /// The run's summary: what it filed, and how fast, since `started`.
    pub(crate) fn into_summary(
        self,
        run_id: i64,
        project: &str,
        started: Instant,
    ) -> ImportSummary {
        let counts = self.counts;
        let seconds = started.elapsed().as_secs_f64();
        ImportSummary {
            run_id,
            project: project.to_string(),
            files_seen: counts.files_seen,
            imported: counts.imported,
            duplicates: counts.duplicates,
            conflicts: counts.conflicts,
            rejected: counts.rejected,
            skipped: counts.skipped,
            warnings: self.warnings,
            bytes_seen: self.bytes_seen,
            bytes_imported: counts.bytes_imported,
            seconds,
            files_per_second: if seconds > 0.0 {
                counts.files_seen as f64 / seconds
            } else {
                0.0
            },
        }
    }
}

/// Where a file's bytes come from (for accurate reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A file on disk.
    File,
    /// An entry of a zip archive.
    ZipEntry,
}

pub(super) fn reject(
    source: String,
    reason: String,
    content_hash: Option<String>,
    size: Option<u64>,
) -> Prepared {
    Prepared::Rejected {
        source,
        reason,
        content_hash,
        size,
    }
}

/// A refused file's result for the committer.
pub(super) fn refuse(
    source: String,
    refusal: Refusal,
    content_hash: Option<String>,
    size: u64,
) -> Prepared {
    match refusal {
        Refusal::Rejected(reason) => reject(source, reason, content_hash, Some(size)),
        Refusal::Skipped(reason) => Prepared::Skipped {
            source,
            reason,
            size,
        },
    }
}
