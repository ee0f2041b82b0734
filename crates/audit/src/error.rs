//! Why an audit could not run at all; a bad single file is a finding instead.

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
}
