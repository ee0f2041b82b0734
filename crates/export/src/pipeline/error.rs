//! Why an export stopped, and why one archived file could not be exported. Nothing is
//! published in any of these cases.

use std::path::PathBuf;

use anon_core::AnonError;

use crate::deid_file::{DeidFileError, chain};
use crate::package::PackageError;
use crate::quarantine::QuarantineError;
use crate::stored::StoredFileError;

/// Why an export stopped. Nothing is published in any of these cases.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The archive could not be queried.
    #[error("cannot read the archive index")]
    Query(#[from] archive::QueryError),
    /// The archive's key could not be read or created.
    #[error("cannot read the archive's key")]
    Key(#[source] archive::OpenError),
    /// The destination is the archive, lies inside it, or contains it: writing (or, with
    /// `force`, replacing) it would damage the archive.
    #[error(
        "{out} overlaps the archive {archive} (it is, contains or lies inside the archive); choose a destination outside it"
    )]
    OverlapsArchive {
        /// The destination as given.
        out: PathBuf,
        /// The archive's root.
        archive: PathBuf,
    },
    /// The destination is the key file, lies inside it or contains it: writing (or, with
    /// `force`, replacing) it would destroy the key every pseudonym, UID and date offset comes
    /// from.
    #[error(
        "{out} overlaps the key file {key} (it is, contains or lies inside the key file); choose a destination that does not hold the key"
    )]
    OverlapsKeyFile {
        /// The destination as given.
        out: PathBuf,
        /// The key file as given.
        key: PathBuf,
    },
    /// The selection matched no instance.
    #[error("nothing to export: the selection matches no instance")]
    NothingSelected,
    /// Every selected series was left out for possible burned-in text.
    #[error(
        "nothing to export: all {0} selected series may carry burned-in text and are left out at this level (use --include-burned-in to export them anyway)"
    )]
    AllLeftOut(usize),
    /// Some archived files could not be read or de-identified; a package without them would
    /// silently lose data, so none is written.
    #[error("{}", describe_failures(.0))]
    Files(Vec<FileFailure>),
    /// The package could not be built or published.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// The headers of the exported subjects' other stored files could not be read, so their
    /// values could be neither cut nor searched.
    #[error(transparent)]
    StoredValues(#[from] crate::stored_values::StoredValuesError),
    /// The audit could not run.
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
    /// A package with blocking findings could not be put in quarantine (it was not
    /// published either).
    #[error("cannot put the package in quarantine")]
    Quarantine(#[from] QuarantineError),
    /// The plan of a large selection, or the regrouping check's sorted runs, could not be
    /// written to or read from their temporary file in the archive's `tmp/`.
    #[error(
        "cannot write or read the export's temporary files (plan, regrouping check) in the archive's tmp/"
    )]
    PlanFile(#[from] std::io::Error),
}

/// One archived file that could not be exported.
#[derive(Debug)]
pub struct FileFailure {
    /// The file: in the plan its archive label and stored path, in the write phase its path
    /// in the package.
    pub file: String,
    /// Why (boxed: failures travel in results of every file, which this keeps small).
    pub error: Box<FileError>,
}

impl FileFailure {
    /// Why, with every cause.
    pub fn reason(&self) -> String {
        chain(&*self.error)
    }
}

/// Why one archived file could not be exported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// Its header could not be read or de-identified in the plan.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// It could not be read, de-identified or written in the write phase.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Why the header of one archived file could not be planned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The file's subject is no longer in the index.
    #[error("subject vanished from the index")]
    SubjectVanished,
    /// The header could not be read.
    #[error(transparent)]
    Stored(#[from] StoredFileError),
    /// The engine refused the header.
    #[error(transparent)]
    Deid(#[from] AnonError),
}

/// Why one planned file could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The stored file could not be read.
    #[error(transparent)]
    Stored(#[from] StoredFileError),
    /// At `original`, the stored bytes are not those the index recorded.
    #[error("stored file does not match its {} content hash in the index ({})", algorithm.title(), path.display())]
    ContentHashMismatch {
        /// The stored file.
        path: PathBuf,
        /// The archive's content hash algorithm.
        algorithm: archive::HashAlgorithm,
    },
    /// The file's subject is no longer in the index.
    #[error("subject vanished from the index")]
    SubjectVanished,
    /// The file could not be de-identified.
    #[error(transparent)]
    Deid(#[from] DeidFileError),
    /// The de-identified file could not be parsed again to add its PatientID.
    #[error("cannot add the PatientID")]
    Reparse(#[source] DeidFileError),
    /// The file with its PatientID added could not be encoded.
    #[error("cannot encode the file with its PatientID")]
    Encode(#[source] Box<dicom_object::WriteError>),
    /// The file could not be added to the package.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// The file could not be held back in the quarantine.
    #[error(transparent)]
    Spool(#[from] QuarantineError),
}

fn describe_failures(failures: &[FileFailure]) -> String {
    match failures.first() {
        Some(f) => format!(
            "{} archived file(s) could not be exported; first: {}: {}",
            failures.len(),
            f.file,
            f.reason()
        ),
        None => "archived files could not be exported".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_failures_format_without_panicking() {
        assert_eq!(
            ExportError::Files(Vec::new()).to_string(),
            "archived files could not be exported"
        );
        let one = ExportError::Files(vec![FileFailure {
            file: "a".into(),
            error: Box::new(PlanError::SubjectVanished.into()),
        }])
        .to_string();
        assert_eq!(
            one,
            "1 archived file(s) could not be exported; first: a: subject vanished from the index"
        );
        // The reason names every cause.
        let read = FileFailure {
            file: "a".into(),
            error: Box::new(
                PlanError::Stored(crate::stored::StoredFileError::Read {
                    path: "/store/x.dcm".into(),
                    source: std::io::Error::other("b"),
                })
                .into(),
            ),
        };
        assert_eq!(read.reason(), "cannot read the stored file /store/x.dcm: b");
    }
}
