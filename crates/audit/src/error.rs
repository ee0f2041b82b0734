//! Why an audit could not run at all, and why one file could not be checked (a bad single
//! file is a finding, whose reason this tells).

use std::path::PathBuf;

/// Errors that stop an audit from running at all (a bad single file is a finding instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The package could not be read.
    #[error("cannot read package {path}")]
    Read {
        /// The package.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The zip package is damaged.
    #[error("cannot read zip package {path}")]
    Zip {
        /// The package.
        path: PathBuf,
        /// Cause.
        #[source]
        source: archive::zip_entries::ZipOpenError,
    },
    /// The search automaton could not be built.
    #[error("cannot build the value search: {0}")]
    Build(#[from] aho_corasick::BuildError),

    /// The original UIDs written to the archive's temporary folder could not be written or
    /// read back whole (see `uid_spill`, `uid_table`).
    #[error("cannot gather the original UIDs on disk")]
    UidSpill(#[source] std::io::Error),

    /// The table of original UIDs on disk could not be read during the search: the audit is
    /// incomplete, and its findings must not be believed.
    #[error("the audit's table of original UIDs could not be read: {0}")]
    UidTable(String),
}

/// Why one file could not be read as far as the audit reads it: the reason of its `unreadable`
/// finding (its raw bytes are searched all the same).
#[derive(Debug, thiserror::Error)]
pub(crate) enum FileError {
    /// The transfer syntax a data set is walked in is not one dicom-rs knows.
    #[error("transfer syntax {0} unknown")]
    UnknownTransferSyntax(String),
    /// dicom-rs's token reader refused the data set (its words are part of the reason).
    #[error("cannot parse: {0}")]
    Parse(dicom_parser::dataset::read::Error),
    /// A deflated data set does not inflate (the inflater's words are part of the reason).
    #[error("deflated data set does not inflate: {0}")]
    Inflate(std::io::Error),
    /// A deflated data set inflates beyond what its size allows.
    #[error("the deflated data set inflates beyond {limit} bytes (a decompression bomb?)")]
    InflatesBeyond {
        /// The most it may inflate to.
        limit: u64,
    },
}
