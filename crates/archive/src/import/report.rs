//! What an import tells its caller: each file's outcome as it is filed (through an
//! [`ImportObserver`]), and the run's totals.

use serde::Serialize;

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Stored and indexed.
    Imported {
        /// Subject archive code.
        subject: String,
        /// Study number.
        study_number: i64,
        /// Series label.
        series_label: String,
    },
    /// Same SOPInstanceUID and same bytes as an archived instance: not stored again.
    Duplicate,
    /// Contradicts the archive; kept apart under `conflicts/`.
    Conflict {
        /// Why.
        reason: String,
    },
    /// Not archived.
    Rejected {
        /// Why.
        reason: String,
    },
    /// Passed over on purpose: not an instance, and nothing is lost by not archiving it (a
    /// DICOMDIR, the index of a medium whose instances are imported from their own files).
    Skipped {
        /// Why.
        reason: String,
    },
}

/// One file's outcome, as reported to the observer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileOutcome {
    /// The file: its absolute path as text ([`path_text`](crate::text::path_text)); `/abs/dump.zip!/inner/path` for zip
    /// entries.
    pub source: String,
    /// Its size in bytes (0 when unreadable).
    pub bytes: u64,
    /// What happened.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Receives progress from an import. Called from several threads; every method has a default
/// that ignores the event.
pub trait ImportObserver: Sync {
    /// `files` more input files were found.
    fn discovered(&self, files: u64) {
        let _ = files;
    }
    /// A file is done (after its batch committed).
    fn file_done(&self, outcome: &FileOutcome) {
        let _ = outcome;
    }
    /// Something was done on purpose that a human should know about.
    fn warning(&self, source: &str, message: &str) {
        let _ = (source, message);
    }
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl ImportObserver for NoObserver {}

/// The totals of an import run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportSummary {
    /// The run's id (see `query rejects`, `query instances --run`).
    pub run_id: i64,
    /// The project.
    pub project: String,
    /// Files seen (every file and zip entry, including rejected ones).
    pub files_seen: u64,
    /// Instances stored.
    pub imported: u64,
    /// Files identical to an archived instance.
    pub duplicates: u64,
    /// Files kept apart as conflicts.
    pub conflicts: u64,
    /// Files rejected.
    pub rejected: u64,
    /// Files passed over on purpose (DICOMDIRs).
    pub skipped: u64,
    /// Warnings raised.
    pub warnings: u64,
    /// Bytes of all files seen.
    pub bytes_seen: u64,
    /// Bytes stored.
    pub bytes_imported: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Files seen per second.
    pub files_per_second: f64,
}

impl ImportSummary {
    /// True when every file was imported, a duplicate or skipped (exit code 0).
    pub fn is_clean(&self) -> bool {
        self.conflicts == 0 && self.rejected == 0
    }
}
