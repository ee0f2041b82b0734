//! The archive's error types, one per operation (opening, importing, querying, reading a file's
//! facts), each variant carrying the path, tag or value it is about, so that the CLI can say what
//! went wrong without guessing. Paths are shown as [`path_text`] shows them (control characters
//! and bytes that are not UTF-8 escaped), so an error message cannot drive a terminal.

use std::path::PathBuf;

use dicom_core::Tag;

use crate::text::path_text;

/// Why an archive could not be opened (or a secret not created or read).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// A folder of the archive could not be created or read.
    #[error("cannot create or read archive folder {}", path_text(.path))]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The path exists and is not a folder.
    #[error("{} exists and is not a folder", path_text(.path))]
    NotAFolder {
        /// The path.
        path: PathBuf,
    },
    /// The folder is not empty and holds no archive index: refusing to turn it into an archive.
    #[error(
        "{} is a non-empty folder without an archive index (index.sqlite); refusing to use it as an archive",
        path_text(.path)
    )]
    NotAnArchive {
        /// The folder.
        path: PathBuf,
    },
    /// No archive exists at the path (for commands that never create one).
    #[error("no archive at {} (run `depot import` first, or pass --archive)", path_text(.path))]
    Missing {
        /// The folder.
        path: PathBuf,
    },
    /// The index database failed.
    #[error("archive index {}: {op}", path_text(.path))]
    Db {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The index does not say (or says nonsense about) how its content is hashed.
    #[error("archive index {}", path_text(.path))]
    ContentHash {
        /// The database file.
        path: PathBuf,
        /// Why.
        #[source]
        source: crate::db::ContentHashError,
    },
    /// The index was written by a newer depot.
    #[error(
        "archive index {} has schema version {found}, this depot knows up to {known}; upgrade depot",
        path_text(.path)
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// Cleaning up after an interrupted import failed.
    #[error("cannot clean up interrupted import in {}", path_text(.path))]
    Recovery {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A secret name holds characters other than letters, digits, `-` and `_`.
    #[error("invalid secret name {name:?}: use 1 to 64 letters, digits, '-' or '_'")]
    SecretName {
        /// The name asked for.
        name: String,
    },
    /// A secret file could not be created or read.
    #[error("cannot create or read secret {}", path_text(.path))]
    Secret {
        /// The key file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A secret file exists but does not hold exactly 32 bytes.
    #[error("secret {} holds {len} bytes, expected 32; refusing to use a damaged key", path_text(.path))]
    SecretDamaged {
        /// The key file.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
}

/// Why an import stopped (per-file problems are not errors: they are reported and recorded).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// An input path given on the command line does not exist.
    #[error("input {} does not exist or cannot be read", path_text(.path))]
    InputMissing {
        /// The path as given.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// No input paths were given.
    #[error("nothing to import: no input paths given")]
    NoInputs,
    /// The project name is empty or has control characters.
    #[error("invalid project name {name:?}")]
    ProjectName {
        /// The name given.
        name: String,
    },
    /// Writing to the archive failed (disk full, permissions, ...): the run stops, and the
    /// current batch is rolled back (nothing reported as imported is lost).
    #[error("cannot write to the archive at {}", path_text(.path))]
    Write {
        /// The file or folder being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The index database failed.
    #[error("archive index: {op}")]
    Db {
        /// What was being done.
        op: &'static str,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// A worker thread died (a bug: please report it).
    #[error("an import worker thread stopped unexpectedly")]
    WorkerDied,
    /// The import's threads could not be started (the system's thread limit).
    #[error("cannot start the import's threads")]
    Threads {
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Why one instance submitted to an [`crate::intake::Intake`] was not filed (per-instance
/// problems with the data, such as a truncated file, are outcomes, not errors).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntakeError {
    /// The batch holding the instance could not be filed (disk full, index failure): nothing
    /// of it was stored or indexed. The intake goes on with the next batch.
    #[error("the archive could not file the instance: {reason}")]
    Failed {
        /// The error and its causes, on one line.
        reason: String,
    },
    /// The intake has stopped (its committer is gone).
    #[error("the archive intake has stopped")]
    Closed,
    /// A received file could not be staged in the archive's temporary folder.
    #[error("cannot stage a received file at {}", path_text(.path))]
    Spool {
        /// The temporary file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The index database failed.
    #[error("archive index: {op}")]
    Db {
        /// What was being done.
        op: &'static str,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
}

/// Why a file's header cannot be filed in the archive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FactsError {
    /// A required UID is missing or empty.
    #[error("missing required {attribute} {tag}")]
    MissingUid {
        /// The attribute's keyword.
        attribute: &'static str,
        /// Its tag.
        tag: Tag,
    },
    /// A UID is not a valid UID.
    #[error("invalid {attribute} {value:?}: {reason}")]
    InvalidUid {
        /// The attribute's keyword.
        attribute: &'static str,
        /// The value (shortened, escaped).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A grouping key (PatientID, IssuerOfPatientID) cannot be stored safely.
    #[error("unusable {attribute} {value:?}: {reason}")]
    InvalidKey {
        /// The attribute's keyword.
        attribute: &'static str,
        /// The value (shortened, escaped).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}
